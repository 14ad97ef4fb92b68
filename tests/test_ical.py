"""Events to iCalendar and back: what subscribed calendar apps and harvesters see."""
import json
import re
import shutil
import subprocess
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import icalendar
import jsonschema
import pytest
import recurring_ical_events
from hypothesis import given, settings
from hypothesis import strategies as st
import vobject

import wegweiser_schema
from feeds.checks import FeedContext, check_record
from feeds.feed import Feed, event, tombstone
from feeds.ical import event_uid, read_calendar, write_calendar
from feeds.ical_write import normalised_rrule, vtimezone, zone_of

DATA = Path(__file__).parent / "data" / "ical"
JS = Path(__file__).parent / "js"
PUBLISHER = "de.lindenau.integrationsbuero"
WINDOW = (datetime(2026, 1, 1, tzinfo=timezone.utc), datetime(2027, 1, 1, tzinfo=timezone.utc))

ARABIC = ("مقهى اللغة للنساء والرجال: نلتقي كل أسبوع لنتحدث الألمانية معًا، ونتعرف على جيراننا الجدد، "
          "ونتبادل النصائح حول المدارس والعمل والسكن. الدخول مجاني ولا يلزم التسجيل المسبق؛ الأطفال مرحب بهم.")


def lindenau_feed() -> Feed:
    """A town's events covering what calendars get wrong: series with changes, all-day spans, DST, long Arabic."""
    feed = Feed.new({"id": PUBLISHER, "name": {"de": "Integrationsbüro Lindenau"}, "kind": "municipal-integration-office",
                     "town": {"name": "Lindenau"}, "license": "CC0-1.0"})
    feed.add("event", event(
        "sprachcafe-mai", updated="2026-02-01T10:00:00+01:00",
        title={"de": "Sprachcafé; Deutsch üben, gemeinsam", "tr": "Dil kafesi"},
        description={"de": "Zeile eins\nZeile zwei: Backslash \\, Komma und Semikolon;"},
        start="2026-05-07T18:00", end="2026-05-07T20:00", categories=["language-learning", "culture-and-leisure"],
        url="https://lindenau.example/sprachcafe",
        location={"location_type": "physical", "name": {"de": "Bürgerhaus Lindenau"},
                  "address": {"address_1": "Hauptstraße 5", "postal_code": "04177", "city": "Lindenau"},
                  "latitude": 51.3397, "longitude": 12.3731}))
    feed.add("event", event(
        "interkulturelle-woche", updated="2026-02-02T09:00:00Z", title={"de": "Interkulturelle Woche"},
        start="2026-09-20", end="2026-09-27", categories=["culture-and-leisure"]))
    feed.add("event", event(
        "fruehstueck", updated="2026-03-01T08:00:00Z", title={"de": "Frauenfrühstück"},
        start="2026-03-05T09:30", end="2026-03-05T11:30", categories=["women"],
        recurrence={"rrule": "FREQ=WEEKLY;BYDAY=TH;UNTIL=20260430T073000Z", "exdate": ["2026-04-02T09:30"]},
        overrides=[{"recurrence_id": "2026-04-16T09:30", "status": "cancelled"},
                   {"recurrence_id": "2026-04-23T09:30", "start": "2026-04-24T10:00", "end": "2026-04-24T12:30",
                    "title": {"de": "Frauenfrühstück (am Freitag)"}}]))
    feed.add("event", event(
        "sozialberatung", updated="2026-03-02T08:00:00Z", title={"de": "Sozialberatung"},
        start="2026-10-07T17:00", end="2026-10-07T19:00", categories=["counselling"],
        recurrence={"rrule": "FREQ=MONTHLY;BYDAY=1WE;COUNT=3"}))
    feed.add("event", event(
        "online-info", updated="2026-03-03T08:00:00Z", title={"tr": "Çevrimiçi bilgi akşamı"},
        start="2026-10-28T19:00", end="2026-10-28T20:30", timezone="Europe/Istanbul", categories=["counselling"],
        location={"location_type": "virtual", "url": "https://meet.example/info"}))
    feed.add("event", event(
        "sprachcafe-ar", updated="2026-03-04T08:00:00Z", title={"ar": "مقهى اللغة"},
        description={"ar": ARABIC * 3}, start="2026-06-11T17:00", end="2026-06-11T19:00",
        categories=["language-learning"]))
    feed.add("event", event(
        "sommerfest", updated="2026-03-05T08:00:00Z", title={"de": "Sommerfest"}, status="cancelled",
        start="2026-07-04T14:00", end="2026-07-04T18:00", categories=["culture-and-leisure"]))
    feed.add("event", event(
        "lesung", updated="2026-03-06T08:00:00Z", title={"de": "Lesung"}, status="postponed",
        start="2026-08-15", categories=["culture-and-leisure"]))
    feed.add("event", tombstone("abgesagt-und-geloescht", "2026-01-01T00:00:00Z"))
    feed.add("event", event(
        "flohmarkt", updated="2026-03-07T08:00:00Z", title={"de": "Flohmarkt"}, start="2026-05-01",
        categories=["culture-and-leisure"],
        recurrence={"rrule": "FREQ=MONTHLY;BYMONTHDAY=1;UNTIL=20260801", "exdate": ["2026-07-01"]},
        overrides=[{"recurrence_id": "2026-06-01", "start": "2026-06-02", "end": "2026-06-03"}]))
    return feed


# What the records say, worked out by hand: UTC instants for timed events (Berlin is UTC+1 until 29 March and
# from 25 October, UTC+2 in between; Istanbul is UTC+3), dates with the exclusive end for all-day events.
EXPECTED = {
    "sprachcafe-mai": [("2026-05-07T16:00:00Z", "2026-05-07T18:00:00Z", "CONFIRMED")],
    "interkulturelle-woche": [("2026-09-20", "2026-09-28", "CONFIRMED")],
    "fruehstueck": [
        ("2026-03-05T08:30:00Z", "2026-03-05T10:30:00Z", "CONFIRMED"),
        ("2026-03-12T08:30:00Z", "2026-03-12T10:30:00Z", "CONFIRMED"),
        ("2026-03-19T08:30:00Z", "2026-03-19T10:30:00Z", "CONFIRMED"),
        ("2026-03-26T08:30:00Z", "2026-03-26T10:30:00Z", "CONFIRMED"),
        ("2026-04-09T07:30:00Z", "2026-04-09T09:30:00Z", "CONFIRMED"),
        ("2026-04-16T07:30:00Z", "2026-04-16T09:30:00Z", "CANCELLED"),
        ("2026-04-24T08:00:00Z", "2026-04-24T10:30:00Z", "CONFIRMED"),
        ("2026-04-30T07:30:00Z", "2026-04-30T09:30:00Z", "CONFIRMED"),
    ],
    "sozialberatung": [
        ("2026-10-07T15:00:00Z", "2026-10-07T17:00:00Z", "CONFIRMED"),
        ("2026-11-04T16:00:00Z", "2026-11-04T18:00:00Z", "CONFIRMED"),
        ("2026-12-02T16:00:00Z", "2026-12-02T18:00:00Z", "CONFIRMED"),
    ],
    "online-info": [("2026-10-28T16:00:00Z", "2026-10-28T17:30:00Z", "CONFIRMED")],
    "sprachcafe-ar": [("2026-06-11T15:00:00Z", "2026-06-11T17:00:00Z", "CONFIRMED")],
    "sommerfest": [("2026-07-04T12:00:00Z", "2026-07-04T16:00:00Z", "CANCELLED")],
    "lesung": [("2026-08-15", "2026-08-16", "TENTATIVE")],
    "flohmarkt": [
        ("2026-05-01", "2026-05-02", "CONFIRMED"),
        ("2026-06-02", "2026-06-04", "CONFIRMED"),
        ("2026-08-01", "2026-08-02", "CONFIRMED"),
    ],
}


@pytest.fixture(scope="module")
def ics() -> bytes:
    return write_calendar(lindenau_feed(), description="Termine; Kurse, Beratung\nin Lindenau")


def moment(value: date | datetime) -> str:
    """A date as YYYY-MM-DD, a time as its UTC instant."""
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value.isoformat()


def by_local_id(found: dict[str, list]) -> dict[str, list]:
    """Occurrences keyed by the records' ids instead of UIDs, each list sorted by start."""
    ids = {event_uid(PUBLISHER, record_id): record_id for record_id in EXPECTED}
    return {ids[uid]: sorted(tuple(item) for item in items) for uid, items in found.items()}


def with_icalendar(data: bytes) -> dict[str, list]:
    """Occurrences as icalendar and recurring-ical-events expand them."""
    found: dict[str, list] = {}
    for component in recurring_ical_events.of(icalendar.Calendar.from_ical(data)).between(*WINDOW):
        found.setdefault(str(component["UID"]), []).append(
            (moment(component["DTSTART"].dt), moment(component["DTEND"].dt), str(component["STATUS"])))
    return by_local_id(found)


def with_vobject(data: bytes) -> dict[str, list]:
    """Occurrences as vobject reads them, using the file's VTIMEZONEs; changed occurrences applied by hand."""
    calendar = vobject.readOne(data.decode("utf-8"))
    masters = [vevent for vevent in calendar.vevent_list if not hasattr(vevent, "recurrence_id")]
    changes = {(vevent.uid.value, moment(vevent.recurrence_id.value)): vevent
               for vevent in calendar.vevent_list if hasattr(vevent, "recurrence_id")}
    found: dict[str, list] = {}
    for master in masters:
        start, end = master.dtstart.value, master.dtend.value
        rules = master.getrruleset(addRDate=True)
        starts = list(rules) if rules else [start]
        for occurrence in starts:
            if not isinstance(start, datetime):
                occurrence = occurrence.date() if isinstance(occurrence, datetime) else occurrence
            vevent = changes.get((master.uid.value, moment(occurrence)), master)
            if vevent is master:
                begins, ends = occurrence, occurrence + (end - start)
            else:
                begins, ends = vevent.dtstart.value, vevent.dtend.value
            found.setdefault(master.uid.value, []).append((moment(begins), moment(ends), vevent.status.value))
    return by_local_id(found)


def with_ical_js(data: bytes) -> dict[str, list]:
    """Occurrences as Mozilla ical.js (Thunderbird) expands them, run under a timeout."""
    if not (JS / "node_modules" / "ical.js").is_dir() or shutil.which("node") is None:
        pytest.skip("ical.js is not installed: run `npm ci` in tests/js (needs node)")
    window = [moment(WINDOW[0]), moment(WINDOW[1])]
    done = subprocess.run(["node", str(JS / "occurrences.mjs"), *window], input=data, capture_output=True,
                          timeout=60, check=True)
    found = json.loads(done.stdout)
    return by_local_id({uid: [(item["start"], item["end"], item["status"]) for item in items]
                        for uid, items in found.items()})


@pytest.mark.parametrize("occurrences", [with_icalendar, with_vobject, with_ical_js],
                         ids=["icalendar", "vobject", "ical.js"])
def test_every_parser_sees_the_occurrences_the_records_describe(ics, occurrences):
    assert occurrences(ics) == {record_id: sorted(items) for record_id, items in EXPECTED.items()}


def test_ical_js_reads_the_time_zone_definitions_in_the_file(ics):
    """Guards the check above: with summer time moved to April, Thunderbird's times must shift."""
    wrong_summer = ics.replace(b"DTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3",
                               b"DTSTART:19700426T020000\r\nRRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=4")
    assert wrong_summer != ics
    assert with_ical_js(wrong_summer)["fruehstueck"][4][0] == "2026-04-09T08:30:00Z"


def test_same_feed_gives_the_same_bytes_whenever_it_is_written():
    feed = lindenau_feed()
    first = write_calendar(feed)
    feed.document["updated"] = "2030-01-01T00:00:00Z"
    assert write_calendar(lindenau_feed()) == first == write_calendar(feed)


def test_writing_what_was_read_gives_the_same_bytes(ics):
    read = read_calendar(ics)
    again = Feed.new(lindenau_feed().publisher, timezone=read.timezone)
    for record in read.events:
        again.add("event", record)
    assert write_calendar(again, description="Termine; Kurse, Beratung\nin Lindenau") == ics


def calendar_view(record: dict) -> dict:
    """The record as a calendar carries it: texts in one language, the timestamp in UTC, no tombstones."""
    view = json.loads(json.dumps(record))
    for part in [view, *view.get("overrides", [])]:
        for name in ("title", "description"):
            if name in part:
                language = "de" if "de" in part[name] else next(iter(part[name]))
                part[name] = {language: part[name][language]}
    view["updated"] = datetime.fromisoformat(view["updated"]).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return view


def test_reading_back_gives_the_same_records(ics):
    read = read_calendar(ics)
    expected = [calendar_view(record) for record in lindenau_feed().events if not record.get("deleted")]
    assert read.events == expected
    assert read.problems == []
    validator = jsonschema.Draft202012Validator(wegweiser_schema.schema("event"), registry=wegweiser_schema.registry())
    assert [error.message for record in read.events for error in validator.iter_errors(record)] == []


def test_lines_are_crlf_and_folded_at_75_octets_without_splitting_characters(ics):
    assert ics.endswith(b"\r\n") and b"\n" not in ics.replace(b"\r\n", b"")
    lines = ics.split(b"\r\n")[:-1]
    assert max(len(line) for line in lines) <= 75
    for line in lines:
        line.decode("utf-8")  # a character cut in two at a fold would not decode
    assert sum(1 for line in lines if line.startswith(b" ")) > 5
    described = [component for component in icalendar.Calendar.from_ical(ics).walk("VEVENT")
                 if component.get("X-WEGWEISER-ID") == "sprachcafe-ar"]
    assert str(described[0]["DESCRIPTION"]) == ARABIC * 3
    assert described[0]["DESCRIPTION"].params["LANGUAGE"] == "ar"


def test_calendar_header_names_the_feed_and_asks_for_refreshes(ics):
    header = ics.split(b"BEGIN:VTIMEZONE")[0].decode("utf-8").split("\r\n")
    assert header[:5] == ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Wegweiser//Wegweiser 1.0//DE",
                          "CALSCALE:GREGORIAN", "METHOD:PUBLISH"]
    for line in ["NAME:Integrationsbüro Lindenau", "X-WR-CALNAME:Integrationsbüro Lindenau",
                 r"DESCRIPTION:Termine\; Kurse\, Beratung\nin Lindenau",
                 r"X-WR-CALDESC:Termine\; Kurse\, Beratung\nin Lindenau",
                 "REFRESH-INTERVAL;VALUE=DURATION:PT6H", "X-PUBLISHED-TTL:PT6H", "X-WR-TIMEZONE:Europe/Berlin"]:
        assert line in header
    assert b"REFRESH-INTERVAL;VALUE=DURATION:PT1H30M\r\n" in write_calendar(lindenau_feed(), refresh_minutes=90)


def test_every_zone_used_has_one_vtimezone_before_the_events(ics):
    text = ics.decode("utf-8")
    defined = re.findall(r"^TZID:(.+)\r$", text, re.MULTILINE)
    used = set(re.findall(r";TZID=([^:;]+)[:;]", text))
    assert defined == sorted(used) == ["Europe/Berlin", "Europe/Istanbul"]
    assert text.rindex("END:VTIMEZONE") < text.index("BEGIN:VEVENT")
    assert "TZID=UTC" not in text and "RDATE" not in text.split("BEGIN:VEVENT")[0]


@pytest.mark.parametrize("zone", ["Europe/Berlin", "Europe/London", "America/New_York", "Australia/Sydney",
                                  "America/Santiago", "Asia/Tokyo", "Europe/Istanbul"])
def test_vtimezone_gives_the_offsets_of_the_tz_database(zone):
    definition = icalendar.Calendar.from_ical(b"BEGIN:VCALENDAR\r\n" + vtimezone(zone, 2026).to_ical()
                                              + b"END:VCALENDAR\r\n").walk("VTIMEZONE")[0]
    from_file = definition.to_tz(lookup_tzid=False)
    for hour in range(0, 365 * 24, 5):
        instant = datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(hours=hour)
        assert instant.astimezone(from_file).utcoffset() == instant.astimezone(zone_of(zone)).utcoffset(), instant


def test_event_uid_is_a_stable_uuid_of_the_global_id():
    assert event_uid(PUBLISHER, "sprachcafe-mai") == "77ccc514-742a-5d1c-aa08-1e7597a8b174"
    assert event_uid(PUBLISHER, "sprachcafe-mai") != event_uid("de.auenland.kreis", "sprachcafe-mai")
    assert event_uid(PUBLISHER, "sprachcafe-mai") != event_uid(PUBLISHER, "sprachcafe-juni")


def vevent_of(ics: bytes, record_id: str) -> icalendar.Event:
    return next(component for component in icalendar.Calendar.from_ical(ics).walk("VEVENT")
                if component.get("X-WEGWEISER-ID") == record_id and "RECURRENCE-ID" not in component)


def test_timestamps_come_from_the_record_not_the_clock(ics):
    vevent = vevent_of(ics, "sprachcafe-mai")
    assert vevent["DTSTAMP"].to_ical() == vevent["LAST-MODIFIED"].to_ical() == b"20260201T090000Z"
    later = lindenau_feed()
    later.events[0]["updated"] = "2026-02-01T10:00:01+01:00"
    assert int(vevent_of(write_calendar(later), "sprachcafe-mai")["SEQUENCE"]) > int(vevent["SEQUENCE"])


def test_all_day_events_end_the_day_after_their_last_day(ics):
    week, reading = vevent_of(ics, "interkulturelle-woche"), vevent_of(ics, "lesung")
    assert (week["DTSTART"].dt, week["DTEND"].dt) == (date(2026, 9, 20), date(2026, 9, 28))
    assert (reading["DTSTART"].dt, reading["DTEND"].dt) == (date(2026, 8, 15), date(2026, 8, 16))
    assert b"DTSTART;VALUE=DATE:20260920\r\n" in ics


def test_statuses_and_texts_are_written_as_calendar_apps_expect(ics):
    assert vevent_of(ics, "sommerfest")["STATUS"] == "CANCELLED"
    assert vevent_of(ics, "lesung")["STATUS"] == "TENTATIVE"
    assert vevent_of(ics, "sprachcafe-mai")["STATUS"] == "CONFIRMED"
    assert "SUMMARY;LANGUAGE=de:Sprachcafé\\; Deutsch üben\\, gemeinsam\r\n" in ics.decode("utf-8")
    assert vevent_of(ics, "online-info")["SUMMARY"].params["LANGUAGE"] == "tr"
    assert b"Abgesagt-und-geloescht".lower() not in ics.lower()


def test_location_url_and_categories_are_written(ics):
    cafe, online = vevent_of(ics, "sprachcafe-mai"), vevent_of(ics, "online-info")
    assert str(cafe["LOCATION"]) == "Bürgerhaus Lindenau, Hauptstraße 5, 04177 Lindenau"
    assert (cafe["GEO"].latitude, cafe["GEO"].longitude) == (51.3397, 12.3731)
    assert str(cafe["URL"]) == "https://lindenau.example/sprachcafe"
    assert cafe["CATEGORIES"].cats == ["language-learning", "culture-and-leisure"]
    assert str(online["LOCATION"]) == "https://meet.example/info"


def test_until_is_made_utc_for_timed_series_and_a_date_for_all_day_ones():
    berlin = zone_of("Europe/Berlin")
    assert normalised_rrule("FREQ=WEEKLY;UNTIL=20260430;BYDAY=TH", False, berlin) == \
        "FREQ=WEEKLY;UNTIL=20260430T215959Z;BYDAY=TH"
    assert normalised_rrule("FREQ=WEEKLY;UNTIL=20260430T093000", False, berlin) == "FREQ=WEEKLY;UNTIL=20260430T073000Z"
    assert normalised_rrule("FREQ=DAILY;UNTIL=20260430T230000Z", True, berlin) == "FREQ=DAILY;UNTIL=20260501"
    assert normalised_rrule("FREQ=DAILY;COUNT=3", True, berlin) == "FREQ=DAILY;COUNT=3"


def test_an_all_day_series_with_one_timed_occurrence_gets_its_vtimezone():
    feed = Feed.new(lindenau_feed().publisher, timezone="Europe/Vienna")
    feed.add("event", event("markt", updated="2026-01-01T00:00:00Z", title={"de": "Markt"}, start="2026-02-07",
                            categories=["culture-and-leisure"], recurrence={"rrule": "FREQ=WEEKLY;COUNT=4"},
                            overrides=[{"recurrence_id": "2026-02-14", "start": "2026-02-14T16:00"}]))
    ics = write_calendar(feed)
    assert b"TZID:Europe/Vienna\r\n" in ics and b"DTSTART;TZID=Europe/Vienna:20260214T160000\r\n" in ics


def test_events_in_utc_are_written_with_z_and_no_vtimezone():
    feed = Feed.new(lindenau_feed().publisher, timezone="UTC")
    feed.add("event", event("webinar", updated="2026-01-01T00:00:00Z", title={"de": "Webinar"},
                            start="2026-02-01T18:00", end="2026-02-01T19:00", categories=["education-and-school"],
                            recurrence={"rrule": "FREQ=WEEKLY;COUNT=2"}))
    ics = write_calendar(feed)
    assert b"DTSTART:20260201T180000Z\r\n" in ics and b"VTIMEZONE" not in ics
    assert read_calendar(ics).events[0]["start"] == "2026-02-01T18:00"


# Reading calendars from elsewhere

def read(name: str, **options):
    return read_calendar((DATA / name).read_bytes(), **options)


def test_byte_order_mark_lf_lines_and_several_calendars_in_one_file():
    result = read("several_calendars_bom_lf.ics")
    assert [record["title"] for record in result.events] == [{"de": "Migrationsberatung"}, {"tr": "Kermes"}]
    assert result.name == "Migrationsberatung Lindenau"
    assert result.timezone == "Europe/Istanbul"  # the first X-WR-TIMEZONE in the file
    assert result.events[1]["start"] == "2026-03-01T11:00" and "timezone" not in result.events[1]
    assert result.events[0]["timezone"] == "Europe/Berlin"  # from /freeassociation.sourceforge.net/Tzfile/...
    assert result.lines["/events/1"] == 18 and result.lines["/events/1/start"] == 21


def test_categories_are_kept_only_where_they_name_a_topic():
    result = read("several_calendars_bom_lf.ics")
    assert result.events[0]["categories"] == ["counselling"]  # "Beratung" is the German label; "Sonstiges" is none
    assert "categories" not in result.events[1]


def test_floating_times_are_read_in_the_given_zone():
    floating = (b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:1\r\nSUMMARY:Kurs\r\n"
                b"DTSTART:20260301T100000\r\nRRULE:FREQ=WEEKLY;UNTIL=20260331T100000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    result = read_calendar(floating, timezone="Europe/Vienna")
    assert result.timezone == "Europe/Vienna"
    assert result.events[0]["start"] == "2026-03-01T10:00" and "timezone" not in result.events[0]
    assert result.events[0]["recurrence"]["rrule"] == "FREQ=WEEKLY;UNTIL=20260331T080000Z"


def test_outlook_calendar_with_windows_zone_names():
    result = read("outlook.ics")
    course = result.events[0]
    assert (course["start"], course["end"], "timezone" in course) == ("2026-03-03T18:00", "2026-03-03T19:30", False)
    assert course["recurrence"] == {"rrule": "FREQ=WEEKLY;UNTIL=20260625T160000Z;INTERVAL=1;BYDAY=TU;WKST=MO",
                                    "exdate": ["2026-04-07T18:00"]}
    assert course["overrides"] == [{"recurrence_id": "2026-04-14T18:00", "status": "cancelled"}]
    assert course["updated"] == "2026-03-01T08:00:00Z"  # the change to one occurrence counts
    assert course["location"] == {"location_type": "physical", "name": {"de": "VHS Lindenau, Raum 2.14"},
                                  "address": {"address_1": "Goethestraße 12", "postal_code": "04177",
                                              "city": "Lindenau"}}
    assert course["categories"] == ["language-learning"]
    assert course["description"] == {"de": "Anmeldung im Büro, Zimmer 3"}
    assert result.lines["/events/0/overrides/0/recurrence_id"] == 42


def test_unknown_zone_names_are_read_in_the_calendars_zone_with_a_warning():
    result = read("outlook.ics")
    office_hours = result.events[1]
    assert office_hours["start"] == "2026-03-12T14:00"
    [problem] = result.problems
    assert (problem.severity, problem.pointer, problem.line) == ("warning", "/events/1/timezone", 53)
    assert "Mitteleuropäische Zeit" in problem.message


def test_one_bad_event_does_not_stop_the_others():
    result = read("problems.ics")
    titles = [next(iter(record["title"].values())) for record in result.events]
    assert titles == ["Hausaufgabenhilfe", "Elterncafé (verschoben)", "Frühlingsfest (neu)", "Infoabend ohne UID",
                      "Bewerbungstraining"]
    no_start = [problem for problem in result.problems if problem.code == "ical-no-start"]
    assert [(problem.severity, problem.pointer, problem.line) for problem in no_start] == [("error", "", 5)]
    assert "'Termin ohne Datum' (UID 'ohne-start@lindenau.example')" in no_start[0].message


def test_a_broken_rule_keeps_the_first_date_with_a_warning():
    result = read("problems.ics")
    homework = result.events[0]
    assert "recurrence" not in homework and homework["start"] == "2026-01-05T17:00"
    [problem] = [problem for problem in result.problems if problem.code == "ical-broken-rrule"]
    assert (problem.severity, problem.pointer, problem.line) == ("warning", "/events/0/recurrence", 15)
    assert "UNTL" in problem.message


def test_changed_occurrence_without_its_series_becomes_an_event():
    parents_cafe = read("problems.ics").events[1]
    assert (parents_cafe["start"], parents_cafe["end"]) == ("2026-02-11T10:00", "2026-02-11T11:30")
    assert "overrides" not in parents_cafe and "recurrence" not in parents_cafe


def test_duplicate_uid_keeps_the_higher_sequence_and_says_so():
    result = read("problems.ics")
    assert result.events[2]["start"] == "2026-04-18"
    [problem] = [problem for problem in result.problems if problem.code == "ical-duplicate-uid"]
    assert (problem.line, problem.pointer) == (33, "")
    assert "'Frühlingsfest (alt)' (UID 'doppelt@lindenau.example')" in problem.message


def test_rdates_without_a_rule_stay_a_series():
    training = read("problems.ics").events[4]
    assert training["recurrence"] == {"rrule": "FREQ=DAILY;COUNT=1", "rdate": ["2026-06-15T09:00", "2026-06-29T09:00"]}


def test_local_ids_follow_the_id_pattern_and_stay_the_same():
    events = read("problems.ics").events
    again = read("problems.ics").events
    ids = [record["id"] for record in events]
    assert ids == [record["id"] for record in again]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._:~-]{0,127}", record_id) for record_id in ids)
    assert ids[0].startswith("kaputte-regel-lindenau.example~")
    long_uid = (b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:" + b"x/" * 100 + b"@example.org\r\nSUMMARY:Kurs\r\n"
                b"DTSTART;VALUE=DATE:20260301\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    assert len(read_calendar(long_uid).events[0]["id"]) == 128


def test_missing_timestamps_fall_back_to_a_fixed_time():
    undated = (b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:1\r\nSUMMARY:Kurs\r\nDTSTART;VALUE=DATE:20260301\r\n"
               b"END:VEVENT\r\nEND:VCALENDAR\r\n")
    [event] = read_calendar(undated).events
    assert event["updated"] == "2000-01-01T00:00:00Z"
    assert [p.code for p in check_record("event", event, FeedContext(today=date(2026, 11, 22)))] == []


@pytest.mark.parametrize("data, reason", [
    (b"", "not an iCalendar file"),
    (b"<!DOCTYPE html><html><body>Kalender</body></html>", "not an iCalendar file"),
    ("BEGIN:VCALENDAR\r\nSUMMARY:Gr\xfc\xdfe\r\n".encode("latin-1"), "not UTF-8"),
    (b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:1\r\n", "no complete calendar"),
], ids=["empty", "html", "latin-1", "cut-off"])
def test_files_that_are_no_calendar_raise_value_error_with_one_line(data, reason):
    with pytest.raises(ValueError, match=reason) as raised:
        read_calendar(data)
    assert "\n" not in str(raised.value)


def test_duration_instead_of_dtend():
    durations = (b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:kurs\r\nSUMMARY:Kurs\r\n"
                 b"DTSTART;TZID=Europe/Berlin:20260301T100000\r\nDURATION:PT90M\r\nEND:VEVENT\r\n"
                 b"BEGIN:VEVENT\r\nUID:fest\r\nSUMMARY:Fest\r\nDTSTART;VALUE=DATE:20260301\r\nDURATION:P3D\r\n"
                 b"END:VEVENT\r\nEND:VCALENDAR\r\n")
    course, festival = read_calendar(durations).events
    assert (course["start"], course["end"]) == ("2026-03-01T10:00", "2026-03-01T11:30")
    assert (festival["start"], festival["end"]) == ("2026-03-01", "2026-03-03")


def test_a_directory_calendar_with_the_same_record_id_from_two_publishers():
    directory = Feed.new(lindenau_feed().publisher)
    directory.add("event", lindenau_feed().events[0])
    ics = write_calendar(directory)
    merged = ics.replace(b"END:VCALENDAR\r\n", b"") + ics[ics.index(b"BEGIN:VEVENT"):].replace(
        b"UID:77ccc514", b"UID:11111111")
    first, second = read_calendar(merged).events
    assert first["id"] == "sprachcafe-mai" and second["id"] != first["id"]


def test_an_unreadable_line_is_skipped_with_a_warning():
    damaged = (DATA / "outlook.ics").read_bytes().replace(b"CLASS:PUBLIC", b"CLASS PUBLIC")
    result = read_calendar(damaged)
    assert len(result.events) == 2
    [problem] = [problem for problem in result.problems if problem.code == "ical-unreadable-line"]
    assert (problem.line, problem.severity, problem.pointer) == (30, "warning", "/events/0")
    assert "CLASS PUBLIC" in problem.message


def test_a_broken_time_zone_definition_does_not_lose_the_events():
    damaged = (DATA / "outlook.ics").read_bytes().replace(b"TZOFFSETTO:+0100", b"TZOFFSETTO:+01oo")
    result = read_calendar(damaged)
    assert [record["start"] for record in result.events] == ["2026-03-03T18:00", "2026-03-12T14:00"]
    assert "timezone" not in result.events[0]  # the Windows name still maps to Europe/Berlin
    [problem] = [problem for problem in result.problems if problem.code == "ical-unreadable-component"]
    assert problem.line == 6  # BEGIN:VTIMEZONE


def calendar(*lines: str) -> bytes:
    """A calendar holding the given content lines."""
    return "\r\n".join(["BEGIN:VCALENDAR", "VERSION:2.0", *lines, "END:VCALENDAR", ""]).encode("utf-8")


def course(*lines: str, start: str | None = "DTSTART;TZID=Europe/Berlin:20260302T100000",
           title: str | None = "Deutschkurs", uid: str | None = "kurs@lindenau.example") -> list[str]:
    """The lines of one VEVENT, a German course unless told otherwise, with extra lines at its end."""
    given = [line for line, value in ((f"UID:{uid}", uid), (f"SUMMARY:{title}", title), (start, start)) if value]
    return ["BEGIN:VEVENT", *given, *lines, "END:VEVENT"]


MOVED = "RECURRENCE-ID;RANGE=THISANDFUTURE;TZID=Europe/Berlin:20260309T100000"
BROKEN_ZONE = ["BEGIN:VTIMEZONE", "TZID:Lindenau", "BEGIN:STANDARD", "DTSTART:19701025T030000",
               "TZOFFSETFROM:+0200", "TZOFFSETTO:+01oo", "END:STANDARD", "END:VTIMEZONE"]

# Each problem the reader reports, with the pointer it belongs to: the field when there is one, the record
# when the field is not there, and "" for the calendar as a whole and for events that are left out.
PROBLEM_CASES = {
    "line-in-event": ("ical-unreadable-line", calendar(*course("CLASS PUBLIC")), "/events/0"),
    "line-in-header": ("ical-unreadable-line", calendar("X-WR-CALNAME Termine", *course()), ""),
    "time-zone-definition": ("ical-unreadable-component", calendar(*BROKEN_ZONE, *course()), ""),
    "calendar-zone": ("ical-unknown-timezone", calendar("X-WR-TIMEZONE:Mars/Olympus", *course()), "/timezone"),
    "event-zone": ("ical-unknown-timezone",
                   calendar(*course(start="DTSTART;TZID=Mitteleuropäische Zeit:20260302T100000")),
                   "/events/0/timezone"),
    "no-start": ("ical-no-start", calendar(*course(start=None)), ""),
    "unreadable-end": ("ical-unreadable-end", calendar(*course("DURATION:bald")), "/events/0/end"),
    "duplicate": ("ical-duplicate-uid", calendar(*course("SEQUENCE:2"), *course("SEQUENCE:1")), ""),
    "range": ("ical-range-ignored",
              calendar(*course("RRULE:FREQ=WEEKLY;COUNT=5"),
                       *course(MOVED, start="DTSTART;TZID=Europe/Berlin:20260309T110000")),
              "/events/0/overrides/0/recurrence_id"),
    "range-without-series": ("ical-range-ignored",
                             calendar(*course(MOVED, start="DTSTART;TZID=Europe/Berlin:20260309T110000")),
                             "/events/0"),
    "end-before-start": ("ical-end-before-start", calendar(*course("DTEND;TZID=Europe/Berlin:20260302T090000")),
                         "/events/0/end"),
    "several-rules": ("ical-several-rrules",
                      calendar(*course("RRULE:FREQ=WEEKLY;COUNT=5", "RRULE:FREQ=MONTHLY;COUNT=2")),
                      "/events/0/recurrence/rrule"),
    "broken-rule": ("ical-broken-rrule", calendar(*course("RRULE:FREQ=WEEKLY;UNTL=20260630")),
                    "/events/0/recurrence"),
    "count-and-until": ("ical-count-and-until",
                        calendar(*course("RRULE:FREQ=WEEKLY;COUNT=3;UNTIL=20260401T000000Z")),
                        "/events/0/recurrence/rrule"),
    "place-without-address": ("ical-location-without-address", calendar(*course("LOCATION:Gemeindesaal")),
                              "/events/0/location"),
}


def in_house_style(text: str) -> bool:
    """Worded like the validator's other messages and hints: begins in lower case, ends without a period."""
    return bool(text) and not text[0].isupper() and not text.endswith(".")


@pytest.mark.parametrize("code, data, pointer", PROBLEM_CASES.values(), ids=PROBLEM_CASES.keys())
def test_each_problem_has_its_pointer_and_the_validators_wording(code, data, pointer):
    [problem] = read_calendar(data).problems
    assert (problem.code, problem.pointer) == (code, pointer)
    assert in_house_style(problem.message), problem.message
    assert in_house_style(problem.hint), problem.hint


@pytest.mark.parametrize("case", ["no-start", "duplicate"])
def test_an_event_left_out_is_named_by_title_and_uid(case):
    _, data, _ = PROBLEM_CASES[case]
    [problem] = read_calendar(data).problems
    assert "the event 'Deutschkurs' (UID 'kurs@lindenau.example')" in problem.message


def test_an_event_left_out_without_title_or_uid_says_so():
    [untitled] = read_calendar(calendar(*course(start=None, title=None))).problems
    assert untitled.message.startswith("an event without title (UID 'kurs@lindenau.example') has no readable start")
    [anonymous] = read_calendar(calendar(*course(start=None, title=None, uid=None))).problems
    assert anonymous.message.startswith("an event without title or UID has no readable start")


DAMAGE = st.lists(st.tuples(st.integers(min_value=0), st.sampled_from(["drop", "repeat", "cut", "garble"])),
                  min_size=1, max_size=4)


@settings(max_examples=200, deadline=None)
@given(path=st.sampled_from(sorted(DATA.glob("*.ics"))), damage=DAMAGE)
def test_damaged_calendars_give_problems_or_a_value_error_never_a_crash(path, damage):
    lines = path.read_bytes().split(b"\n")
    for position, kind in damage:
        index = position % len(lines)
        if kind == "drop":
            del lines[index]
        elif kind == "repeat":
            lines.insert(index, lines[index])
        elif kind == "cut":
            lines[index] = lines[index][: len(lines[index]) // 2]
        else:
            lines[index] = lines[index].replace(b":", b";", 1).replace(b"T", b"=", 1)
    try:
        result = read_calendar(b"\n".join(lines))
    except ValueError as raised:
        assert "\n" not in str(raised)
        return
    assert all(problem.line for problem in result.problems)
