"""The directory's storage: every SQL statement of the aggregator lives here.

One store interface over SQLite (the embedded default: one file, WAL) and PostgreSQL (for several
harvester processes and web workers); aggregator/backends.py holds the little that differs.
Writes run in one transaction each, so readers see the old set or the new one; reads run in a
snapshot of their own. Migrations are numbered SQL files under migrations/<backend>/.
"""
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache, lru_cache, wraps
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import wegweiser_schema
from aggregator import merge
from aggregator.backends import DATABASE_ERRORS, backend_for
from aggregator.occurrences import HORIZON, PAST, ExpansionError, Occurrence, expand, window_around
from aggregator.query import FACETS, REGION_TIMEZONE, Filters, Found, day_range, page_bounds, utc_text
from aggregator.health import SourceState, stamp
from feeds.ical import event_uid

SHRINK_RATIO = 0.5          # a harvest with fewer than half the records of the last one is suspicious
SHRINK_MINIMUM = 4          # small feeds may halve by themselves
SHRINK_CONFIRMATIONS = 3    # harvests in a row with the smaller set before its withdrawals go through


@dataclass(frozen=True)
class AcceptedRecord:
    """A valid record as a source published it, with the ids it is known by."""

    kind: str
    record: dict
    global_id: str


@dataclass(frozen=True)
class Rejection:
    """A record left out of the directory, with where it was and why."""

    position: str
    local_id: str | None
    problems: list[dict]


@dataclass
class HarvestBatch:
    """Everything one good harvest of a source brings, to be stored in one transaction."""

    feed_url: str
    publisher_id: str
    default_timezone: str
    records: list[AcceptedRecord] = field(default_factory=list)
    tombstones: list[str] = field(default_factory=list)        # global ids withdrawn by the publisher
    kept: list[str] = field(default_factory=list)              # global ids of rejected records: their last good version stays
    rejections: list[Rejection] = field(default_factory=list)
    posts: list[dict] = field(default_factory=list)


@dataclass
class HarvestCounts:
    """What a harvest changed, for the summary table and the health page."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    withdrawn: int = 0
    rejected: int = 0
    held: int = 0            # withdrawals held back by the shrink guard


def _reading(method):
    """Run a read in one snapshot (a find's count, page and facets agree) under the store's lock:
    the harvest's threads share one connection, and a read between another thread's BEGIN and
    COMMIT would see (or lose, on ROLLBACK) its half-done work. A read that finds the database's
    connection gone (PostgreSQL restarted) connects again and is tried once more."""
    @wraps(method)
    def reading(self, *args, **kwargs):
        with self._lock:
            if self._depth:
                return method(self, *args, **kwargs)
            try:
                with self._snapshot():
                    return method(self, *args, **kwargs)
            except self._backend.disconnects:
                if self._closed or not self._backend.is_broken(self._db):
                    raise  # a statement cancelled or timed out: the connection is fine, and the read not to repeat
                self._reconnect()
                with self._snapshot():
                    return method(self, *args, **kwargs)
    return reading


class LeaseLost(Exception):
    """Another harvester has taken the source over: this one's lease ran out before it wrote."""


def _rows(cursor) -> list[dict]:
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


class Store:
    """The directory in a database: SQLite or PostgreSQL."""

    def __init__(self, url: str | Path):
        self._backend = backend_for(url)
        self._lock = threading.RLock()
        self._depth = 0          # > 0 inside a transaction or snapshot of this store's connection
        self._closed = False     # closed by its owner: never connected again
        self._unanalyzed = 0     # records changed since the planner's statistics were refreshed
        self._db = self._backend.connect()
        self._versioned = False  # writes raise the version once its table exists (after the migrations)
        self.migrate()

    @classmethod
    def open(cls, url: str) -> "Store":
        """A store from a database URL: ``sqlite:///path/to/file.sqlite``, a plain path, or
        ``postgresql://user:password@host:port/database``."""
        return cls(url)

    def describe(self) -> str:
        """Where the directory is, for messages (a PostgreSQL URL without its password)."""
        return self._backend.describe()

    def close(self) -> None:
        self._closed = True
        self._db.close()

    def _q(self, statement: str, args=()):
        return self._db.execute(self._backend.sql(statement), list(args))

    def _many(self, statement: str, rows: list) -> None:
        if rows:
            self._db.cursor().executemany(self._backend.sql(statement), rows)

    def _reconnect(self) -> None:
        try:
            self._db.close()
        except DATABASE_ERRORS:
            pass  # it is gone already
        self._db = self._backend.connect()

    def _ensure_connected(self) -> None:
        """Connect again if the last statement found the server gone (a restart, a failover)."""
        if self._backend.is_broken(self._db) and not self._closed:
            self._reconnect()

    # --- schema ---------------------------------------------------------------------

    def migrate(self) -> None:
        """Apply every migration not applied yet, each in its own transaction; a store opening a
        directory that is up to date (every web worker, every harvester) takes no lock for it."""
        with self._lock:
            applied = self._migrations_applied()
            for script in self._backend.migrations():
                version = int(script.name.split("_", 1)[0])
                if version in applied:
                    continue
                with self._transaction(versioned=False, exclusive=False):
                    self._backend.lock_migrations(self._db)
                    self._q("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied TEXT NOT NULL)")
                    if self._q("SELECT 1 FROM schema_migrations WHERE version = ?", (version,)).fetchone():
                        continue  # applied before, or by another process meanwhile
                    self._backend.run_script(self._db, script.read_text(encoding="utf-8"))
                    self._q("INSERT INTO schema_migrations VALUES (?, ?)", (version, datetime.now(timezone.utc).isoformat()))
        self._versioned = True
        self._expand_unexpanded_events()

    def _migrations_applied(self) -> set[int]:
        """The versions applied so far; none in a new database (no table of them yet)."""
        try:
            return {row[0] for row in self._q("SELECT version FROM schema_migrations")}
        except DATABASE_ERRORS:
            return set()

    @_reading
    def schema_version(self) -> int:
        return self._q("SELECT max(version) FROM schema_migrations").fetchone()[0] or 0

    @contextmanager
    def _transaction(self, *, versioned: bool = True, exclusive: bool = True) -> Iterator[None]:
        """One write transaction. ``versioned``: it changes what readers see, so the directory's
        version goes up; ``exclusive``: it takes the directory's write lock (on SQLite every write
        does), else only the rows it locks itself (leases)."""
        with self._lock, self._within(lambda: self._backend.begin_write(self._db, exclusive=exclusive)):
            yield
            if versioned and self._versioned:
                self._q("UPDATE directory_version SET version = version + 1")

    @contextmanager
    def _snapshot(self) -> Iterator[None]:
        """One read-only snapshot of the directory."""
        with self._within(lambda: self._backend.begin_read(self._db)):
            yield

    @contextmanager
    def _within(self, begin) -> Iterator[None]:
        """Begin, run the body and COMMIT, or ROLLBACK if it raises."""
        if self._depth == 0:
            self._ensure_connected()
        begin()
        self._depth += 1
        try:
            yield
        except BaseException:
            self._rollback()
            raise
        finally:
            self._depth -= 1
        self._q("COMMIT")

    def _rollback(self) -> None:
        """Roll back, unless the connection is gone (then the server has rolled back already)."""
        try:
            self._q("ROLLBACK")
        except DATABASE_ERRORS:
            pass  # lost with the connection; the next use connects again

    # --- sources and their health ----------------------------------------------------

    def register_sources(self, sources) -> None:
        """Insert or update the registry's sources, keeping their harvest state."""
        with self._transaction():
            for s in sources:
                self._q(
                    "INSERT INTO sources (id, name, url, kind, town, ags) VALUES (?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT(id) DO UPDATE SET name = excluded.name, url = excluded.url, kind = excluded.kind, "
                    "town = excluded.town, ags = excluded.ags",
                    (s.id, s.name, s.url, s.kind, s.town, s.ags))

    def retire_sources(self, registered: set[str], now: str) -> list[str]:
        """Withdraw the records of sources no longer in the registry and mark them retired; their
        entries stay as tombstones, or go on with the sources that still publish them."""
        with self._transaction():
            gone = [row[0] for row in self._q("SELECT id FROM sources WHERE status != 'retired' ORDER BY id")
                    if row[0] not in registered]
            for source_id in gone:
                touched = self._q(
                    "SELECT DISTINCT r.entry_id, coalesce(e.timezone, 'Europe/Berlin') FROM records r "
                    "JOIN entries e ON e.entry_id = r.entry_id WHERE r.source_id = ? AND r.withdrawn_at IS NULL", (source_id,)).fetchall()
                self._q("UPDATE records SET withdrawn_at = ? WHERE source_id = ? AND withdrawn_at IS NULL", (now, source_id))
                for entry_id, zone in touched:
                    self._refresh_entry(entry_id, zone, now)
                self._q("UPDATE sources SET status = 'retired', next_check = NULL, notice = ? WHERE id = ?",
                                 (f"removed from the registry on {now[:10]}: its records were withdrawn", source_id))
        return gone

    @_reading
    def source_state(self, source_id: str) -> SourceState:
        """The harvest state recorded on a source."""
        row = _rows(self._q("SELECT * FROM sources WHERE id = ?", (source_id,)))
        if not row:
            raise KeyError(f"no source {source_id!r} in the store")
        known = {f.name for f in fields(SourceState)}
        return SourceState(**{k: v for k, v in row[0].items() if k in known})

    @_reading
    def sources(self) -> list[dict]:
        """Every source with its health, for the health page."""
        return _rows(self._q("SELECT * FROM sources ORDER BY id"))

    def save_state(self, state: SourceState, log_message: str = "", counts: HarvestCounts | None = None,
                   *, holder: str | None = None) -> None:
        """Record a source's harvest state (after a failure or an unchanged fetch) and log it.
        With ``holder``, only while that harvester still holds the source's lease."""
        with self._transaction():
            self._check_lease(state.id, holder)
            self._write_state(state)
            self._log(state, state.last_attempt, log_message, counts, holder)

    def _write_state(self, state: SourceState) -> None:
        values = {f.name: getattr(state, f.name) for f in fields(SourceState) if f.name != "id"}
        assignments = ", ".join(f"{name} = ?" for name in values)
        self._q(f"UPDATE sources SET {assignments} WHERE id = ?", (*values.values(), state.id))

    def _log(self, state: SourceState, at: str, message: str, counts: HarvestCounts | None, holder: str | None) -> None:
        c = counts or HarvestCounts()
        self._q(
            "INSERT INTO harvest_log (source_id, at, status, http_status, new, updated, withdrawn, rejected, failure_class, message, "
            "harvester) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (state.id, at, state.status, state.http_status, c.new, c.updated, c.withdrawn,
             c.rejected, state.failure_class, message or state.last_error, holder))

    # --- leases: several harvester processes share the sources -----------------------------

    def lease_due(self, holder: str, among: list[str], now: datetime, lease: timedelta, limit: int) -> list[str]:
        """Lease up to ``limit`` of the sources ``among`` whose next check has come and that no
        harvester holds (or whose holder let its lease run out); their ids, longest due first.
        On PostgreSQL the rows are taken with FOR UPDATE SKIP LOCKED, so harvesters asking at the
        same moment get different sources and never wait for each other."""
        if limit <= 0 or not among:
            return []
        at, marks = stamp(now), ",".join("?" * len(among))
        with self._transaction(versioned=False, exclusive=False):
            due = self._q(
                f"SELECT id, leased_by FROM sources WHERE id IN ({marks}) AND status != 'retired' "
                "AND (next_check IS NULL OR next_check <= ?) AND (lease_until IS NULL OR lease_until <= ?) "
                f"ORDER BY coalesce(next_check, ''), id LIMIT ? {self._backend.skip_locked}", [*among, at, at, limit]).fetchall()
            self._many("UPDATE sources SET leased_by = ?, lease_until = ? WHERE id = ?",
                       [(holder, stamp(now + lease), source_id) for source_id, _ in due])
            # A lease left to run out is a harvest that never finished: the health page says so.
            self._many("INSERT INTO harvest_log (source_id, at, status, message, harvester) VALUES (?, ?, 'interrupted', ?, ?)",
                       [(source_id, at, f"the harvester {gone} stopped renewing its lease before it finished (it stopped, "
                                        "or lost the database); another harvester took the source over", holder)
                        for source_id, gone in due if gone])
        return [source_id for source_id, _ in due]

    def renew_leases(self, holder: str, source_ids: list[str], until: datetime) -> None:
        """Keep the leases of the sources a harvester is still working on."""
        with self._transaction(versioned=False, exclusive=False):
            self._many("UPDATE sources SET lease_until = ? WHERE id = ? AND leased_by = ?",
                       [(stamp(until), source_id, holder) for source_id in source_ids])

    def release_lease(self, holder: str, source_id: str) -> None:
        with self._transaction(versioned=False, exclusive=False):
            self._q("UPDATE sources SET leased_by = NULL, lease_until = NULL WHERE id = ? AND leased_by = ?", (source_id, holder))

    def _check_lease(self, source_id: str, holder: str | None) -> None:
        """Refuse a harvester's write once another harvester has taken its source over."""
        if holder is None:
            return
        row = self._q(f"SELECT leased_by FROM sources WHERE id = ? {self._backend.lock_row}", (source_id,)).fetchone()
        if not row or row[0] != holder:
            raise LeaseLost(f"{source_id}: the lease of {holder} ran out and {row[0] if row and row[0] else 'no harvester'} "
                            "holds the source now; this harvest was not stored")

    def claim_daily(self, job: str, day: str) -> bool:
        """Whether this process is the one to run a daily job on ``day`` (the first to ask)."""
        with self._transaction(versioned=False, exclusive=False):
            self._q("INSERT INTO daily_jobs VALUES (?, '') ON CONFLICT DO NOTHING", (job,))
            return self._q("UPDATE daily_jobs SET last_day = ? WHERE name = ? AND last_day < ?", (day, job, day)).rowcount == 1

    @_reading
    def publisher_owner(self, publisher_id: str) -> str | None:
        """The source that first published under a publisher id, if any did."""
        row = self._q("SELECT source_id FROM publishers WHERE publisher_id = ?", (publisher_id,)).fetchone()
        return row[0] if row else None

    @_reading
    def harvest_log(self, source_id: str, limit: int = 50) -> list[dict]:
        return _rows(self._q(f"SELECT * FROM harvest_log WHERE source_id = ? ORDER BY {self._backend.row_order} DESC LIMIT ?",
                                      (source_id, limit)))

    @_reading
    def rejections(self, source_id: str) -> list[dict]:
        """The records of a source left out at its last good harvest, with the reasons."""
        rows = _rows(self._q(f"SELECT * FROM rejections WHERE source_id = ? ORDER BY {self._backend.row_order}", (source_id,)))
        return [row | {"problems": json.loads(row["problems"])} for row in rows]

    @_reading
    def posts(self, source_id: str) -> list[dict]:
        return _rows(self._q("SELECT * FROM posts WHERE source_id = ? ORDER BY published DESC", (source_id,)))

    # --- a good harvest ----------------------------------------------------------------

    def apply_harvest(self, state: SourceState, batch: HarvestBatch, town: str, now: str,
                      *, holder: str | None = None) -> HarvestCounts:
        """Store one good harvest of a source in one transaction: records in, missing ones out
        (unless the feed shrank suddenly), entries merged, rejections and health replaced.
        With ``holder``, only while that harvester still holds the source's lease."""
        counts = HarvestCounts(rejected=len(batch.rejections))
        with self._transaction():
            self._check_lease(state.id, holder)
            self._q("INSERT INTO publishers VALUES (?, ?) ON CONFLICT DO NOTHING", (batch.publisher_id, state.id))
            current = {row["global_id"]: row for row in _rows(self._q(
                "SELECT key, global_id, entry_id, content_hash, withdrawn_at FROM records WHERE source_id = ?", (state.id,)))}
            dirty: set[str] = set()
            seen: set[str] = set()
            for accepted in batch.records:
                seen.add(accepted.global_id)
                dirty |= self._upsert_record(state.id, accepted, current.get(accepted.global_id), batch, town, now, counts)
            seen.update(batch.kept)  # a record that turned invalid is rejected, not withdrawn
            active_before = [g for g, row in current.items() if row["withdrawn_at"] is None]
            missing = [g for g in active_before if g not in seen]
            withdraw = self._guard_shrink(state, missing, len(active_before), len(seen), counts, now)
            withdraw += [g for g in batch.tombstones if g in current and current[g]["withdrawn_at"] is None and g not in withdraw]
            for gid in withdraw:
                self._q("UPDATE records SET withdrawn_at = ? WHERE key = ?", (now, current[gid]["key"]))
                dirty.add(current[gid]["entry_id"])
            counts.withdrawn = len(withdraw)
            for entry_id in sorted(dirty):
                self._refresh_entry(entry_id, batch.default_timezone, now)
            self._replace_rejections(state.id, batch.rejections, now)
            self._replace_posts(state.id, batch.posts)
            state.accepted, state.rejected, state.withdrawn = len(batch.records), counts.rejected, counts.withdrawn
            self._write_state(state)
            self._log(state, now, state.notice or "", counts, holder)
        self._note_changes(counts.new + counts.updated + counts.withdrawn)
        return counts

    def _upsert_record(self, source_id: str, accepted: AcceptedRecord, existing: dict | None,
                       batch: HarvestBatch, town: str, now: str, counts: HarvestCounts) -> set[str]:
        """Insert or update one record; returns the entries whose content changed."""
        digest = merge.content_hash(accepted.record)
        data = json.dumps(accepted.record, ensure_ascii=False)
        if existing and existing["withdrawn_at"] is None:
            if existing["content_hash"] == digest:
                counts.unchanged += 1
                self._q("UPDATE records SET fetched_at = ? WHERE key = ?", (now, existing["key"]))
                return set()
            counts.updated += 1
            self._q("UPDATE records SET data = ?, content_hash = ?, record_updated = ?, feed_url = ?, fetched_at = ? WHERE key = ?",
                             (data, digest, accepted.record.get("updated"), batch.feed_url, now, existing["key"]))
            return {existing["entry_id"]}
        counts.new += 1
        entry_id = existing["entry_id"] if existing else self._entry_for(source_id, accepted, batch, town, now)
        key = f"{source_id} {accepted.global_id}"
        self._q(
            "INSERT INTO records (key, source_id, global_id, publisher_id, kind, entry_id, data, content_hash, record_updated, "
            "feed_url, first_seen, fetched_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET data = excluded.data, "
            "content_hash = excluded.content_hash, record_updated = excluded.record_updated, feed_url = excluded.feed_url, "
            "fetched_at = excluded.fetched_at, withdrawn_at = NULL",
            (key, source_id, accepted.global_id, accepted.global_id.rsplit("/", 1)[0], accepted.kind, entry_id, data, digest,
             accepted.record.get("updated"), batch.feed_url, now, now))
        return {entry_id}

    def _entry_for(self, source_id: str, accepted: AcceptedRecord, batch: HarvestBatch, town: str, now: str) -> str:
        """The entry a new record joins: the same global id from another source, the same event
        announced by another publisher, or a new entry."""
        row = self._q("SELECT entry_id FROM records WHERE global_id = ? AND kind = ? AND withdrawn_at IS NULL LIMIT 1",
                               (accepted.global_id, accepted.kind)).fetchone()
        if row:
            return row[0]
        if accepted.kind == "event":
            found = self._same_event(source_id, accepted.record, batch.default_timezone, town)
            if found:
                return found
        entry_id = merge.entry_id_for(accepted.kind, accepted.global_id)
        publisher_id, local_id = accepted.global_id.rsplit("/", 1)
        self._q("INSERT INTO entries (entry_id, kind, uid, created, updated) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                         (entry_id, accepted.kind, event_uid(publisher_id, local_id), now, now))
        return entry_id

    def _same_event(self, source_id: str, event: dict, default_timezone: str, town: str) -> str | None:
        keys = merge.event_merge_keys(event, default_timezone, town)
        if not keys:
            return None
        marks = ",".join("?" * len(keys))
        candidates = self._q(
            f"SELECT DISTINCT m.entry_id, e.data, e.created FROM merge_keys m JOIN entries e ON e.entry_id = m.entry_id "
            f"WHERE m.key IN ({marks}) AND e.withdrawn_at IS NULL ORDER BY e.created, m.entry_id", keys).fetchall()
        for entry_id, data, _created in candidates:
            own = self._q("SELECT 1 FROM records WHERE entry_id = ? AND source_id = ? AND withdrawn_at IS NULL",
                                   (entry_id, source_id)).fetchone()
            if not own and merge.same_place(event, json.loads(data)):
                return entry_id
        return None

    def _guard_shrink(self, state: SourceState, missing: list[str], before: int, now_count: int,
                      counts: HarvestCounts, now: str) -> list[str]:
        """The withdrawals to carry out: all, unless the feed shrank by more than half at once,
        in which case they wait until the smaller feed has been seen SHRINK_CONFIRMATIONS times."""
        suspicious = missing and before >= SHRINK_MINIMUM and now_count < before * SHRINK_RATIO
        if not suspicious:
            state.shrink_held_since, state.shrink_confirmations = None, 0
            state.notice = None
            return missing
        state.shrink_confirmations += 1
        state.shrink_held_since = state.shrink_held_since or now
        if state.shrink_confirmations >= SHRINK_CONFIRMATIONS:
            state.notice = f"the feed shrank from {before} to {now_count} records; after {SHRINK_CONFIRMATIONS} harvests alike the missing records were withdrawn"
            state.shrink_held_since, state.shrink_confirmations = None, 0
            return missing
        counts.held = len(missing)
        # Forget the validators, so the next harvest reads the smaller feed again to confirm it
        # instead of taking "unchanged" for an answer and holding the withdrawals forever.
        state.etag = state.last_modified = state.body_hash = None
        state.notice = (f"the feed suddenly shrank from {before} to {now_count} records: {len(missing)} withdrawals are held "
                        f"(harvest {state.shrink_confirmations} of {SHRINK_CONFIRMATIONS} before they go through); "
                        "ask the publisher whether records were removed on purpose")
        return []

    def _refresh_entry(self, entry_id: str, default_timezone: str, now: str) -> None:
        """Recompute an entry from its active records: content, provenance, facets, search text.
        Town and kind of provider are those of the source whose record the entry shows."""
        records = _rows(self._q(
            "SELECT r.key, r.global_id, r.data, r.feed_url, r.fetched_at, r.source_id, s.town, s.kind, "
            "CASE WHEN p.source_id = r.source_id THEN 1 ELSE 0 END AS original FROM records r JOIN sources s ON s.id = r.source_id "
            "LEFT JOIN publishers p ON p.publisher_id = r.publisher_id WHERE r.entry_id = ? AND r.withdrawn_at IS NULL "
            "ORDER BY original DESC, r.first_seen, r.key", (entry_id,)))
        entry = _rows(self._q("SELECT * FROM entries WHERE entry_id = ?", (entry_id,)))[0]
        if entry["content_hash"] is not None:  # a new entry has nothing indexed yet
            self._clear_index(entry)
        if not records:
            self._q("UPDATE entries SET withdrawn_at = ?, updated = ?, sequence = sequence + 1 WHERE entry_id = ?",
                             (now, now, entry_id))
            return
        canonical = json.loads(records[0]["data"])
        content = canonical | {"provenance": _provenance(records)}
        digest = merge.content_hash(content)
        changed = digest != entry["content_hash"] or entry["withdrawn_at"] is not None
        kind, town, provider_kind = entry["kind"], records[0]["town"], records[0]["kind"]
        place = merge.event_town(canonical, town) if kind == "event" else _record_town(canonical, town)
        self._q(
            "UPDATE entries SET canonical = ?, data = ?, content_hash = ?, withdrawn_at = NULL, title = ?, town = ?, starts = ?, "
            "sequence = sequence + ?, updated = CASE WHEN ? THEN ? ELSE updated END WHERE entry_id = ?",
            (records[0]["key"], json.dumps(content, ensure_ascii=False), digest, _title(canonical), place,
             merge.start_instant(canonical, default_timezone) if kind == "event" else None,
             int(changed and entry["content_hash"] is not None), changed, now, entry_id))
        self._index(entry, [json.loads(r["data"]) for r in records], canonical, default_timezone, place, provider_kind)
        self._index_dates_and_organisations(entry, canonical, records[0]["global_id"], default_timezone, now)

    def _clear_index(self, entry: dict) -> None:
        for table in ("merge_keys", "facets", "occurrences"):
            self._q(f"DELETE FROM {table} WHERE entry_id = ?", (entry["entry_id"],))
        self._backend.clear_text(self._db, entry["num"])

    def _index(self, entry: dict, records: list[dict], canonical: dict, default_timezone: str,
               town: str, provider_kind: str) -> None:
        entry_id, kind = entry["entry_id"], entry["kind"]
        text = " ".join(merge.search_text(r, _folded_labels()) for r in records)
        self._backend.index_text(self._db, entry["num"], text)
        self._many("INSERT INTO facets VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                             [(entry_id, f, v) for f, v in merge.facets(kind, canonical, town, provider_kind)])
        if kind == "event":
            keys = {k for r in records for k in merge.event_merge_keys(r, default_timezone, town)}
            self._many("INSERT INTO merge_keys VALUES (?, ?) ON CONFLICT DO NOTHING", [(k, entry_id) for k in keys])

    def _replace_rejections(self, source_id: str, rejections: list[Rejection], now: str) -> None:
        self._q("DELETE FROM rejections WHERE source_id = ?", (source_id,))
        self._many("INSERT INTO rejections (source_id, position, local_id, problems, seen_at) VALUES (?, ?, ?, ?, ?)",
                             [(source_id, r.position, r.local_id, json.dumps(r.problems, ensure_ascii=False), now) for r in rejections])

    def _replace_posts(self, source_id: str, posts: list[dict]) -> None:
        self._q("DELETE FROM posts WHERE source_id = ?", (source_id,))
        self._many("INSERT INTO posts VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (source_id, id) DO UPDATE SET title = excluded.title, "
                   "url = excluded.url, published = excluded.published, summary = excluded.summary",
                             [(source_id, p["id"], p["title"], p.get("url"), p.get("published"), p.get("summary")) for p in posts])

    # --- reading the directory ---------------------------------------------------------

    @_reading
    def entries(self, kind: str | None = None, *, include_withdrawn: bool = False) -> list[dict]:
        """Directory entries with their content and sources."""
        clauses, args = [], []
        if kind:
            clauses.append("kind = ?")
            args.append(kind)
        if not include_withdrawn:
            clauses.append("withdrawn_at IS NULL")
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = _rows(self._q(f"SELECT * FROM entries {where} ORDER BY kind, title, entry_id", args))
        return [_decoded(row) for row in rows]

    @_reading
    def entries_after(self, after: str, limit: int, *, changed_since: str | None = None,
                      withdrawn_since: str | None = None) -> list[dict]:
        """Up to ``limit`` entries in the order of their ids, from just after ``after``: with
        ``changed_since`` those changed (or withdrawn) since, else current ones and those withdrawn
        since ``withdrawn_since`` (UTC text)."""
        if changed_since:
            condition, args = "updated > ?", [changed_since]
        else:
            condition, args = "(withdrawn_at IS NULL OR withdrawn_at >= ?)", [withdrawn_since or "9999"]
        rows = _rows(self._q(f"SELECT * FROM entries WHERE entry_id > ? AND data IS NOT NULL AND {condition} "
                                      "ORDER BY entry_id LIMIT ?", [after, *args, limit]))
        return [_decoded(row) for row in rows]

    @_reading
    def version(self) -> int:
        """A number every write to the store raises (also another process's), for caches and ETags."""
        return self._version()

    def _version(self) -> int:
        return self._q("SELECT version FROM directory_version").fetchone()[0]

    @_reading
    def last_change(self) -> str | None:
        """When the directory last changed (an entry added, changed or withdrawn), UTC text."""
        return self._q("SELECT max(updated) FROM entries").fetchone()[0]

    @_reading
    def entry(self, entry_id: str) -> dict | None:
        rows = _rows(self._q("SELECT * FROM entries WHERE entry_id = ?", (entry_id,)))
        return _decoded(rows[0]) if rows else None

    @_reading
    def entry_sources(self, entry_id: str) -> list[dict]:
        """The sources an entry came from, with when and from which URL."""
        return _rows(self._q(
            "SELECT source_id, global_id, feed_url, fetched_at, first_seen FROM records "
            "WHERE entry_id = ? AND withdrawn_at IS NULL ORDER BY first_seen, key", (entry_id,)))

    @_reading
    def records_of(self, source_id: str, *, include_withdrawn: bool = False) -> list[dict]:
        where = "" if include_withdrawn else "AND withdrawn_at IS NULL"
        rows = _rows(self._q(f"SELECT * FROM records WHERE source_id = ? {where} ORDER BY key", (source_id,)))
        return [row | {"data": json.loads(row["data"])} for row in rows]

    @_reading
    def search(self, query: str, kind: str | None = None, limit: int = 50) -> list[str]:
        """Entry ids matching every word of the query, folded; words of three letters or more also
        match inside longer words (German compounds), ranked by whole-word relevance."""
        words = merge.fold(query).split()
        if not words:
            return []
        text = self._backend.text_query(words)
        clauses, args = [text.condition], list(text.condition_args)
        if kind:
            clauses.append("e.kind = ?")
            args.append(kind)
        sql = (f"SELECT e.entry_id FROM entries e {text.rank_join} WHERE e.withdrawn_at IS NULL AND "
               f"{' AND '.join(clauses)} ORDER BY {text.rank}, e.title, e.entry_id LIMIT ?")
        return [row[0] for row in self._q(sql, [*text.rank_join_args, *args, *text.rank_args, limit])]

    # --- occurrences of events and filtered lists ----------------------------------------
    # Events are expanded into dates when indexed (aggregator/occurrences.py) for a window from
    # occurrence_past before to occurrence_horizon after the harvest; refresh_occurrences moves the
    # window on. find and occurrences_in answer every list the web app and the API show.

    occurrence_past = PAST
    occurrence_horizon = HORIZON

    def _index_dates_and_organisations(self, entry: dict, canonical: dict, global_id: str,
                                       default_timezone: str, now: str) -> None:
        """Index an entry's organisation (as a facet) and, for events, its dates around now."""
        publisher = global_id.rsplit("/", 1)[0]
        self._many("INSERT INTO facets VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                             [(entry["entry_id"], "organisation", o) for o in _organisations(entry, canonical, publisher)])
        if entry["kind"] == "event":
            zone_name = canonical.get("timezone") or default_timezone
            self._q("UPDATE entries SET timezone = ? WHERE entry_id = ?", (zone_name, entry["entry_id"]))
            self._write_occurrences(entry["entry_id"], canonical, zone_name, datetime.fromisoformat(now))

    def _write_occurrences(self, entry_id: str, event: dict, zone_name: str, now: datetime) -> None:
        """Replace an event's stored dates by those in the window around now."""
        low, high = window_around(now, self.occurrence_past, self.occurrence_horizon)
        try:
            found = expand(event, zone_name, low, high)
        except ExpansionError:
            # Validation lets no such event through; should one slip by, it is listed without dates
            # rather than failing its source's whole harvest.
            found = []
        self._q("DELETE FROM occurrences WHERE entry_id = ?", (entry_id,))
        self._many("INSERT INTO occurrences VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", [
            (entry_id, utc_text(o.start_utc), utc_text(o.end_utc) if o.end_utc else None, int(o.all_day), o.local_date,
             o.start_local, o.status, o.recurrence_id, json.dumps(o.changes, ensure_ascii=False) if o.changes else None)
            for o in found])

    def _expand_unexpanded_events(self) -> None:
        """Expand the events stored before the store kept dates (their zone is empty), once.
        Their feed's zone was not kept, so times without their own zone are read in the region's."""
        rows = self._q("SELECT entry_id, data FROM entries WHERE kind = 'event' AND timezone IS NULL "
                                "AND withdrawn_at IS NULL AND data IS NOT NULL").fetchall()
        if not rows:
            return
        now = datetime.now(timezone.utc)
        with self._transaction():
            for entry_id, data in rows:
                event = json.loads(data)
                zone_name = event.get("timezone") or REGION_TIMEZONE
                self._q("UPDATE entries SET timezone = ? WHERE entry_id = ?", (zone_name, entry_id))
                self._write_occurrences(entry_id, event, zone_name, now)

    def refresh_occurrences(self, now: datetime) -> int:
        """Expand every current event again for the window around ``now`` (daily, so series
        without end never run out of dates); returns how many events were expanded."""
        with self._transaction():
            rows = self._q("SELECT entry_id, data, timezone FROM entries WHERE kind = 'event' "
                                    "AND withdrawn_at IS NULL AND data IS NOT NULL").fetchall()
            for entry_id, data, zone_name in rows:
                self._write_occurrences(entry_id, json.loads(data), zone_name or REGION_TIMEZONE, now)
        self._note_changes(len(rows))
        return len(rows)

    # The query planner chooses by the tables' statistics; a directory that a first harvest has just
    # filled has none, and PostgreSQL then answers searches several times slower until autovacuum
    # comes round. So the store refreshes them itself after this many changed records.
    analyze_after = 2000

    def _note_changes(self, changed: int) -> None:
        with self._lock:
            self._unanalyzed += changed
            if self._unanalyzed < self.analyze_after:
                return
            self._unanalyzed = 0
            self._ensure_connected()
            self._backend.analyze(self._db)

    @_reading
    def find(self, kind: str, filters: Filters, *, page: int = 1, per_page: int = 20) -> Found:
        """One page of the entries of a kind matching the filters, the total, and per facet the
        counts of its values under all the other filters. With ``changed_since``, entries withdrawn
        since then come too (flagged ``withdrawn``), in order of change, so a copy can be kept in step."""
        limit, offset = page_bounds(page, per_page)
        where, args = self._filter_sql(kind, filters)
        if filters.changed_since:
            where = f"({where}) OR (e.kind = ? AND e.withdrawn_at IS NOT NULL AND e.updated > ?)"
            args += [kind, utc_text(filters.changed_since)]
        total = self._q(f"SELECT count(*) FROM entries e WHERE {where}", args).fetchone()[0]
        order, join, join_args, order_args = self._order_sql(kind, filters)
        rows = _rows(self._q(f"SELECT e.* FROM entries e {join} WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?",
                                      [*join_args, *args, *order_args, limit, offset]))
        entries = [_decoded(row) | {"withdrawn": row["withdrawn_at"] is not None} for row in rows]
        return Found(total, entries, self._facet_counts(kind, filters), page, per_page)

    @_reading
    def all_found(self, kind: str, filters: Filters) -> list[dict]:
        """Every current entry of a kind matching the filters, in the order of ``find`` (events: by
        their first date in the filters' range), for documents that are not paged."""
        where, args = self._filter_sql(kind, filters)
        order, join, join_args, order_args = self._order_sql(kind, filters)
        rows = _rows(self._q(f"SELECT e.* FROM entries e {join} WHERE {where} ORDER BY {order}",
                                      [*join_args, *args, *order_args]))
        return [_decoded(row) for row in rows]

    @_reading
    def occurrences_in(self, filters: Filters, from_: date | datetime | None = None,
                       to: date | datetime | None = None, limit: int | None = None) -> list[tuple[Occurrence, dict]]:
        """The dates of matching events in a range (days in the filters' zone, both included, or
        instants; by default the filters' own range), cancelled ones included, in order of start."""
        low, high = _bounds(from_ if from_ is not None else filters.from_, to if to is not None else filters.to, filters.timezone)
        where, args = self._filter_sql("event", replace(filters, from_=None, to=None))
        sql = (f"SELECT {_OCCURRENCE_COLUMNS}, e.* FROM occurrences o JOIN entries e ON e.entry_id = o.entry_id WHERE ({where}) AND {_OVERLAPS} "
               f"ORDER BY o.start_utc, e.title, e.entry_id{'' if limit is None else ' LIMIT ?'}")
        rows = _rows(self._q(sql, [*args, high or "9999", low or "0000", low or "0000", *([] if limit is None else [limit])]))
        return [(_stored_occurrence(row), _decoded({k: v for k, v in row.items() if not k.startswith("o_")})) for row in rows]

    @_reading
    def count(self, kind: str, filters: Filters) -> int:
        """How many current entries of a kind match the filters (no page, no facets)."""
        where, args = self._filter_sql(kind, filters)
        return self._q(f"SELECT count(*) FROM entries e WHERE {where}", args).fetchone()[0]

    @_reading
    def titles(self, entry_ids: list[str]) -> dict[str, str]:
        """The titles (names) of entries by id, in their default language, for labels and links."""
        return dict(self._by_ids("SELECT entry_id, title FROM entries", entry_ids))

    @_reading
    def names(self, entry_ids: list[str]) -> dict[str, dict]:
        """The multilingual names (titles) of entries by id, as their records give them."""
        name, title = self._backend.json_document("data", "name"), self._backend.json_document("data", "title")
        rows = self._by_ids(f"SELECT entry_id, coalesce({name}, {title}) FROM entries", entry_ids)
        return {entry_id: json.loads(name) for entry_id, name in rows if name}

    def _by_ids(self, select: str, entry_ids: list[str]) -> list[tuple]:
        """The rows of a SELECT on entries for the given ids, asked 500 at a time (SQLite's limit on parameters)."""
        rows = []
        for start in range(0, len(entry_ids), 500):
            chunk = entry_ids[start:start + 500]
            rows += self._q(f"{select} WHERE entry_id IN ({','.join('?' * len(chunk))})", chunk).fetchall()
        return rows

    @_reading
    def dates_between(self, entry_id: str, from_: date | None, to: date | None, zone_name: str = REGION_TIMEZONE) -> list[Occurrence]:
        """One event's dates overlapping a range of days (both included), as ``occurrences_in`` counts them."""
        low, high = day_range(from_, to, zone_name)
        rows = _rows(self._q(
            f"SELECT {_OCCURRENCE_COLUMNS} FROM occurrences o WHERE entry_id = ? AND {_OVERLAPS} ORDER BY start_utc",
            (entry_id, high or "9999", low or "0000", low or "0000")))
        return [_stored_occurrence(row) for row in rows]

    @_reading
    def dates_of(self, entry_id: str, after: datetime, limit: int = 10) -> list[Occurrence]:
        """The next dates of one event ending after a moment, cancelled ones included."""
        rows = _rows(self._q(
            f"SELECT {_OCCURRENCE_COLUMNS} FROM occurrences o WHERE entry_id = ? AND coalesce(end_utc, start_utc) > ? ORDER BY start_utc LIMIT ?",
            (entry_id, utc_text(after), limit)))
        return [_stored_occurrence(row) for row in rows]

    def _filter_sql(self, kind: str, filters: Filters, skip_facet: str | None = None) -> tuple[str, list]:
        """The WHERE condition (on entries ``e``) for current entries of a kind matching the filters,
        leaving out one facet's own selection when its counts are taken."""
        clauses, args = ["e.kind = ?", "e.withdrawn_at IS NULL"], [kind]
        words = merge.fold(filters.q).split()
        if words:
            text = self._backend.text_query(words)
            clauses.append(text.condition)
            args += text.condition_args
        for facet in FACETS:
            values = filters.facet_values(facet)
            if values and facet != skip_facet:
                clauses.append(f"e.entry_id IN (SELECT entry_id FROM facets WHERE facet = ? AND value IN ({','.join('?' * len(values))}))")
                args += [facet, *values]
        low, high = filters.utc_range()
        if kind == "event" and (low or high):
            clauses.append(f"EXISTS (SELECT 1 FROM occurrences o WHERE o.entry_id = e.entry_id AND {_OVERLAPS})")
            args += [high or "9999", low or "0000", low or "0000"]
        if kind == "offer" and (filters.from_ or filters.to):
            # An offer without valid_from/valid_to is valid open-endedly on that side.
            valid_from, valid_to = self._backend.json_text("e.data", "valid_from"), self._backend.json_text("e.data", "valid_to")
            clauses.append(f"coalesce({valid_from}, '0000') <= ? AND coalesce({valid_to}, '9999') >= ?")
            args += [(filters.to or date.max).isoformat(), (filters.from_ or date.min).isoformat()]
        if filters.changed_since:
            clauses.append("e.updated > ?")
            args.append(utc_text(filters.changed_since))
        return " AND ".join(clauses), args

    def _order_sql(self, kind: str, filters: Filters) -> tuple[str, str, list, list]:
        """ORDER BY for a list, with the join it needs and the arguments of each: changes in order
        for ``changed_since``, else search relevance, then events by their first date in the range."""
        if filters.changed_since:
            return "e.updated, e.entry_id", "", [], []
        words = merge.fold(filters.q).split()
        text = self._backend.text_query(words) if words else None
        join, join_args = (text.rank_join, text.rank_join_args) if text else ("", [])
        order, order_args = ([text.rank], list(text.rank_args)) if text else ([], [])
        if kind == "event":
            low, high = filters.utc_range()
            order.append(f"coalesce((SELECT min(o.start_utc) FROM occurrences o WHERE o.entry_id = e.entry_id AND {_OVERLAPS}), e.starts)")
            order_args += [high or "9999", low or "0000", low or "0000"]
        return ", ".join(order + ["e.title", "e.entry_id"]), join, join_args, order_args

    @_reading
    def facet_counts(self, kind: str, filters: Filters) -> dict[str, dict[str, int]]:
        """Per facet, how many current entries of a kind each value has under the filters without
        that facet's own (as ``find`` gives them, for pages that list something else)."""
        return self._facet_counts(kind, filters)

    def _facet_counts(self, kind: str, filters: Filters) -> dict[str, dict[str, int]]:
        """Per facet, how many entries each value has under the filters without that facet's own,
        kept until the directory changes: counting takes seconds on a large directory, and most
        visitors ask for the same few lists."""
        return self._counted_facets(kind, filters, self._version())

    @lru_cache(maxsize=512)
    def _counted_facets(self, kind: str, filters: Filters, _version: int) -> dict[str, dict[str, int]]:
        """Per facet, how many entries each value has under the filters without that facet's own.
        The facets nobody chose share one set of matching entries, counted in one pass over their
        facet rows; each chosen facet needs its own set (the others' filters only)."""
        counts: dict[str, dict[str, int]] = {facet: {} for facet in FACETS}
        chosen = [facet for facet in FACETS if filters.facet_values(facet)]
        groups = [(None, [facet for facet in FACETS if facet not in chosen])] + [(facet, [facet]) for facet in chosen]
        for skip, facets in groups:
            if not facets:
                continue
            where, args = self._filter_sql(kind, filters, skip_facet=skip)
            rows = self._q(
                f"WITH matching AS MATERIALIZED (SELECT e.entry_id FROM entries e WHERE {where}) "
                f"SELECT f.facet, f.value, count(*) FROM matching m JOIN facets f ON f.entry_id = m.entry_id "
                f"AND f.facet IN ({','.join('?' * len(facets))}) GROUP BY f.facet, f.value", [*args, *facets])
            for facet, value, number in rows:
                counts[facet][value] = number
        return {facet: dict(sorted(values.items(), key=lambda item: (-item[1], item[0]))) for facet, values in counts.items()}


# A stored date's columns, named apart from the entry's that may come in the same row.
_OCCURRENCE_COLUMNS = ", ".join(f"o.{name} AS o_{name}" for name in
                                ("start_utc", "end_utc", "all_day", "start_local", "status", "recurrence_id", "changes"))

# An occurrence overlaps a range [low, high): it starts before high and ends after low (one without end: starts at or after low).
_OVERLAPS = "o.start_utc < ? AND (o.end_utc > ? OR (o.end_utc IS NULL AND o.start_utc >= ?))"


def _organisations(entry: dict, record: dict, publisher: str) -> set[str]:
    """The entry ids of the organisations an entry belongs to: itself for an organisation, the
    provider of an offer, the organisers of an event."""
    if entry["kind"] == "organisation":
        return {entry["entry_id"]}
    references = [record.get("provider")] if entry["kind"] == "offer" else [record.get("organiser"), *(record.get("co_organisers") or [])]
    found = set()
    for ref in references:
        if isinstance(ref, str):
            found.add(merge.entry_id_for("organisation", merge.global_id(publisher, ref)))
        elif isinstance(ref, dict) and isinstance(ref.get("publisher"), str) and isinstance(ref.get("id"), str):
            found.add(merge.entry_id_for("organisation", merge.global_id(ref["publisher"], ref["id"])))
    return found


def _bounds(start: date | datetime | None, end: date | datetime | None, zone_name: str) -> tuple[str | None, str | None]:
    """A range given as days (both included, in the zone) or as aware instants, as UTC text."""
    low = utc_text(start) if isinstance(start, datetime) else day_range(start, None, zone_name)[0]
    high = utc_text(end) if isinstance(end, datetime) else day_range(None, end, zone_name)[1]
    return low, high


def _stored_occurrence(row: dict) -> Occurrence:
    return Occurrence(
        start_utc=datetime.fromisoformat(row["o_start_utc"]),
        end_utc=datetime.fromisoformat(row["o_end_utc"]) if row["o_end_utc"] else None,
        all_day=bool(row["o_all_day"]), start_local=row["o_start_local"], status=row["o_status"],
        recurrence_id=row["o_recurrence_id"], changes=json.loads(row["o_changes"]) if row["o_changes"] else {})


def _provenance(records: list[dict]) -> list[dict]:
    """Where an entry's content came from: each record's own provenance, or its source."""
    found: list[dict] = []
    for r in records:
        data = json.loads(r["data"])
        publisher, local = r["global_id"].rsplit("/", 1)
        items = data.get("provenance") or [{"publisher": publisher, "id": local, "feed_url": r["feed_url"], "fetched": r["fetched_at"]}]
        found += [item for item in items if item not in found]
    return found


def _title(record: dict) -> str:
    text = record.get("title") or record.get("name") or {}
    return text.get("de") or next(iter(text.values()), "") if isinstance(text, dict) else ""


def _record_town(record: dict, town: str) -> str:
    for location in record.get("locations") or []:
        city = ((location or {}).get("address") or {}).get("city")
        if city:
            return city
    return ((record.get("address") or {}).get("city")) or town


def _decoded(row: dict) -> dict:
    return row | {"data": json.loads(row["data"]) if row.get("data") else None}


@cache
def _folded_labels() -> dict[str, str]:
    """Every category and target group id with its labels in all languages, folded once, for search."""
    labels: dict[str, list[str]] = {}
    for name in ("categories", "target-groups"):
        for term in wegweiser_schema.vocabulary(name)["terms"]:
            labels.setdefault(term["id"], []).extend(term["label"].values())
    return {term: merge.fold(" ".join(names)) for term, names in labels.items()}
