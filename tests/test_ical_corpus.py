"""Real calendars from Google, Outlook, Nextcloud, Thunderbird and others read into event records."""
import re
from pathlib import Path

import pytest

from feeds.ical import read_calendar

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "ical-realworld"
FILES = sorted(CORPUS.glob("*.ics")) if CORPUS.is_dir() else []
LOCAL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:~-]{0,127}$")
WALL_CLOCK = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}(:[0-9]{2})?)?$")

pytestmark = pytest.mark.skipif(not FILES, reason=f"the iCalendar corpus is not at {CORPUS}")


def read(name: str):
    return read_calendar((CORPUS / name).read_bytes())


def has_events(text: str) -> bool:
    """Whether the file holds a VEVENT with a start, the events a reader must bring out."""
    return any("DTSTART" in block for block in text.split("BEGIN:VEVENT")[1:])


@pytest.mark.parametrize("path", FILES, ids=[path.name for path in FILES])
def test_every_calendar_is_read_and_located(path):
    text = path.read_bytes().decode("utf-8-sig")
    result = read_calendar(path.read_bytes())
    assert bool(result.events) == has_events(text)
    ids = [record["id"] for record in result.events]
    assert len(set(ids)) == len(ids) and all(LOCAL_ID.match(record_id) for record_id in ids)
    lines = text.splitlines()
    for index, record in enumerate(result.events):
        assert WALL_CLOCK.match(record["start"]) and record["updated"].endswith("Z")
        assert lines[result.lines[f"/events/{index}"] - 1].upper().startswith("BEGIN:VEVENT")
        assert re.match(r"DTSTART[;:]", lines[result.lines[f"/events/{index}/start"] - 1], re.IGNORECASE)
    assert all(problem.line for problem in result.problems)
    for problem in result.problems:  # worded like the validator's other messages
        assert not problem.message[0].isupper() and not problem.message.endswith("."), problem.message
        assert not problem.hint[0].isupper() and not problem.hint.endswith("."), problem.hint


def test_all_day_event_ends_on_its_last_day():
    camp = read("issue_164_duplicated_event.ics").events[0]  # DTSTART 20240401, DTEND 20240408 (exclusive)
    assert (camp["start"], camp["end"]) == ("2024-04-01", "2024-04-07")
    single_day = read("one_day_event.ics").events[0]
    assert single_day["start"] == "2019-03-04" and "end" not in single_day


def test_all_day_event_with_a_time_as_end():
    holiday = read("issue_201_mixed_datetime_and_date.ics").events[0]  # DTEND:20230817T000000Z
    assert (holiday["start"], holiday["end"]) == ("2023-07-24", "2023-08-16")


def test_floating_times_are_read_in_the_x_wr_timezone():
    result = read("issue_86_x_wr_timezone_without_time_zone_in_dt.ics")
    assert result.timezone == "Europe/Brussels"
    match = result.events[0]
    assert (match["start"], match["end"], "timezone" in match) == ("2021-09-16T21:00", "2021-09-16T22:45", False)


def test_google_utc_times_are_shown_in_the_calendars_zone():
    result = read("x_wr_timezone_simple_events_issue_59.ics")  # DTSTART:20211222T170000Z, X-WR-TIMEZONE New York
    assert result.timezone == "America/New_York"
    assert [(record["start"], record["end"]) for record in result.events] == [
        ("2021-12-22T12:00", "2021-12-22T13:00"), ("2021-12-22T21:00", "2021-12-22T22:00")]


def test_cancelled_occurrence_of_a_series():
    series = read("issue_18_cancel_status.ics").events[0]
    assert series["recurrence"] == {"rrule": "FREQ=DAILY;COUNT=3"}
    assert series["overrides"] == [{"recurrence_id": "2020-01-29T22:00", "status": "cancelled"}]
    assert "status" not in series


def test_series_with_an_exdate_in_utc():
    series = read("each_week_but_one_deleted.ics").events[0]  # EXDATE:20190310T233000Z, DTSTART in Berlin
    assert series["start"] == "2019-03-04T00:30"
    assert series["recurrence"] == {"rrule": "FREQ=WEEKLY;COUNT=8", "exdate": ["2019-03-11T00:30"]}


def test_windows_zone_name_becomes_the_iana_zone():
    course = read("issue_107_omitting_last_event.ics").events[0]  # TZID=Pacific Standard Time
    assert course["timezone"] == "America/Los_Angeles" and course["start"] == "2023-01-05T10:00"


def test_moved_occurrence_that_became_all_day():
    series = read("recurring_events_changed_duration.ics").events[1]
    assert series["overrides"][2] == {"recurrence_id": "2019-03-10T02:00", "start": "2019-03-10"}


def test_broken_rule_is_reported_and_the_event_kept():
    result = read("bad_rrule_missing_until_event.ics")
    assert "recurrence" not in result.events[0]
    assert [(problem.code, problem.line) for problem in result.problems] == [("ical-broken-rrule", 9)]


def test_rule_with_count_and_until_is_kept_with_a_warning():
    result = read("issue_128_only_first_event.ics")
    assert "COUNT=" in result.events[0]["recurrence"]["rrule"]
    assert [problem.code for problem in result.problems] == ["ical-count-and-until"]


def test_changes_to_all_later_dates_are_reported():
    result = read("issue_75_range_parameter.ics")
    assert [(problem.pointer, problem.line) for problem in result.problems] == [
        ("/events/0/overrides/0/recurrence_id", 16), ("/events/0/overrides/2/recurrence_id", 34)]
