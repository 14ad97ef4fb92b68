// Reads an .ics from stdin the way Thunderbird does (Mozilla ical.js) and prints, as JSON, every event's
// occurrences that start between two instants: {"<UID>": [{"start", "end", "status"}, ...]}.
// Timed occurrences are UTC instants (2026-03-05T08:30:00Z), all-day ones dates (2026-05-01); "end" is null
// when the event has none. ical.js resolves TZIDs only through the file's own VTIMEZONEs, so this checks them.
// Usage: node occurrences.mjs 2026-01-01T00:00:00Z 2027-01-01T00:00:00Z < calendar.ics
import ICAL from "ical.js";

const MAX_OCCURRENCES = 10000;

function readStdin() {
  return new Promise((resolve, reject) => {
    const chunks = [];
    process.stdin.on("data", (chunk) => chunks.push(chunk));
    process.stdin.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    process.stdin.on("error", reject);
  });
}

function moment(time) {
  if (!time) return null;
  return time.isDate ? time.toString() : time.toJSDate().toISOString().replace(".000Z", "Z");
}

function occurrence(startDate, endDate, component) {
  const hasEnd = component.hasProperty("dtend") || component.hasProperty("duration") || startDate.isDate;
  return {
    start: moment(startDate),
    end: hasEnd ? moment(endDate) : null,
    status: component.getFirstPropertyValue("status"),
  };
}

function occurrencesOf(master, exceptions, from, until) {
  const event = new ICAL.Event(master, { exceptions });
  if (!event.isRecurring()) {
    return [occurrence(event.startDate, event.endDate, master)];
  }
  const found = [];
  const iterator = event.iterator();
  for (let time = iterator.next(), count = 0; time && count < MAX_OCCURRENCES; time = iterator.next(), count++) {
    const details = event.getOccurrenceDetails(time);
    if (details.startDate.compare(until) >= 0 && time.compare(until) >= 0) break;
    found.push(occurrence(details.startDate, details.endDate, details.item.component));
  }
  return found.filter((item) => item.start >= moment(from) && item.start < moment(until));
}

const [fromText, untilText] = process.argv.slice(2);
const from = ICAL.Time.fromDateTimeString(fromText);
const until = ICAL.Time.fromDateTimeString(untilText);
const calendar = new ICAL.Component(ICAL.parse(await readStdin()));
for (const zone of calendar.getAllSubcomponents("vtimezone")) {
  ICAL.TimezoneService.register(zone);
}
const events = calendar.getAllSubcomponents("vevent");
const result = {};
for (const master of events.filter((vevent) => !vevent.hasProperty("recurrence-id"))) {
  const uid = master.getFirstPropertyValue("uid");
  const exceptions = events.filter(
    (vevent) => vevent.hasProperty("recurrence-id") && vevent.getFirstPropertyValue("uid") === uid,
  );
  result[uid] = occurrencesOf(master, exceptions, from, until);
}
process.stdout.write(JSON.stringify(result, null, 1) + "\n");
