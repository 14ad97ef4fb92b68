"""Events become dates: series with excluded, cancelled and moved dates across the change to summer
time, all-day events, the window, endless rules; and the store keeping those dates in step."""
import sqlite3
from datetime import datetime, timedelta, timezone

from aggregator.occurrences import expand
from aggregator.query import Filters
from aggregator.store import Store
from tests.test_store import event, harvest, source, store  # noqa: F401  (the store fixture)

UTC = timezone.utc
BERLIN = "Europe/Berlin"

SERIES = {
    "id": "fruehstueck", "updated": "2026-11-20T09:00:00Z", "title": {"de": "Frauenfrühstück"},
    "start": "2027-03-06T10:00", "end": "2027-03-06T12:00",
    "recurrence": {"rrule": "FREQ=WEEKLY;BYDAY=SA;UNTIL=20270410T215959Z", "exdate": ["2027-03-13T10:00"]},
    "overrides": [
        {"recurrence_id": "2027-03-20T10:00", "status": "cancelled"},
        {"recurrence_id": "2027-03-27T10:00", "start": "2027-03-29T18:00", "end": "2027-03-29T20:00",
         "title": {"de": "Frauentreff am Montag"}},
    ],
}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_weekly_series_keeps_its_wall_clock_across_the_change_to_summer_time():
    found = expand(SERIES, BERLIN, at("2027-03-01T00:00"), at("2027-05-01T00:00"))
    assert [(o.start_local, o.start_utc.strftime("%d %H:%M"), o.status) for o in found] == [
        ("2027-03-06T10:00", "06 09:00", "scheduled"),
        # 13 March is excluded
        ("2027-03-20T10:00", "20 09:00", "cancelled"),       # kept, so the page can strike it through
        ("2027-03-29T18:00", "29 16:00", "scheduled"),       # moved from Saturday 27 to Monday 29, summer time
        ("2027-04-03T10:00", "03 08:00", "scheduled"),       # 10:00 in summer is 08:00 UTC
        ("2027-04-10T10:00", "10 08:00", "scheduled"),
    ]
    moved = found[2]
    assert moved.recurrence_id == "2027-03-27T10:00"
    assert moved.changes == {"title": {"de": "Frauentreff am Montag"}}
    assert moved.end_utc == at("2027-03-29T18:00")
    assert found[0].end_utc - found[0].start_utc == timedelta(hours=2)


def test_single_event_has_one_date_and_no_recurrence_id():
    [one] = expand({"id": "fest", "title": {"de": "Fest"}, "start": "2027-06-12T14:00"}, BERLIN,
                   at("2027-01-01T00:00"), at("2028-01-01T00:00"))
    assert (one.start_utc, one.end_utc, one.recurrence_id, one.all_day) == (at("2027-06-12T12:00"), None, None, False)


def test_all_day_event_over_several_days_ends_at_midnight_after_its_last_day():
    week = {"id": "ikw", "title": {"de": "Interkulturelle Woche"}, "start": "2027-09-26", "end": "2027-10-03"}
    [o] = expand(week, BERLIN, at("2027-09-30T00:00"), at("2027-10-01T00:00"))   # a window in its middle
    assert o.all_day and o.local_date == "2027-09-26" and o.start_local == "2027-09-26"
    assert (o.start_utc, o.end_utc) == (at("2027-09-25T22:00"), at("2027-10-03T22:00"))
    assert expand(week, BERLIN, at("2027-10-03T22:00"), at("2027-10-10T00:00")) == []   # from its end on
    assert expand(week, BERLIN, at("2027-09-01T00:00"), at("2027-09-25T22:00")) == []   # up to its start


def test_window_bounds_the_dates():
    found = expand(SERIES, BERLIN, at("2027-03-06T10:30"), at("2027-04-03T08:00"))
    # the first date is still running at the window's start; the 3 April one starts exactly at its end
    assert [o.start_local for o in found] == ["2027-03-06T10:00", "2027-03-20T10:00", "2027-03-29T18:00"]


def test_endless_daily_rule_costs_only_its_window_and_limit():
    daily = {"id": "offen", "title": {"de": "Offener Treff"}, "start": "2026-01-01T09:00", "recurrence": {"rrule": "FREQ=DAILY"}}
    found = expand(daily, BERLIN, at("2030-01-01T00:00"), at("2030-01-31T00:00"))
    assert [o.local_date for o in found][::29] == ["2030-01-01", "2030-01-30"] and len(found) == 30
    assert len(expand(daily, BERLIN, at("2026-01-01T00:00"), at("2099-01-01T00:00"), limit=50)) == 50
    hourly = {"id": "h", "title": {"de": "Stündlich"}, "start": "2026-01-01T09:00",
              "recurrence": {"rrule": "FREQ=HOURLY;UNTIL=20990101T000000Z"}}
    assert len(expand(hourly, BERLIN, at("2026-01-01T00:00"), at("2099-01-01T00:00"))) == 1000


def test_store_keeps_the_dates_of_an_event_and_drops_them_when_it_is_withdrawn(store):
    harvest(store, "bruecke", ("event", SERIES | {"location": event("x", "x")["location"]}), ("event", event("fest", "Fest")))
    pairs = store.occurrences_in(Filters(q="frauenfruhstuck"), at("2027-03-01T00:00"), at("2027-05-01T00:00"))
    assert [(o.start_local, o.status) for o, _ in pairs][:3] == [
        ("2027-03-06T10:00", "scheduled"), ("2027-03-20T10:00", "cancelled"), ("2027-03-29T18:00", "scheduled")]
    assert {e["title"] for _, e in pairs} == {"Frauenfrühstück"}
    harvest(store, "bruecke", ("event", event("fest", "Fest")))
    assert [e["title"] for _, e in store.occurrences_in(Filters(), at("2027-03-01T00:00"), at("2027-05-01T00:00"))] == ["Fest"]


def test_store_expands_only_the_window_around_the_harvest_and_moves_it_on(store):
    weekly = event("treff", "Offener Treff", start="2026-11-24T18:00", recurrence={"rrule": "FREQ=WEEKLY"})
    harvest(store, "bruecke", ("event", weekly))        # harvested 2026-11-22: dates up to two years ahead
    def dates(year):
        return store.occurrences_in(Filters(), at(f"{year}-01-01T00:00"), at(f"{year}-02-01T00:00"))
    assert len(dates(2027)) == 4 and dates(2031) == []
    assert store.refresh_occurrences(at("2030-06-01T00:00")) == 1
    assert len(dates(2031)) == 4 and dates(2027) == []


def test_events_stored_before_dates_were_kept_are_expanded_when_the_store_opens(tmp_path):
    path = tmp_path / "old.sqlite"
    first = Store(path)
    first.register_sources([source("bruecke")])
    harvest(first, "bruecke", ("event", event("fest", "Fest")))
    first.close()
    # make it the database of the previous version: no dates, no zone, migration 2 not applied
    db = sqlite3.connect(path)
    db.executescript("DROP TABLE occurrences; ALTER TABLE entries DROP COLUMN timezone; DELETE FROM schema_migrations WHERE version = 2;")
    db.close()
    again = Store(path)
    assert 2 in {version for (version,) in sqlite3.connect(path).execute("SELECT version FROM schema_migrations")}
    [(o, entry)] = again.occurrences_in(Filters(), at("2027-03-08T00:00"), at("2027-03-09T00:00"))
    assert (o.start_utc, entry["title"], entry["timezone"]) == (at("2027-03-08T14:00"), "Fest", BERLIN)
    again.close()
