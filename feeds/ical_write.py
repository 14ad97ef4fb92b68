"""Write a feed's events as an iCalendar subscription (RFC 5545 as Google, Outlook, Apple and Thunderbird read it).

The output depends only on the feed: DTSTAMP and LAST-MODIFIED are each record's ``updated``, never the
build time, and time zone definitions come from the tz database, so the same feed gives the same bytes.
"""
import re
import uuid
from datetime import date, datetime, time, timedelta, timezone
from functools import cache
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, Timezone, TimezoneDaylight, TimezoneStandard, vDuration, vText, vUnknown

from feeds.feed import Feed

PRODID = "-//Wegweiser//Wegweiser 1.0//DE"

# Fixed forever: changing it would give every event a new UID and duplicate it in every subscribed calendar.
UID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://w3id.org/wegweiser/event")

# Postponed events stay in calendars as tentative; a cancelled STATUS would make Google delete them.
STATUS_TO_ICAL = {"scheduled": "CONFIRMED", "cancelled": "CANCELLED", "postponed": "TENTATIVE"}

# Zones that are plain UTC: written with a trailing Z, because clients mishandle TZID=UTC.
UTC_ZONES = frozenset({
    "UTC", "Etc/UTC", "UCT", "Etc/UCT", "Universal", "Etc/Universal", "Zulu", "Etc/Zulu",
    "GMT", "Etc/GMT", "GMT0", "Etc/GMT0", "GMT+0", "Etc/GMT+0", "GMT-0", "Etc/GMT-0", "Greenwich", "Etc/Greenwich",
})

WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
UNTIL = re.compile(r"(?<![A-Z])UNTIL=([0-9]{8})(?:T([0-9]{6})(Z?))?", re.IGNORECASE)


def event_uid(publisher_id: str, local_id: str) -> str:
    """The event's UID: a name-based UUID (uuid5) of its global id, the same forever.

    A bare UUID with no "@host" suffix, as RFC 7986 §5.3 recommends: no host or personal data in it.
    """
    return str(uuid.uuid5(UID_NAMESPACE, f"{publisher_id}\n{local_id}"))


def text_in(text: dict, language: str) -> tuple[str, str]:
    """The language and wording of a text: the given language if present, else the first one written."""
    if language in text:
        return language, text[language]
    first = next(iter(text))
    return first, text[first]


def zone_of(name: str) -> timezone | ZoneInfo:
    """The tzinfo for an IANA zone name, with the UTC aliases as plain UTC."""
    return timezone.utc if name in UTC_ZONES else ZoneInfo(name)


def wall_value(value: str, zone: timezone | ZoneInfo) -> date | datetime:
    """A record's date (``YYYY-MM-DD``) or wall-clock time (``YYYY-MM-DDTHH:MM[:SS]``) placed in its zone."""
    if len(value) == 10:
        return date.fromisoformat(value)
    return datetime.fromisoformat(value).replace(tzinfo=zone)


def utc_stamp(timestamp: str) -> datetime:
    """An RFC 3339 timestamp as a whole-second UTC datetime."""
    return datetime.fromisoformat(timestamp).astimezone(timezone.utc).replace(microsecond=0)


def normalised_rrule(rrule: str, all_day: bool, zone: timezone | ZoneInfo) -> str:
    """The rule as given, with UNTIL rewritten to the type RFC 5545 demands: a DATE for all-day events, else UTC.

    Google and iPhone calendars write UNTIL as a date or a local time under a timed DTSTART; clients then drop
    or add the last occurrence, so the rule is made unambiguous here, reading a local UNTIL in the event's zone.
    """
    def rewrite(match: re.Match) -> str:
        day = date(int(match[1][:4]), int(match[1][4:6]), int(match[1][6:]))
        if match[2] is None:
            until = datetime.combine(day, time(23, 59, 59), zone)
        else:
            clock = time(int(match[2][:2]), int(match[2][2:4]), int(match[2][4:]))
            until = datetime.combine(day, clock, timezone.utc if match[3] else zone)
        if all_day:
            return f"UNTIL={until.astimezone(zone).strftime('%Y%m%d')}" if match[3] else f"UNTIL={match[1]}"
        return f"UNTIL={until.astimezone(timezone.utc).strftime('%Y%m%dT%H%M%SZ')}"

    return UNTIL.sub(rewrite, rrule)


def write_calendar(feed: Feed, *, name: str | None = None, description: str | None = None,
                   refresh_minutes: int = 360) -> bytes:
    """The .ics of the feed's events (tombstones skipped): VTIMEZONEs first, then each event and its overrides."""
    title = name or text_in(feed.publisher["name"], feed.default_language)[1]
    calendar = calendar_header(title, description, feed.timezone, refresh_minutes)
    events = [record for record in feed.events if not record.get("deleted")]
    for zone in zones_with_times(events, feed.timezone):
        calendar.add_component(vtimezone(zone, date.today().year))
    for record in events:
        for component in vevents(record, feed):
            calendar.add_component(component)
    return calendar.to_ical(sorted=False)


def calendar_header(name: str, description: str | None, zone_name: str, refresh_minutes: int = 360) -> Calendar:
    """An empty calendar with the properties subscribing apps read before the first component."""
    calendar = Calendar()
    calendar.add("version", "2.0")
    calendar.add("prodid", PRODID)
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    # vText, because icalendar leaves NAME and X- properties unescaped otherwise.
    calendar.add("name", vText(name))
    calendar.add("x-wr-calname", vText(name))
    if description:
        calendar.add("description", description)
        calendar.add("x-wr-caldesc", vText(description))
    refresh = timedelta(minutes=refresh_minutes)
    calendar.add("refresh-interval", refresh, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", vDuration(refresh))
    calendar.add("x-wr-timezone", zone_name)
    return calendar


def zones_with_times(records: list[dict], default_zone: str) -> list[str]:
    """The zones in which some record has a wall-clock time, each needing a VTIMEZONE (UTC needs none)."""
    zones = {record.get("timezone", default_zone) for record in records
             if any(len(part.get("start", "")) > 10 for part in [record, *record.get("overrides", [])])}
    return sorted(zones - UTC_ZONES)


def vevents(record: dict, feed: Feed) -> list[Event]:
    """The VEVENT of one record of a feed, followed by one VEVENT per override (same UID, RECURRENCE-ID);
    the UID comes from the publisher and the record id, the SEQUENCE from ``updated``."""
    return vevents_with(record, uid=event_uid(feed.publisher["id"], record["id"]),
                        sequence=sequence_of(record["updated"]), language=feed.default_language,
                        zone_name=record.get("timezone", feed.timezone))


def vevents_with(record: dict, *, uid: str, sequence: int, language: str, zone_name: str) -> list[Event]:
    """The VEVENT of one record and one per override, under a UID and SEQUENCE kept elsewhere (a directory
    keeps them per entry); texts in ``language`` where the record has it; times in ``zone_name``."""
    zone = zone_of(zone_name)
    start = wall_value(record["start"], zone)
    all_day = not isinstance(start, datetime)
    end = _exclusive_end(record, start, zone)
    master = _stamped(Event(), uid, record, sequence)
    _add_texts(master, record, language)
    master.add("dtstart", start)
    if end is not None:
        master.add("dtend", end)
    recurrence = record.get("recurrence")
    if recurrence:
        # Verbatim, so the rule keeps the publisher's order of parts (vRecur would reorder them).
        master.add("rrule", vUnknown(normalised_rrule(recurrence["rrule"], all_day, zone)), encode=False)
        for value in recurrence.get("rdate", []):
            master.add("rdate", like_start(wall_value(value, zone), start))
        for value in recurrence.get("exdate", []):
            master.add("exdate", like_start(wall_value(value, zone), start))
    _add_details(master, record, record, language)
    components = [master]
    for override in record.get("overrides", []):
        components.append(_override_vevent(override, record, uid, sequence, start, end, zone, language))
    return components


def _exclusive_end(record: dict, start: date | datetime, zone) -> date | datetime | None:
    """DTEND: the day after the last day for all-day events (one day when none is given), else the wall-clock end."""
    if not isinstance(start, datetime):
        last = date.fromisoformat(record.get("end", record["start"])[:10])
        return last + timedelta(days=1)
    end = wall_value(record["end"], zone) if "end" in record else None
    return end if isinstance(end, datetime) else None


def like_start(value: date | datetime, start: date | datetime) -> date | datetime:
    """A value in DTSTART's type, as RFC 5545 requires of RDATE, EXDATE and RECURRENCE-ID: a bare date
    under a timed start takes the start's time, a time under an all-day start its date."""
    if isinstance(start, datetime) and not isinstance(value, datetime):
        return datetime.combine(value, start.timetz())
    if not isinstance(start, datetime) and isinstance(value, datetime):
        return value.date()
    return value


def _stamped(component: Event, uid: str, record: dict, sequence: int) -> Event:
    """A VEVENT with UID, SEQUENCE, and DTSTAMP and LAST-MODIFIED from the record's ``updated``."""
    updated = utc_stamp(record["updated"])
    component.add("uid", uid)
    component.add("dtstamp", updated)
    component.add("last-modified", updated)
    component.add("sequence", sequence)
    return component


def sequence_of(updated: str) -> int:
    """A SEQUENCE for a record that keeps none: seconds since 2020 follow ``updated``, so it rises with
    every change and never falls."""
    return max(0, int((utc_stamp(updated) - datetime(2020, 1, 1, tzinfo=timezone.utc)).total_seconds()))


def _add_texts(component: Event, texts: dict, language: str) -> None:
    """SUMMARY and DESCRIPTION in the feed's language (or the first one present), tagged with LANGUAGE."""
    for field, prop in (("title", "summary"), ("description", "description")):
        if texts.get(field):
            tag, wording = text_in(texts[field], language)
            # Trimmed, as readers trim them: space at the ends means nothing in a calendar.
            component.add(prop, wording.strip(), parameters={"LANGUAGE": tag})


def _add_details(component: Event, part: dict, record: dict, language: str) -> None:
    """STATUS, LOCATION, GEO, URL, CATEGORIES and the record id; ``part`` is the record or one override."""
    status = part.get("status", record.get("status", "scheduled"))
    component.add("status", STATUS_TO_ICAL[status])
    location = part.get("location", record.get("location"))
    if location:
        component.add("location", location_text(location, language))
        if "latitude" in location and "longitude" in location:
            component.add("geo", (location["latitude"], location["longitude"]))
    if record.get("url"):
        component.add("url", record["url"])
    if record.get("categories"):
        component.add("categories", record["categories"])
    component.add("x-wegweiser-id", record["id"])
    if status == "postponed":
        # TENTATIVE also means "not yet confirmed", so a reader needs this to tell postponed events apart.
        component.add("x-wegweiser-status", "postponed")


def location_text(location: dict, language: str) -> str:
    """LOCATION: the join address for online events, else "name, street, postcode town"."""
    if location["location_type"] == "virtual":
        return location["url"]
    parts = [text_in(location["name"], language)[1]] if location.get("name") else []
    address = location.get("address")
    if address:
        parts += [address["address_1"], address.get("address_2", ""), f"{address['postal_code']} {address['city']}"]
    return ", ".join(part for part in parts if part)


def _override_vevent(override: dict, record: dict, uid: str, sequence: int, start, end, zone,
                     language: str) -> Event:
    """The VEVENT for one changed or cancelled occurrence; what the override leaves out comes from the series."""
    recurrence_id = like_start(wall_value(override["recurrence_id"], zone), start)
    # The start keeps its own type: one occurrence of a timed series may become all-day, and back.
    moved_start = wall_value(override["start"], zone) if "start" in override else recurrence_id
    if "end" in override:
        moved_end = wall_value(override["end"], zone)
        moved_end = moved_end + timedelta(days=1) if not isinstance(moved_end, datetime) else moved_end
    else:
        moved_end = default_override_end(moved_start, start, end)
    component = _stamped(Event(), uid, record, sequence)
    _add_texts(component, {field: override.get(field, record.get(field)) for field in ("title", "description")},
               language)
    component.add("recurrence-id", recurrence_id)
    component.add("dtstart", moved_start)
    if moved_end is not None:
        component.add("dtend", moved_end)
    _add_details(component, override, record, language)
    return component


def default_override_end(moved_start: date | datetime, start: date | datetime,
                         end: date | datetime | None) -> date | datetime | None:
    """DTEND of a changed occurrence that names no end: the series' duration, or one day when all-day."""
    if end is not None and isinstance(moved_start, datetime) == isinstance(start, datetime):
        return moved_start + (end - start)
    if not isinstance(moved_start, datetime):
        return moved_start + timedelta(days=1)
    return None


@cache
def vtimezone(name: str, year: int) -> Timezone:
    """A VTIMEZONE in RRULE form for an IANA zone, from that year's transitions in the tz database.

    RRULE form because ical.js and vobject read only the first date of a multi-value RDATE, which puts
    summer times an hour off; each transition becomes YEARLY BYMONTH/BYDAY, -1 standing for "last".
    """
    zone = ZoneInfo(name)
    component = Timezone()
    component.add("tzid", name)
    component.add("x-lic-location", name)
    transitions = _transitions(zone, year)
    if not transitions:
        moment = datetime(year, 1, 1, tzinfo=timezone.utc)
        offset = moment.astimezone(zone).utcoffset()
        component.add_component(_observance(TimezoneStandard(), datetime(1970, 1, 1), offset, offset,
                                            zone.tzname(moment.astimezone(zone)), None))
    for instant, before, after in transitions:
        local = (instant + before).replace(tzinfo=None)
        nth = -1 if local.day + 7 > _days_in_month(local.year, local.month) else (local.day - 1) // 7 + 1
        rule = {"freq": "yearly", "bymonth": local.month, "byday": f"{nth}{WEEKDAYS[local.weekday()]}"}
        onset = datetime.combine(_nth_weekday(1970, local.month, local.weekday(), nth), local.time())
        observance = TimezoneDaylight() if after > before else TimezoneStandard()
        component.add_component(_observance(observance, onset, before, after,
                                            instant.astimezone(zone).tzname(), rule))
    return component


def _observance(observance, onset: datetime, before: timedelta, after: timedelta, tzname: str, rule):
    """One STANDARD or DAYLIGHT block."""
    observance.add("tzname", tzname)
    observance.add("tzoffsetfrom", before)
    observance.add("tzoffsetto", after)
    observance.add("dtstart", onset)
    if rule:
        observance.add("rrule", rule)
    return observance


def _transitions(zone: ZoneInfo, year: int) -> list[tuple[datetime, timedelta, timedelta]]:
    """Each change of UTC offset in the year: (UTC instant, offset before, offset after), to the minute."""
    def offset(minute: int) -> timedelta:
        return (start_of_year + timedelta(minutes=minute)).astimezone(zone).utcoffset()

    start_of_year = datetime(year, 1, 1, tzinfo=timezone.utc)
    found = []
    for day in range(_days_in_year(year)):
        low, high = day * 1440, (day + 1) * 1440
        before, after = offset(low), offset(high)
        if before == after:
            continue
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (middle, high) if offset(middle) == before else (low, middle)
        found.append((start_of_year + timedelta(minutes=high), before, after))
    return found


def _days_in_year(year: int) -> int:
    return (date(year + 1, 1, 1) - date(year, 1, 1)).days


def _days_in_month(year: int, month: int) -> int:
    return ((date(year + month // 12, month % 12 + 1, 1)) - date(year, month, 1)).days


def _nth_weekday(year: int, month: int, weekday: int, nth: int) -> date:
    """The nth (or with -1 the last) given weekday of a month."""
    if nth > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (nth - 1))
    last = date(year, month, _days_in_month(year, month))
    return last - timedelta(days=(last.weekday() - weekday) % 7)
