"""The schedule: due sources leased by one harvester each, bounded by its workers, taken over when
a harvester's lease runs out, never stopped by one source; on both backends."""
import logging
import threading
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from aggregator.fetch import Fetcher
from aggregator.harvest import harvest_source
from aggregator.schedule import Harvester, build_scheduler, refresh_dates
from aggregator.sources import Source, load_registry
from aggregator.store import LeaseLost, Store
from tests.conftest import REPO

SOURCES = load_registry(REPO / "feeds" / "examples" / "sources.toml")
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=timezone.utc)
LEASE = timedelta(minutes=10)


def many_sources(count: int) -> list[Source]:
    """Sources for leasing (they share one feed, so only the first could be harvested)."""
    return [replace(SOURCES[0], id=f"quelle-{n:02d}", name=f"Quelle {n}") for n in range(count)]


@pytest.fixture
def store(db_url):
    s = Store(db_url)
    yield s
    s.close()


def wait_for(harvester: Harvester, seconds: float = 30) -> None:
    deadline = datetime.now() + timedelta(seconds=seconds)
    while harvester.running and datetime.now() < deadline:
        threading.Event().wait(0.05)
    assert not harvester.running, f"harvests still running: {harvester.running}"


def test_the_scheduler_polls_for_due_sources_renews_leases_and_moves_dates_daily(store):
    harvester = Harvester(store, SOURCES, Fetcher(), workers=3, lease=timedelta(seconds=90))
    jobs = {job.id: job for job in build_scheduler(harvester).get_jobs()}
    assert set(jobs) == {"claim", "renew", "refresh-dates"}
    assert jobs["claim"].trigger.interval == timedelta(seconds=5)
    assert jobs["renew"].trigger.interval == timedelta(seconds=30)
    assert str(jobs["refresh-dates"].trigger.fields[jobs["refresh-dates"].trigger.FIELD_NAMES.index("hour")]) == "3"
    assert {s["id"] for s in store.sources()} == {s.id for s in SOURCES}  # registered when built


def test_a_harvester_takes_no_more_sources_than_it_has_workers(store):
    sources = many_sources(5)
    store.register_sources(sources)
    assert len(store.lease_due("a", [s.id for s in sources], NOW, LEASE, 2)) == 2
    assert len(store.lease_due("b", [s.id for s in sources], NOW, LEASE, 10)) == 3
    assert store.lease_due("c", [s.id for s in sources], NOW, LEASE, 10) == []  # all held


def test_harvesters_asking_at_once_never_get_the_same_source(db_url):
    sources = many_sources(40)
    Store(db_url).register_sources(sources)
    stores = [Store(db_url) for _ in range(4)]  # a connection each, as separate processes have
    got: dict[str, list[str]] = {}
    start = threading.Barrier(len(stores))

    def take(name: str, store: Store) -> None:
        start.wait()
        got[name] = [i for _ in range(5) for i in store.lease_due(name, [s.id for s in sources], NOW, LEASE, 3)]

    threads = [threading.Thread(target=take, args=(f"h{n}", s)) for n, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    taken = [source_id for ids in got.values() for source_id in ids]
    assert len(taken) == len(set(taken)) == 40
    assert {s["id"]: s["leased_by"] for s in stores[0].sources()} == {i: name for name, ids in got.items() for i in ids}


def test_a_lease_that_ran_out_is_taken_over_and_the_old_holder_stores_nothing(store):
    [source] = many_sources(1)
    store.register_sources([source])
    assert store.lease_due("crashed", [source.id], NOW, LEASE, 1) == [source.id]
    assert store.lease_due("other", [source.id], NOW + LEASE - timedelta(seconds=1), LEASE, 1) == []
    assert store.lease_due("other", [source.id], NOW + LEASE, LEASE, 1) == [source.id]
    [taken_over] = store.harvest_log(source.id)
    assert (taken_over["status"], taken_over["harvester"]) == ("interrupted", "other")
    assert taken_over["message"].startswith("the harvester crashed stopped renewing its lease before it finished")
    with pytest.raises(LeaseLost, match="the lease of crashed ran out and other holds the source now"):
        harvest_source(store, source, Fetcher(), now=NOW, holder="crashed")
    assert store.records_of(source.id) == [] and len(store.harvest_log(source.id)) == 1
    outcome = harvest_source(store, source, Fetcher(), now=NOW, holder="other")
    assert outcome.status == "ok" and store.records_of(source.id)
    assert [(e["status"], e["harvester"]) for e in store.harvest_log(source.id)] == [("ok", "other"), ("interrupted", "other")]


def test_renewed_leases_are_not_taken_over(store):
    sources = many_sources(2)
    store.register_sources(sources)
    store.lease_due("busy", [s.id for s in sources], NOW, LEASE, 2)
    store.renew_leases("busy", [sources[0].id], NOW + LEASE + LEASE)
    later = store.lease_due("other", [s.id for s in sources], NOW + LEASE, LEASE, 2)
    assert later == [sources[1].id]


def test_harvested_sources_wait_for_their_next_check_and_leases_are_given_back(store):
    harvester = Harvester(store, SOURCES, Fetcher(), workers=2)
    store.register_sources(SOURCES)
    assert len(harvester.claim()) == 2
    wait_for(harvester)  # each finished harvest claims the next due source, until none is due
    assert all(s["status"] == "ok" and s["leased_by"] is None for s in store.sources())
    assert harvester.claim() == []  # not due again for an hour
    assert all(len(store.harvest_log(s.id)) == 1 for s in SOURCES)


def test_a_harvest_that_breaks_is_logged_and_the_schedule_goes_on(store, caplog):
    store.register_sources(SOURCES)
    harvester = Harvester(store, SOURCES, Fetcher(), workers=1)
    store.close()  # every query now fails: the harvester must survive it
    with caplog.at_level(logging.ERROR, logger="wegweiser.schedule"):
        assert harvester.claim() == []
    assert "leasing due sources failed" in caplog.text


def test_the_dates_of_events_move_on_once_a_day_among_all_harvesters(db_url, caplog):
    first, second = Store(db_url), Store(db_url)
    with caplog.at_level(logging.INFO, logger="wegweiser.schedule"):
        refresh_dates(first, NOW)
        refresh_dates(second, NOW)
        assert caplog.text.count("dates of 0 events expanded") == 1
        assert "expanded today by another harvester" in caplog.text
        refresh_dates(second, NOW + timedelta(days=1))
        assert caplog.text.count("dates of 0 events expanded") == 2
    first.close()
    with caplog.at_level(logging.ERROR, logger="wegweiser.schedule"):
        refresh_dates(first, NOW + timedelta(days=2))  # a closed store: logged, not raised
    assert "expanding the dates of events failed" in caplog.text
    second.close()
