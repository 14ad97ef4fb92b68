"""/events.ics as calendar apps subscribe to it: whole events with their rules and changed dates, the
same events and dates the directory lists, stable UIDs, cheap 304s, and the links pages offer."""
import json
import re
import shutil
import subprocess
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events
from flask import render_template_string

from aggregator.query import Filters, day_range
from aggregator.store import Store
from tests.conftest import TODAY
from tests.test_store import harvest, source
from webapp import create_app, directory
from webapp.calendar import subscribe_links

JS = Path(__file__).parent / "js"
BERLIN = ZoneInfo("Europe/Berlin")
REGION = "Wegweiser Auenland"
# Wide enough for every date of every series in the test directories; dates are then held to a list's range.
EXPANSION = (datetime(2025, 1, 1, tzinfo=timezone.utc), datetime(2030, 1, 1, tzinfo=timezone.utc))
ICAL_STATUS = {"scheduled": "CONFIRMED", "cancelled": "CANCELLED", "postponed": "TENTATIVE"}


def vevents(data: bytes) -> list[icalendar.Event]:
    return icalendar.Calendar.from_ical(data).walk("VEVENT")


def masters(data: bytes) -> dict[str, icalendar.Event]:
    """The series (or single) VEVENT of each UID, by its SUMMARY."""
    return {str(v["SUMMARY"]): v for v in vevents(data) if "RECURRENCE-ID" not in v}


# --- occurrences as the directory lists them and as each calendar parser expands them -----------------


def moment(value: date | datetime) -> str:
    """A date as YYYY-MM-DD, a time as its UTC instant."""
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value.isoformat()


def instant(text: str) -> datetime:
    """A moment as an aware datetime: a date is the midnight it starts with in Berlin."""
    if len(text) == 10:
        return datetime.combine(date.fromisoformat(text), time(), BERLIN)
    return datetime.fromisoformat(text)


def in_range(found: dict[str, list], first_day: date, last_day: date) -> dict[str, list]:
    """Occurrences that overlap the days (as the directory's lists count them), sorted; UIDs left without any dropped."""
    low, high = (datetime.fromisoformat(t) for t in day_range(first_day, last_day, "Europe/Berlin"))
    kept = {}
    for uid, items in found.items():
        inside = sorted(item for item in items if instant(item[0]) < high
                        and (instant(item[1]) > low if item[1] else instant(item[0]) >= low))
        if inside:
            kept[uid] = inside
    return kept


def listed(app, query: dict) -> dict[str, list]:
    """The dates the directory lists for a filter (the /events page's data), by the entries' UIDs."""
    found: dict[str, list] = {}
    with app.test_request_context("/events", query_string=query):
        for dated in directory.event_dates(directory.request_filters(), directory.today()):
            o = dated.occurrence
            if o.all_day:
                start = o.start_local[:10]
                end = o.end_utc.astimezone(BERLIN).date().isoformat() if o.end_utc else None
            else:
                start, end = moment(o.start_utc), moment(o.end_utc) if o.end_utc else None
            found.setdefault(dated.entry["uid"], []).append((start, end, ICAL_STATUS[o.status]))
    return {uid: sorted(items) for uid, items in found.items()}


def with_icalendar(data: bytes) -> dict[str, list]:
    """Occurrences as icalendar and recurring-ical-events expand them."""
    found: dict[str, list] = {}
    for component in recurring_ical_events.of(icalendar.Calendar.from_ical(data)).between(*EXPANSION):
        start = component["DTSTART"].dt
        end = component["DTEND"].dt if "DTEND" in component else None
        found.setdefault(str(component["UID"]), []).append(
            (moment(start), moment(end) if end is not None and end != start else None, str(component["STATUS"])))
    return found


def with_ical_js(data: bytes) -> dict[str, list]:
    """Occurrences as Mozilla ical.js (Thunderbird) expands them, run under a timeout."""
    if not (JS / "node_modules" / "ical.js").is_dir() or shutil.which("node") is None:
        pytest.skip("ical.js is not installed: run `npm ci` in tests/js (needs node)")
    done = subprocess.run(["node", str(JS / "occurrences.mjs"), *(moment(m) for m in EXPANSION)], input=data,
                          capture_output=True, timeout=60, check=True)
    return {uid: [(item["start"], item["end"], item["status"]) for item in items]
            for uid, items in json.loads(done.stdout).items()}


PARSERS = pytest.mark.parametrize("occurrences", [with_icalendar, with_ical_js], ids=["icalendar", "ical.js"])


@PARSERS
@pytest.mark.parametrize("query", [
    {}, {"town": "Espenrode"}, {"category": "culture-and-leisure"}, {"from": "2027-02-01", "to": "2027-03-31"},
    {"q": "frühstück"},
], ids=["everything", "town", "category", "dates", "search"])
def test_calendar_apps_see_the_events_and_dates_the_directory_lists(app, client, occurrences, query):
    expected = listed(app, query)
    filters = Filters.from_args(query)
    first_day, last_day = directory.event_range(filters, TODAY)
    assert expected  # an empty list on both sides would prove nothing
    assert in_range(occurrences(client.get("/events.ics", query_string=query).data), first_day, last_day) == expected


@PARSERS
def test_series_with_moved_and_cancelled_dates_reach_calendar_apps_intact(directory_app, occurrences):
    store, client = directory_app
    harvest(store, "bruecke", ("event", SPRACHCAFE), ("event", SOMMERFEST))
    data = client.get("/events.ics").data
    uid = {title: str(vevent["UID"]) for title, vevent in masters(data).items()}
    assert in_range(occurrences(data), TODAY, TODAY + timedelta(days=365)) == {
        uid["Sprachcafé"]: [
            ("2026-12-03T17:00:00Z", "2026-12-03T19:00:00Z", "CONFIRMED"),
            ("2026-12-10T17:00:00Z", "2026-12-10T19:00:00Z", "CANCELLED"),
            ("2026-12-18T16:00:00Z", "2026-12-18T18:30:00Z", "CONFIRMED"),   # moved from Thursday the 17th
            ("2027-01-07T17:00:00Z", "2027-01-07T19:00:00Z", "CONFIRMED"),   # 24 and 31 December left out
            ("2027-01-14T17:00:00Z", "2027-01-14T19:00:00Z", "CONFIRMED"),
        ],
        uid["Sommerfest"]: [("2027-07-03", "2027-07-04", "CONFIRMED")],
    }


# --- what each event looks like in the file -------------------------------------------------------------


def test_a_recurring_event_stays_one_series_with_its_rule_and_changed_dates(client):
    data = client.get("/events.ics").data
    series = [v for v in vevents(data) if str(v["SUMMARY"]) == "Frauenfrühstück"]
    [master] = [v for v in series if "RECURRENCE-ID" not in v]
    assert b"RRULE:FREQ=WEEKLY;BYDAY=SA;UNTIL=20270626T215959Z\r\n" in data   # the publisher's rule, as written
    assert [d.dt for exdate in master["EXDATE"] for d in exdate.dts] == [
        datetime(2026, 12, 26, 10, 0, tzinfo=BERLIN), datetime(2027, 1, 2, 10, 0, tzinfo=BERLIN)]
    changed = [v for v in vevents(data) if v["UID"] == master["UID"] and "RECURRENCE-ID" in v]
    assert [(v["RECURRENCE-ID"].dt, str(v["STATUS"])) for v in changed] == [
        (datetime(2027, 2, 13, 10, 0, tzinfo=BERLIN), "CANCELLED"), (datetime(2027, 3, 6, 10, 0, tzinfo=BERLIN), "CONFIRMED")]
    assert changed[1]["DTSTART"].dt == datetime(2027, 3, 8, 17, 0, tzinfo=BERLIN)
    assert b"RECURRENCE-ID;TZID=Europe/Berlin:20270213T100000\r\n" in data


def test_a_cancelled_event_stays_in_the_calendar_marked_cancelled(client):
    cancelled = [v for v in masters(client.get("/events.ics").data).values() if v["STATUS"] == "CANCELLED"]
    assert [v["DTSTART"].dt for v in cancelled] == [datetime(2027, 1, 15, 18, 0, tzinfo=BERLIN)]


def test_all_day_events_are_dates_ending_the_day_after(client):
    data = client.get("/events.ics").data
    all_day = [v for v in masters(data).values() if not isinstance(v["DTSTART"].dt, datetime)]
    assert {(v["DTSTART"].dt, v["DTEND"].dt) for v in all_day} >= {(date(2027, 5, 20), date(2027, 5, 21))}
    assert b"DTSTART;VALUE=DATE:20270520\r\nDTEND;VALUE=DATE:20270521\r\n" in data


def test_lines_end_in_crlf_and_fold_at_75_octets(client):
    data = client.get("/events.ics").data
    assert data.startswith(b"BEGIN:VCALENDAR\r\n") and data.endswith(b"END:VCALENDAR\r\n")
    assert b"\n" not in data.replace(b"\r\n", b"")
    lines = data.split(b"\r\n")[:-1]
    assert max(len(line) for line in lines) <= 75
    assert all(line.decode("utf-8") for line in lines)  # a fold through a character would not decode
    assert sum(line.startswith(b" ") for line in lines) > 10


def test_the_calendar_is_named_after_the_region_and_the_filter(client):
    data = client.get("/events.ics?category=culture-and-leisure&town=Lindenau&lang=en").data
    header = data.split(b"BEGIN:VTIMEZONE")[0].decode("utf-8").replace("\r\n ", "").split("\r\n")
    # Escaped as TEXT, the type RFC 5545 gives properties it does not define.
    assert "NAME:Wegweiser Auenland: Culture and leisure\\, Lindenau" in header
    assert "X-WR-CALNAME:Wegweiser Auenland: Culture and leisure\\, Lindenau" in header
    assert any(line.startswith("X-WR-CALDESC:") and line.endswith(
        "http://localhost/events?category=culture-and-leisure&town=Lindenau&lang=en") for line in header)
    assert {"REFRESH-INTERVAL;VALUE=DURATION:PT3H", "X-PUBLISHED-TTL:PT3H", "METHOD:PUBLISH"} <= set(header)
    german = client.get("/events.ics?category=health&category=counselling&lang=de").data
    assert b"\r\nX-WR-CALNAME:Wegweiser Auenland: Gesundheit / Beratung\r\n" in german
    assert b"\r\nX-WR-CALNAME:Wegweiser Auenland\r\n" in client.get("/events.ics").data


def test_each_zone_used_is_defined_before_the_events(client):
    text = client.get("/events.ics").data.decode("utf-8")
    assert re.findall(r"^TZID:(.+)\r$", text, re.MULTILINE) == ["Europe/Berlin"]
    assert set(re.findall(r";TZID=([^:;]+)[:;]", text)) == {"Europe/Berlin"}
    assert text.index("END:VTIMEZONE") < text.index("BEGIN:VEVENT")
    assert "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3" in text


def test_uid_sequence_and_stamps_are_the_entrys(app, client):
    data = client.get("/events.ics").data
    entries = {e["uid"]: e for e in directory_entries(app)}
    for vevent in vevents(data):
        entry = entries[str(vevent["UID"])]
        assert int(vevent["SEQUENCE"]) == entry["sequence"]
        assert vevent["DTSTAMP"].dt == vevent["LAST-MODIFIED"].dt == datetime.fromisoformat(entry["updated"])


def test_each_event_links_to_its_page_here_and_keeps_the_organisers_link(directory_app):
    store, client = directory_app
    harvest(store, "bruecke", ("event", SPRACHCAFE))
    [entry] = store.entries("event")
    vevent = masters(client.get("/events.ics?lang=tr").data)["Dil kafesi"]
    assert str(vevent["URL"]) == f"http://localhost/events/{entry['entry_id']}?lang=tr"
    assert client.get(str(vevent["URL"]).removeprefix("http://localhost")).status_code == 200
    assert str(vevent["DESCRIPTION"]).endswith("https://bruecke.example/sprachcafe")


def test_texts_come_in_the_visitors_language_where_the_feed_has_it(directory_app):
    store, client = directory_app
    harvest(store, "bruecke", ("event", SPRACHCAFE))
    turkish = masters(client.get("/events.ics", headers={"Accept-Language": "tr"}).data)
    assert turkish["Dil kafesi"]["SUMMARY"].params["LANGUAGE"] == "tr"
    arabic = masters(client.get("/events.ics?lang=ar").data)
    assert arabic["Sprachcafé"]["SUMMARY"].params["LANGUAGE"] == "de"   # no Arabic title: German, marked so


def test_markup_and_line_breaks_in_a_title_arrive_as_plain_text(directory_app):
    store, client = directory_app
    hostile = "<script>alert('x')</script><b>Fest</b>\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nSUMMARY:Fake"
    harvest(store, "bruecke", ("event", event("fest", {"de": hostile}, "2027-01-20T18:00", "2027-01-20T20:00")))
    data = client.get("/events.ics").data
    [vevent] = vevents(data)
    assert str(vevent["SUMMARY"]) == hostile.replace("\r\n", "\n")
    assert b"X-ALT-DESC" not in data and data.count(b"BEGIN:VEVENT") == 1


# --- which events, and when they change ----------------------------------------------------------------


@pytest.mark.parametrize("query, titles", [
    ({}, ["Sprachcafé", "Beratung in Espenrode", "Sommerfest"]),
    ({"category": "language-learning"}, ["Sprachcafé"]),
    ({"category": ["language-learning", "counselling"]}, ["Sprachcafé", "Beratung in Espenrode"]),
    ({"town": "Espenrode"}, ["Beratung in Espenrode"]),
    ({"q": "sommerfest"}, ["Sommerfest"]),
    ({"from": "2027-06-01", "to": "2027-08-31"}, ["Sommerfest"]),
    ({"from": "2026-11-01", "to": "2026-11-30"}, ["Herbstfest"]),
    ({"from": "2026-11-01", "to": "2026-12-05"}, ["Herbstfest", "Sprachcafé"]),
    ({"town": "Espenrode", "category": "language-learning"}, []),
])
def test_filters_choose_the_events_in_the_order_of_their_first_date(directory_app, query, titles):
    store, client = directory_app
    harvest(store, "bruecke", ("event", SPRACHCAFE), ("event", SOMMERFEST), ("event", HERBSTFEST))
    harvest(store, "stadt", ("event", BERATUNG))
    data = client.get("/events.ics", query_string=query).data
    assert [str(v["SUMMARY"]) for v in vevents(data) if "RECURRENCE-ID" not in v] == titles


def test_a_re_harvested_event_keeps_its_uid_with_a_higher_sequence(directory_app):
    store, client = directory_app
    harvest(store, "bruecke", ("event", SPRACHCAFE), now="2026-11-20T10:00:00Z")
    [before] = masters(client.get("/events.ics").data).values()
    renamed = SPRACHCAFE | {"title": {"de": "Sprachcafé international"}, "updated": "2026-11-21T09:00:00Z"}
    harvest(store, "bruecke", ("event", renamed), now="2026-11-21T10:00:00Z")
    after = masters(client.get("/events.ics").data)
    assert list(after) == ["Sprachcafé international"]
    [after] = after.values()
    assert after["UID"] == before["UID"]
    assert int(after["SEQUENCE"]) > int(before["SEQUENCE"])
    assert after["DTSTAMP"].dt == datetime(2026, 11, 21, 10, 0, tzinfo=timezone.utc) > before["DTSTAMP"].dt


def test_withdrawn_events_leave_the_calendar(directory_app):
    store, client = directory_app
    harvest(store, "bruecke", ("event", SPRACHCAFE), ("event", SOMMERFEST))
    harvest(store, "bruecke", ("event", SOMMERFEST), now="2026-11-22T11:00:00Z")
    assert list(masters(client.get("/events.ics").data)) == ["Sommerfest"]


@PARSERS
def test_a_calendar_without_events_is_still_a_calendar(directory_app, occurrences):
    _store, client = directory_app
    response = client.get("/events.ics")
    assert response.status_code == 200
    calendar = icalendar.Calendar.from_ical(response.data)
    assert calendar.walk("VEVENT") == [] and str(calendar["VERSION"]) == "2.0"
    assert occurrences(response.data) == {}


def test_a_wrong_filter_value_is_named(client):
    response = client.get("/events.ics?from=22.11.2026")
    assert response.status_code == 400
    assert "from: &#39;22.11.2026&#39; is not a date, write YYYY-MM-DD" in response.text


# --- HTTP: type, file name, conditional GET -------------------------------------------------------------


def test_served_as_an_inline_utf8_calendar_file(client):
    response = client.get("/events.ics")
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert response.headers["Content-Disposition"] == 'inline; filename="wegweiser-auenland.ics"'
    assert "Content-Encoding" not in response.headers


@pytest.mark.parametrize("validator", ["If-None-Match", "If-Modified-Since"])
def test_a_current_copy_gets_304_without_a_body(client, validator):
    first = client.get("/events.ics?town=Lindenau")
    value = first.headers["ETag"] if validator == "If-None-Match" else first.headers["Last-Modified"]
    again = client.get("/events.ics?town=Lindenau", headers={validator: value})
    assert again.status_code == 304 and again.data == b""
    assert client.get("/events.ics?town=Espenrode", headers={"If-None-Match": first.headers["ETag"]}).status_code == 200


def test_a_changed_directory_gives_the_new_calendar_with_a_new_etag(directory_app):
    store, client = directory_app
    # Two harvests on the app's today, as in life: a change is never older than the day it is made.
    harvest(store, "bruecke", ("event", SPRACHCAFE), now="2026-11-22T08:00:00Z")
    first = client.get("/events.ics")
    harvest(store, "bruecke", ("event", SPRACHCAFE), ("event", SOMMERFEST), now="2026-11-22T09:00:00Z")
    for validator, value in (("If-None-Match", first.headers["ETag"]), ("If-Modified-Since", first.headers["Last-Modified"])):
        changed = client.get("/events.ics", headers={validator: value})
        assert changed.status_code == 200 and changed.headers["ETag"] != first.headers["ETag"]
        assert list(masters(changed.data)) == ["Sprachcafé", "Sommerfest"]


# --- subscribe links ------------------------------------------------------------------------------------


def test_subscribe_links_keep_the_filter_and_language_but_not_the_page(app, client):
    with app.test_request_context("/?q=Café&category=health&category=youth&town=Lindenau&page=2&lang=tr"):
        links = subscribe_links()
    query = "q=Caf%C3%A9&category=health&category=youth&town=Lindenau&lang=tr"
    assert links.webcal == f"webcal://localhost/events.ics?{query}"
    assert links.https == f"http://localhost/events.ics?{query}"
    assert client.get(links.https.removeprefix("http://localhost")).status_code == 200


def test_subscribe_links_for_a_given_filter_and_in_every_template(app):
    with app.test_request_context("/events?lang=de"):
        given = subscribe_links(Filters.from_args({"from": "2027-01-01", "to": "2027-01-31"}))
        rendered = render_template_string("{{ subscribe_links().webcal }}")
    assert given.https == "http://localhost/events.ics?from=2027-01-01&to=2027-01-31&lang=de"
    assert rendered == "webcal://localhost/events.ics?lang=de"


def test_a_page_about_a_wrong_filter_still_offers_the_whole_calendar(app):
    with app.test_request_context("/events?from=morgen&lang=en"):
        assert subscribe_links().https == "http://localhost/events.ics?lang=en"


# --- a directory of our own -----------------------------------------------------------------------------


def event(local_id: str, title: dict, start: str, end: str | None = None, city: str = "Lindenau",
          categories: tuple = ("culture-and-leisure",), **extra) -> dict:
    record = {"id": local_id, "updated": "2026-11-20T09:00:00Z", "title": title, "start": start,
              "categories": list(categories), "location": {"location_type": "physical", "address": {
                  "address_1": "Marktstraße 4", "postal_code": "37999", "city": city}}, **extra}
    return record | ({"end": end} if end else {})


SPRACHCAFE = event(
    "sprachcafe", {"de": "Sprachcafé", "tr": "Dil kafesi"}, "2026-12-03T18:00", "2026-12-03T20:00",
    categories=("language-learning",), description={"de": "Deutsch üben bei Tee und Kuchen."},
    url="https://bruecke.example/sprachcafe",
    recurrence={"rrule": "FREQ=WEEKLY;BYDAY=TH;UNTIL=20270114T170000Z", "exdate": ["2026-12-24T18:00", "2026-12-31T18:00"]},
    overrides=[{"recurrence_id": "2026-12-10T18:00", "status": "cancelled"},
               {"recurrence_id": "2026-12-17T18:00", "start": "2026-12-18T17:00", "end": "2026-12-18T19:30"}])
SOMMERFEST = event("sommerfest", {"de": "Sommerfest"}, "2027-07-03")
HERBSTFEST = event("herbstfest", {"de": "Herbstfest"}, "2026-11-14T15:00", "2026-11-14T18:00")
BERATUNG = event("beratung", {"de": "Beratung in Espenrode"}, "2027-01-12T10:00", "2027-01-12T12:00",
                 city="Espenrode", categories=("counselling",))


@pytest.fixture
def directory_app(db_url):
    """An empty directory with two sources, and a client of the app over it: (store, client)."""
    store = Store(db_url)
    store.register_sources([source("bruecke"), source("stadt", town="Espenrode")])
    app = create_app(db_url, {"TESTING": True, "TODAY": TODAY, "REGION_NAME": REGION})
    yield store, app.test_client()
    app.extensions["wegweiser_store"].close()
    store.close()


def directory_entries(app) -> list[dict]:
    with app.app_context():
        return directory.store().entries("event")


def test_a_harvest_while_a_calendar_is_written_does_not_make_the_old_calendar_current(directory_app, monkeypatch):
    """The ETag belongs to the directory as the document was read: a harvest committing while the
    calendar is written must not label the old calendar with the new version, or subscribers would
    keep it (304) until the next change."""
    store, client = directory_app
    harvest(store, "bruecke", ("event", SPRACHCAFE))
    served = client.application.extensions["wegweiser_store"]
    read_events = served.all_found

    def harvest_meanwhile(*args, **kwargs):
        found = read_events(*args, **kwargs)
        harvest(store, "bruecke", ("event", SPRACHCAFE), ("event", SOMMERFEST), now="2026-11-22T11:00:00Z")
        return found

    monkeypatch.setattr(served, "all_found", harvest_meanwhile)
    old = client.get("/events.ics")
    monkeypatch.undo()
    assert list(masters(old.data)) == ["Sprachcafé"]
    again = client.get("/events.ics", headers={"If-None-Match": old.headers["ETag"]})
    assert again.status_code == 200 and sorted(masters(again.data)) == ["Sommerfest", "Sprachcafé"]
