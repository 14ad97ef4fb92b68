"""The directory store on a real SQLite file: merging, updates, withdrawals, the shrink guard, search."""
import sqlite3
from types import SimpleNamespace

import pytest

from aggregator.health import SourceState
from aggregator.store import AcceptedRecord, HarvestBatch, Store
from tests.conftest import REPO

NOW = "2026-11-22T10:00:00Z"


def source(sid: str, town: str = "Lindenau"):
    return SimpleNamespace(id=sid, name=sid.title(), url=f"https://{sid}.example/feed.json", kind="migrant-self-organisation",
                           town=town, ags=None)


def event(local_id: str, title: str, start: str = "2027-03-08T15:00", city: str = "Lindenau",
          street: str = "Marktstraße 4", postal: str = "37999", **extra) -> dict:
    return {"id": local_id, "updated": "2026-11-20T09:00:00Z", "title": {"de": title}, "start": start,
            "categories": ["women"], "location": {"location_type": "physical",
                                                  "address": {"address_1": street, "postal_code": postal, "city": city}}, **extra}


def offer(local_id: str, title: dict, **extra) -> dict:
    return {"id": local_id, "updated": "2026-11-20T09:00:00Z", "title": title, "status": "active",
            "categories": ["counselling"], **extra}


@pytest.fixture
def store(db_url):
    s = Store(db_url)
    s.register_sources([source("bruecke"), source("stadt"), source("kreis"), source("anderswo", town="Espenrode")])
    yield s
    s.close()


def harvest(store: Store, sid: str, *records: tuple[str, dict], tombstones=(), now: str = NOW):
    publisher = f"de.{sid}"
    batch = HarvestBatch(f"https://{sid}.example/feed.json", publisher, "Europe/Berlin",
                         [AcceptedRecord(kind, rec, f"{publisher}/{rec['id']}") for kind, rec in records],
                         tombstones=[f"{publisher}/{t}" for t in tombstones])
    state = store.source_state(sid)
    counts = store.apply_harvest(state, batch, "Lindenau", now)
    return counts, store.source_state(sid)


def test_same_event_from_two_publishers_is_one_entry_with_both_sources(store):
    harvest(store, "bruecke", ("event", event("fest", "Internationaler Frauentag – Fest")))
    harvest(store, "stadt", ("event", event("frauentag", "Internationaler Frauentag: Fest", street="Marktstr. 4")))
    [entry] = store.entries("event")
    assert [s["source_id"] for s in store.entry_sources(entry["entry_id"])] == ["bruecke", "stadt"]
    assert [p["publisher"] for p in entry["data"]["provenance"]] == ["de.bruecke", "de.stadt"]


@pytest.mark.parametrize("near_miss", [
    {"start": "2027-03-08T16:00"},                      # another hour
    {"city": "Espenrode", "street": "Marktstraße 4"},   # another town
    {"street": "Bahnhofstraße 1"},                      # another address in the same town
    {"title": "Internationaler Frauentag – Konzert"},   # another title
])
def test_near_misses_stay_apart(store, near_miss):
    harvest(store, "bruecke", ("event", event("fest", "Internationaler Frauentag – Fest")))
    near_miss = dict(near_miss)  # the parameters are shared by the runs on each backend
    other = event("frauentag", near_miss.pop("title", "Internationaler Frauentag – Fest"), **near_miss)
    harvest(store, "stadt", ("event", other))
    assert len(store.entries("event")) == 2


def test_one_publisher_listing_an_event_twice_keeps_both(store):
    harvest(store, "bruecke", ("event", event("fest", "Fest")), ("event", event("fest-kopie", "Fest")))
    assert len(store.entries("event")) == 2


def test_merged_entry_keeps_its_id_when_the_first_source_withdraws(store):
    harvest(store, "bruecke", ("event", event("fest", "Fest")), ("event", event("andere", "Anderes")))
    harvest(store, "stadt", ("event", event("fest2", "Fest")))
    [entry] = [e for e in store.entries("event") if e["title"] == "Fest"]
    harvest(store, "bruecke", ("event", event("andere", "Anderes")))
    after = store.entry(entry["entry_id"])
    assert after["withdrawn_at"] is None and after["uid"] == entry["uid"]
    assert [s["source_id"] for s in store.entry_sources(entry["entry_id"])] == ["stadt"]


def test_same_record_again_updates_in_place_and_raises_the_sequence(store):
    counts, _ = harvest(store, "bruecke", ("offer", offer("beratung", {"de": "Beratung"})))
    assert (counts.new, counts.updated) == (1, 0)
    counts, _ = harvest(store, "bruecke", ("offer", offer("beratung", {"de": "Beratung"})))
    assert (counts.new, counts.updated, counts.unchanged) == (0, 0, 1)
    [before] = store.entries("offer")
    counts, _ = harvest(store, "bruecke", ("offer", offer("beratung", {"de": "Migrationsberatung"})), now="2026-11-22T11:00:00Z")
    assert (counts.new, counts.updated) == (0, 1)
    [after] = store.entries("offer")
    assert after["entry_id"] == before["entry_id"]
    assert after["sequence"] == before["sequence"] + 1
    assert after["data"]["title"] == {"de": "Migrationsberatung"}


def test_missing_records_are_withdrawn_and_kept_as_tombstones(store):
    harvest(store, "bruecke", ("offer", offer("a", {"de": "A"})), ("offer", offer("b", {"de": "B"})))
    counts, _ = harvest(store, "bruecke", ("offer", offer("a", {"de": "A"})))
    assert counts.withdrawn == 1
    assert [e["title"] for e in store.entries("offer")] == ["A"]
    withdrawn = [e for e in store.entries("offer", include_withdrawn=True) if e["withdrawn_at"]]
    assert [e["title"] for e in withdrawn] == ["B"]


def test_explicit_tombstone_withdraws_at_once(store):
    harvest(store, "bruecke", ("offer", offer("a", {"de": "A"})), ("offer", offer("b", {"de": "B"})))
    counts, _ = harvest(store, "bruecke", ("offer", offer("a", {"de": "A"})), ("offer", offer("b", {"de": "B"})), tombstones=["b"])
    assert [e["title"] for e in store.entries("offer")] == ["A"]


def test_sudden_shrink_holds_withdrawals_until_confirmed(store):
    full = [("offer", offer(f"o{i}", {"de": f"Angebot {i}"})) for i in range(10)]
    harvest(store, "bruecke", *full)
    for confirmation in (1, 2):
        counts, state = harvest(store, "bruecke", *full[:2])
        assert (counts.withdrawn, counts.held) == (0, 8)
        assert "shrank from 10 to 2 records" in state.notice
        assert len(store.entries("offer")) == 10
    counts, state = harvest(store, "bruecke", *full[:2])
    assert counts.withdrawn == 8
    assert len(store.entries("offer")) == 2


def test_shrink_guard_resets_when_the_feed_recovers(store):
    full = [("offer", offer(f"o{i}", {"de": f"Angebot {i}"})) for i in range(10)]
    harvest(store, "bruecke", *full)
    harvest(store, "bruecke", *full[:1])
    _, state = harvest(store, "bruecke", *full)
    assert state.notice is None and state.shrink_confirmations == 0
    assert len(store.entries("offer")) == 10


@pytest.mark.parametrize("query, title", [
    ("beratung", "Migrationsberatung"),
    ("Beratung", "Schuldnerberatung"),
    ("turkce", "Türkçe danışmanlık"),
    ("danismanlik", "Türkçe danışmanlık"),
    ("fruhstuck", "Frauenfrühstück"),
    ("frühstück", "Frauenfrühstück"),
    ("sprachcafe", "Sprachcafé"),
    ("استشارة", "استشارة قانونية"),
    ("Frauen", "Frauenfrühstück"),
])
def test_search_folds_case_accents_and_finds_parts_of_compounds(store, query, title):
    titles = ["Migrationsberatung", "Schuldnerberatung", "Türkçe danışmanlık", "Frauenfrühstück", "Sprachcafé", "استشارة قانونية", "Deutschkurs"]
    harvest(store, "bruecke", *[("offer", offer(f"o{i}", {"de": t}, categories=["sport"])) for i, t in enumerate(titles)])
    found = {store.entry(e)["title"] for e in store.search(query)}
    assert title in found
    assert "Deutschkurs" not in found


def test_search_finds_labels_of_categories_in_other_languages(store):
    harvest(store, "bruecke", ("offer", offer("o", {"de": "Offene Sprechstunde"})))
    assert store.search("danışmanlık")  # the Turkish label of "counselling"


def test_migrations_run_once_and_are_versioned(tmp_path):
    path = tmp_path / "d.sqlite"
    Store(path).close()
    again = Store(path)
    scripts = len(list((REPO / "aggregator" / "migrations" / "sqlite").glob("*.sql")))
    assert again.schema_version() == scripts == 4
    assert sqlite3.connect(path).execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == scripts


def test_failed_transaction_leaves_the_old_set(store):
    harvest(store, "bruecke", ("offer", offer("a", {"de": "A"})))
    bad = offer("b", {"de": "B"})
    bad["unserialisable"] = {1, 2}  # json cannot write a set: the harvest fails mid-way
    with pytest.raises(TypeError):
        harvest(store, "bruecke", ("offer", offer("c", {"de": "C"})), ("offer", bad))
    assert [e["title"] for e in store.entries("offer")] == ["A"]
    assert SourceState("x").status == "new"


def test_an_entry_takes_town_and_kind_of_provider_from_its_own_source(store):
    harvest(store, "anderswo", ("offer", offer("o", {"de": "Sprachcafé"})))
    [entry] = store.entries("offer")
    assert entry["town"] == "Espenrode"


def test_every_write_raises_the_version_even_with_an_older_clock(store):
    before = store.version()
    harvest(store, "bruecke", ("event", event("fest", "Fest")))
    after_first = store.version()
    harvest(store, "stadt", ("event", event("markt", "Markt", start="2027-04-01T10:00")), now="2026-11-01T10:00:00Z")
    assert before < after_first < store.version()


def test_the_planners_statistics_are_refreshed_after_many_changes(store):
    """A directory a first harvest has just filled has no statistics, and searches take plans made
    blind (several times slower on PostgreSQL) until they are gathered."""
    store.analyze_after = 3
    harvest(store, "bruecke", ("offer", offer("a", {"de": "A"})), ("offer", offer("b", {"de": "B"})))
    assert not analyzed(store)
    harvest(store, "bruecke", *[("offer", offer(n, {"de": n})) for n in "abc"])
    assert analyzed(store)


def analyzed(store: Store) -> bool:
    """Whether the database holds planner statistics for the entries table."""
    db = store._db
    if isinstance(db, sqlite3.Connection):
        return bool(db.execute("SELECT name FROM sqlite_master WHERE name = 'sqlite_stat1'").fetchone()) and bool(
            db.execute("SELECT 1 FROM sqlite_stat1 WHERE tbl = 'entries'").fetchone())
    return db.execute("SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = 'entries'").fetchone()[0]
