"""SQLite and PostgreSQL hold the same directory after the same harvests, record by record, and
PostgreSQL's own parts work: search with German stems, and a server restart survived."""
import json
import shutil
import threading
from datetime import datetime, timedelta, timezone

import pytest

from aggregator.fetch import Fetcher
from aggregator.harvest import harvest_all
from aggregator.sources import load_registry
from aggregator.store import Store
from tests.conftest import REPO, new_directory_url
from tests.test_store import harvest, offer, source
from webapp import create_app

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=timezone.utc)

# Columns that say how long something took, or the row's number: they may differ between runs.
RUN_DEPENDENT = {"num", "duration_ms"}


def dump(store: Store) -> dict:
    """The whole directory as plain values, keyed so that two stores can be compared row by row."""
    db = store._db
    tables = {
        "sources": ("SELECT * FROM sources", "id"),
        "entries": ("SELECT * FROM entries", "entry_id"),
        "records": ("SELECT * FROM records", "key"),
        "publishers": ("SELECT * FROM publishers", "publisher_id"),
    }
    found = {}
    for name, (sql, key) in tables.items():
        cursor = db.execute(sql)
        columns = [c[0] for c in cursor.description]
        rows = [dict(zip(columns, row)) for row in cursor.fetchall()]
        found[name] = {row[key]: {c: _plain(c, v) for c, v in row.items() if c not in RUN_DEPENDENT} for row in rows}
    for name, sql in {
        "facets": "SELECT entry_id, facet, value FROM facets",
        "merge_keys": "SELECT key, entry_id FROM merge_keys",
        "occurrences": "SELECT entry_id, start_utc, end_utc, all_day, local_date, start_local, status, recurrence_id, changes FROM occurrences",
        "rejections": "SELECT source_id, position, local_id, problems, seen_at FROM rejections",
        "posts": "SELECT * FROM posts",
        "harvest_log": "SELECT source_id, at, status, http_status, new, updated, withdrawn, rejected, failure_class, message FROM harvest_log",
    }.items():
        found[name] = sorted(tuple(_plain("", v) for v in row) for row in db.execute(sql).fetchall())
    return found


def _plain(column: str, value):
    """JSON text compared as data (key order and spacing are the database's own), the rest as is."""
    if column in ("data",) and isinstance(value, str):
        return json.loads(value)
    return value


def changed_region(tmp_path):
    """The example region with one publisher's feed changed: an offer gone, an event renamed."""
    folder = tmp_path / "region"
    shutil.copytree(REPO / "feeds" / "examples", folder)
    feed_path = folder / "bruecke-lindenau.json"
    feed = json.loads(feed_path.read_text(encoding="utf-8"))
    feed["offers"] = feed["offers"][1:]
    feed["events"][0]["title"]["de"] = feed["events"][0]["title"]["de"] + " (neuer Ort)"
    feed_path.write_text(json.dumps(feed, ensure_ascii=False), encoding="utf-8")
    return folder / "sources.toml"


@pytest.fixture
def both(request, tmp_path):
    stores = {}
    for backend in ("sqlite", "postgresql"):
        (tmp_path / backend).mkdir()
        stores[backend] = Store(new_directory_url(backend, request, tmp_path / backend))
    yield stores
    for store in stores.values():
        store.close()


def test_the_same_harvests_make_the_same_directory_on_both_backends(both, tmp_path):
    rounds = [(load_registry(REPO / "feeds" / "examples" / "sources.toml"), NOW),
              (load_registry(changed_region(tmp_path)), NOW + timedelta(hours=2))]
    for sources, now in rounds:
        for store in both.values():
            outcomes = harvest_all(store, sources, Fetcher(), workers=1, now=now)
            assert {o.status for o in outcomes} <= {"ok", "unchanged"}
        sqlite, postgresql = dump(both["sqlite"]), dump(both["postgresql"])
        for table in sqlite:
            assert sqlite[table] == postgresql[table], f"{table} differs"
    assert sqlite["entries"] and sqlite["occurrences"] and sqlite["facets"]
    withdrawn = [e for e in sqlite["entries"].values() if e["withdrawn_at"]]
    assert len(withdrawn) == 1  # the offer the second round no longer had, on both


@pytest.mark.parametrize("query", ["beratung", "fruhstuck", "frühstück", "turkce", "danismanlik", "cafe", "sprach",
                                   "deutsch", "кур", "عربي", "z"])
def test_a_search_finds_on_postgresql_what_it_finds_on_sqlite(both, query):
    for store in both.values():
        harvest_all(store, load_registry(REPO / "feeds" / "examples" / "sources.toml"), Fetcher(), workers=1, now=NOW)
    on_sqlite, on_postgresql = set(both["sqlite"].search(query)), set(both["postgresql"].search(query))
    assert on_sqlite <= on_postgresql


def test_postgresql_also_finds_other_forms_of_a_german_word(both):
    for store in both.values():
        store.register_sources([source("bruecke")])
        harvest(store, "bruecke", ("offer", offer("n", {"de": "Nähstube am Dienstag"})),
                ("offer", offer("w", {"de": "Werkstätten für Jugendliche"})))
    titles = {backend: [store.entry(i)["title"] for i in store.search("nähstuben")] for backend, store in both.items()}
    assert titles == {"sqlite": [], "postgresql": ["Nähstube am Dienstag"]}  # the plural, by its German stem
    assert [both["postgresql"].entry(i)["title"] for i in both["postgresql"].search("werkstatt jugendlichen")] == [
        "Werkstätten für Jugendliche"]


def test_the_directory_survives_a_restart_of_postgresql(postgres, tmp_path):
    url = postgres.new_database()
    store = Store(url)
    harvest_all(store, load_registry(REPO / "feeds" / "examples" / "sources.toml"), Fetcher(), workers=1, now=NOW)
    app = create_app(url, {"TESTING": True, "TODAY": NOW.date()})
    client = app.test_client()
    assert client.get("/api/v1/offers").status_code == 200
    count = len(store.entries())
    postgres.stop()
    try:
        down = client.get("/api/v1/offers?lang=en")
        assert down.status_code == 503 and down.headers["Retry-After"] == "30"
        assert "not answering right now" in down.get_json()["error"]
        page = client.get("/?lang=de")
        assert page.status_code == 503 and "antwortet gerade nicht" in page.get_data(as_text=True)
    finally:
        postgres.start()
    assert client.get("/api/v1/offers").status_code == 200  # connected again, without a restart of the app
    assert len(store.entries()) == count
    store.close()
    app.extensions["wegweiser_store"].close()


def test_harvesters_and_web_workers_starting_at_once_migrate_a_new_database_once(postgres):
    postgres.execute("CREATE DATABASE starting_at_once")
    url, problems = postgres.url("starting_at_once"), []

    def start() -> None:
        try:
            Store(url).close()
        except Exception as exc:  # collected: the assertion names it
            problems.append(repr(exc))

    threads = [threading.Thread(target=start) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert problems == []
    store = Store(url)
    scripts = len(list((REPO / "aggregator" / "migrations" / "postgresql").glob("*.sql")))
    assert store.schema_version() == scripts
    assert store._db.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == scripts
    store.close()


def test_a_read_cancelled_by_a_statement_timeout_is_not_taken_for_a_lost_connection(postgres):
    """An operator's statement_timeout bounds slow reads: the read fails once, on the same connection."""
    import psycopg

    url = postgres.new_database()
    postgres.execute(f"ALTER DATABASE {url.rsplit('/', 1)[1]} SET statement_timeout = '200ms'")
    store = Store(url)
    connection = store._db.info.backend_pid
    with psycopg.connect(url) as locker:
        locker.execute("LOCK TABLE search IN ACCESS EXCLUSIVE MODE")
        with pytest.raises(psycopg.errors.QueryCanceled):
            store.search("beratung")
    assert store._db.info.backend_pid == connection
    assert store.search("beratung") == []
    store.close()
