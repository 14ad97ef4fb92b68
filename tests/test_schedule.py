"""The schedule: one job per source on its interval, bounded, never overlapping, never stopped by one source."""
import logging
from datetime import timedelta

from aggregator.fetch import Fetcher
from aggregator.schedule import build_scheduler, refresh_dates, run_due
from aggregator.sources import load_registry
from aggregator.store import Store
from tests.conftest import REPO

SOURCES = load_registry(REPO / "feeds" / "examples" / "sources.toml")


def test_one_job_per_source_on_its_interval_never_two_at_once(tmp_path):
    store = Store(tmp_path / "d.sqlite")
    scheduler = build_scheduler(store, SOURCES, Fetcher(), workers=3)
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == {s.id for s in SOURCES} | {"refresh-dates"}
    for source in SOURCES:
        trigger = jobs[source.id].trigger
        assert trigger.interval == timedelta(seconds=int(source.interval.total_seconds()))
        assert 0 < trigger.jitter <= 300
        assert jobs[source.id].max_instances == 1
    assert scheduler._executors["default"]._pool._max_workers == 3


def test_a_run_that_breaks_is_logged_and_does_not_raise(tmp_path, caplog):
    store = Store(tmp_path / "d.sqlite")
    store.register_sources(SOURCES)
    store.close()  # every query now fails: the run must survive it
    with caplog.at_level(logging.ERROR, logger="wegweiser.schedule"):
        run_due(store, SOURCES[0], Fetcher())
    assert f"{SOURCES[0].id}: the harvest failed unexpectedly" in caplog.text


def test_a_source_in_backoff_waits_for_its_next_check(tmp_path):
    store = Store(tmp_path / "d.sqlite")
    store.register_sources(SOURCES)
    run_due(store, SOURCES[0], Fetcher())
    first = store.source_state(SOURCES[0].id).last_attempt
    run_due(store, SOURCES[0], Fetcher())  # not due again for an hour
    assert store.source_state(SOURCES[0].id).last_attempt == first
    assert len(store.harvest_log(SOURCES[0].id)) == 1


def test_the_dates_of_events_move_on_once_a_day(tmp_path, caplog):
    store = Store(tmp_path / "d.sqlite")
    job = {job.id: job for job in build_scheduler(store, SOURCES, Fetcher(), workers=1).get_jobs()}["refresh-dates"]
    assert str(job.trigger.fields[job.trigger.FIELD_NAMES.index("hour")]) == "3"
    with caplog.at_level(logging.INFO, logger="wegweiser.schedule"):
        refresh_dates(store)
    assert "dates of 0 events expanded" in caplog.text
    store.close()
    with caplog.at_level(logging.ERROR, logger="wegweiser.schedule"):
        refresh_dates(store)  # a closed store: logged, not raised
    assert "expanding the dates of events failed" in caplog.text
