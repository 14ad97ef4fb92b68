"""Fault drills: a harvester killed with SIGKILL mid-run, PostgreSQL restarted mid-harvest, a source
flapping between good and broken, a source that suddenly publishes an empty list. After each, the
directory must hold every published record once, and the health page must tell what happened.

    PYTHONPATH=. python bench/fault_drill.py [--sources 24] [--records 30] [--delay 0.5]
        [--scenarios kill,restart,flap,empty] [--retry wait|harvest] [--flap-runs 6] [--pause 1]

Everything runs on 127.0.0.1 and is gone afterwards: a PostgreSQL server the drill starts
(tests/postgres.py), a feed server in a process of its own serving ``--sources`` generated feeds
of ``--records`` valid records each (bench/harvest_bench.py's region), every answer held back
``--delay`` seconds so that harvests are in flight when a fault strikes, and the ``wegweiser``
command as the regional office runs it. The feed server can be told to change every feed (a new
version of every record's title), to make one source flap (good on odd requests, HTTP 500 and
broken JSON in turn on even ones) and to make one source answer a valid feed with empty lists.

The baseline: three ``wegweiser schedule --lease 5 --workers 2`` processes harvest a fresh
directory with no fault; their time to "every source ok" is the yardstick for the times below.
Then, on one directory, in this order:

1. kill: three schedule processes start; as soon as one of them holds leases it is killed with
   SIGKILL. Measured: the time from the kill until every source is harvested; checked: each
   source the killed process was still harvesting was harvested by another process (the
   ``harvester`` of its harvest log), and the directory is complete.
2. restart: every feed changes and every source is made due again (its next check cleared), three
   schedule processes start, and once a quarter of the sources are stored, at a moment a harvest
   is storing (it holds the directory's write lock), PostgreSQL is stopped (fast: connections are
   cut), left down ``--pause`` seconds, and started again, as ``PostgresServer.restart`` does; the
   web app is asked for /sources.json while it is down. Harvests that could not store record the
   failure class ``database`` and are retried two minutes later: ``--retry wait`` (the default)
   lets the schedule processes do that by themselves, ``--retry harvest`` runs ``wegweiser
   harvest --source ...`` for them once the failures are recorded, to keep a run short. Checked
   besides: every harvest the restart broke off (also those the harvesters' logs name as "failed
   unexpectedly") is told on /sources.json as a 'database' failure. Measured: the time from the
   restart until every source holds the new version.
3. flap: ``wegweiser harvest --source ID`` runs ``--flap-runs`` times on a source that answers
   well and badly in turn; its records must stay through every broken run.
4. empty: a source publishes empty lists; ``wegweiser harvest --source ID`` runs until the shrink
   guard gives way (store.SHRINK_CONFIRMATIONS harvests): its records stay until then and are
   withdrawn by design at that harvest; no other source's records or entries may change.

After each, the directory is compared with the reference computed from the generator: every
published record once, current, with the content published (the hash of the record), in the
entry its global id names, which shows that content. "duplicates" counts record rows beyond one per
global id plus entries showing the same content as another entry; "stray" entries or records are
current but not in the reference (an old version, a record that should be withdrawn). After the kill
and the restart, with every harvester stopped, /sources.json must show no source as being harvested.

How to read the figures: each scenario's time stands beside the baseline measured in the same run.
A takeover after a kill needs the lease (5 s) to run out and a survivor's next poll (every 5 s),
so a run with a kill may take up to about ten seconds longer from start to "all ok" than the
baseline; after the restart, "all ok" comes with the two-minute retry (or at once with ``--retry
harvest``). The checks under the table and the quoted health texts are the result; every check has
to hold. Exit status 1 if any check fails. The defaults take about three and a half minutes, two
of them the retry; ``--sources 6 --records 8 --delay 0.3 --retry harvest`` takes about a minute.
"""
import argparse
import ctypes
import json
import logging
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from hashlib import sha256
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing import get_context
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit
from urllib.request import urlopen

import psycopg

from aggregator import merge
from aggregator.backends import WRITE_LOCK
from aggregator.health import DATABASE_RETRY, stamp, utc_now
from aggregator.store import SHRINK_CONFIRMATIONS, Store
from bench.harvest_bench import ORGANISATION_KINDS, feed_document, town_of
from feeds.feed import RECORD_LISTS
from tests.postgres import PostgresServer, started_server

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = ("kill", "restart", "flap", "empty")
HARVESTERS = 3                 # schedule processes sharing the directory
WORKERS = 2                    # per schedule process
LEASE = 5                      # seconds; the smallest lease `wegweiser schedule` accepts
SERVER_LIFETIME = 3600         # the feed server stops by itself even if the drill is killed
PR_SET_PDEATHSIG = 1
BROKEN_OFF = re.compile(r"wegweiser\.schedule (\S+): the harvest failed unexpectedly")


class DrillFailed(Exception):
    """Something the drill waited for did not happen in time, or a command it ran failed."""


# --- the feeds, and the reference they make ------------------------------------------------

def source_id(n: int) -> str:
    return f"feed-{n:05d}"


def generated_feed(n: int, records: int, version: int, today: date, *, empty: bool = False) -> dict:
    """The n-th publisher's feed in a version: from version 2 on every record's German title (an
    organisation's name) names the version, so every record changes; ``empty``: no records at all."""
    document = feed_document(n, 0 if empty else records, today)
    if version > 1:
        for list_name in RECORD_LISTS:
            for record in document[list_name]:
                text = record["name" if list_name == "organisations" else "title"]
                text["de"] = f"{text['de']} (Stand {version})"
    return document


@dataclass(frozen=True)
class Wanted:
    """What the directory must show for one published record."""

    source_id: str
    entry_id: str
    content: str   # the hash of the record as published


def reference(sources: int, records: int, version: int, today: date, emptied: frozenset = frozenset()) -> dict[str, Wanted]:
    """Every record the feeds publish, by global id."""
    wanted = {}
    for n in range(sources):
        document = generated_feed(n, records, version, today, empty=n in emptied)
        publisher = document["publisher"]["id"]
        for list_name, kind in RECORD_LISTS.items():
            for record in document[list_name]:
                gid = merge.global_id(publisher, record["id"])
                wanted[gid] = Wanted(source_id(n), merge.entry_id_for(kind, gid), merge.content_hash(record))
    return wanted


class DrillFeeds(ThreadingHTTPServer):
    """The generated feeds, each answer held back ``delay`` seconds; GET /control?... changes
    what they say: ``version=N``, ``flap=N|none``, ``empty=N|none``."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, records: int, delay: float, today: date):
        super().__init__(("127.0.0.1", 0), FeedAnswer)
        self.records, self.delay, self.today = records, delay, today
        self.version, self.flapping, self.emptied, self.flap_requests = 1, None, None, 0
        self.lock = threading.Lock()
        self._bodies: dict[tuple, tuple[bytes, str]] = {}

    def control(self, query: dict[str, list[str]]) -> None:
        with self.lock:
            for name, (value,) in query.items():
                number = None if value == "none" else int(value)
                if name == "version":
                    self.version = number
                elif name == "flap":
                    self.flapping, self.flap_requests = number, 0
                elif name == "empty":
                    self.emptied = number

    def answer(self, n: int) -> tuple[str, bytes, str]:
        """What the n-th feed answers now: (how, body, ETag); ``how`` is good, server-error or broken-json."""
        with self.lock:
            key = (n, self.version, n == self.emptied)
            if key not in self._bodies:
                document = generated_feed(n, self.records, self.version, self.today, empty=n == self.emptied)
                body = json.dumps(document, ensure_ascii=False).encode()
                self._bodies[key] = (body, f'"{sha256(body).hexdigest()[:20]}"')
            body, etag = self._bodies[key]
            if n != self.flapping:
                return "good", body, etag
            self.flap_requests += 1
            if self.flap_requests % 2:
                return "good", body, etag
            if self.flap_requests % 4 == 2:
                return "server-error", b"", ""
            return "broken-json", body[:len(body) // 2], f'"broken-{self.flap_requests}"'


class FeedAnswer(BaseHTTPRequestHandler):
    """Answers /feeds/NNNNN.json as DrillFeeds says (with ETag and 304), and /control."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path == "/control":
            self.server.control(parse_qs(parts.query))
            return self._send(204)
        name = parts.path.removeprefix("/feeds/").removesuffix(".json")
        if not parts.path.startswith("/feeds/") or not name.isdigit():
            return self._send(404)
        time.sleep(self.server.delay)
        how, body, etag = self.server.answer(int(name))
        if how == "server-error":
            return self._send(500)
        if how == "good" and self.headers.get("If-None-Match") == etag:
            return self._send(304, etag=etag)
        self._send(200, body, etag)

    def _send(self, status: int, body: bytes = b"", etag: str = "") -> None:
        self.send_response(status)
        if etag:
            self.send_header("ETag", etag)
        if status not in (204, 304):
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # a harvester killed mid-request: that is the drill

    def log_message(self, *args) -> None:
        pass


def serve_feeds(records: int, delay: float, today: date, ready, parent_pid: int) -> None:
    """Serve the feeds on a free port of 127.0.0.1, report the port on ``ready``, and stop when
    the drill is gone or after SERVER_LIFETIME."""
    server = DrillFeeds(records, delay, today)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    ready.put(server.server_port)
    stop_at = time.monotonic() + SERVER_LIFETIME
    while os.getppid() == parent_pid and time.monotonic() < stop_at:
        time.sleep(0.5)
    server.shutdown()


# --- what the directory holds ------------------------------------------------------------

@dataclass
class Census:
    """The directory beside the reference."""

    expected: int
    present: int            # published records current with their content, in their entry, which shows it
    duplicates: int
    stray: int              # current entries and records the reference does not hold
    present_by_source: Counter = field(default_factory=Counter)

    @property
    def complete(self) -> bool:
        return self.present == self.expected and not self.duplicates and not self.stray


def shown_content(entry: dict) -> str:
    """The hash of what an entry shows, its provenance (when and where fetched) left out."""
    return merge.content_hash({k: v for k, v in entry["data"].items() if k != "provenance"})


def take_census(db_url: str, wanted: dict[str, Wanted]) -> Census:
    store = Store(db_url)
    try:
        records = [r for s in store.sources() for r in store.records_of(s["id"])]
        shown = {e["entry_id"]: shown_content(e) for e in store.entries()}
    finally:
        store.close()
    stored = {r["global_id"]: r for r in records}
    present = [gid for gid, w in wanted.items() if gid in stored and stored[gid]["content_hash"] == w.content
               and stored[gid]["entry_id"] == w.entry_id and shown.get(w.entry_id) == w.content]
    entry_ids = {w.entry_id for w in wanted.values()}
    duplicates = (sum(n - 1 for n in Counter(r["global_id"] for r in records).values())
                  + sum(n - 1 for n in Counter(shown.values()).values()))
    stray = sum(e not in entry_ids for e in shown) + sum(gid not in wanted for gid in stored)
    return Census(len(wanted), len(present), duplicates, stray, Counter(wanted[gid].source_id for gid in present))


def query(db_url: str, sql: str, args: tuple = ()) -> list[tuple]:
    """Rows of one statement on a connection of its own (so a restart of the server costs nothing)."""
    with psycopg.connect(db_url, autocommit=True, connect_timeout=5) as db:
        cursor = db.execute(sql, args)
        return cursor.fetchall() if cursor.description else []


def wait_for(condition, seconds: float, what: str, pause: float = 0.2):
    """The first truthy value of ``condition()`` (asked every ``pause`` s, database errors counting
    as "not yet"); DrillFailed after ``seconds``."""
    give_up = time.monotonic() + seconds
    while time.monotonic() < give_up:
        try:
            found = condition()
        except psycopg.Error:
            found = None
        if found:
            return found
        time.sleep(pause)
    raise DrillFailed(f"{what}: not within {seconds:.0f} s")


# --- the drill's world: database, feeds, harvesters, web app -------------------------------

def _die_with_the_drill() -> None:
    """In a harvester's process before it starts: be killed when the drill's process dies, so no
    harvester outlives a drill that was itself killed."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class Drill:
    """The PostgreSQL server, the feed server, the registry, the directory under drill and the
    harvester processes; ``close()`` ends and removes all of them."""

    def __init__(self, args: argparse.Namespace):
        self.args, self.today, self.version = args, date.today(), 1
        self.folder = Path(tempfile.mkdtemp(prefix="wegweiser-fault-drill-"))
        self.processes: list[subprocess.Popen] = []
        self.logs: list[Path] = []          # of the harvesters of the scenario running now
        self.started = 0                    # harvesters started in all, naming their logs
        self.postgres: PostgresServer | None = None
        self.feed_server = None
        self.app = None

    def start(self) -> "Drill":
        """Start the feed server and PostgreSQL and make the directory under drill; ``close()``
        removes whatever of it was started, also when this fails half-way."""
        self.feeds_port = self._start_feeds()
        self.registry = self._write_registry()
        self.postgres = started_server()
        self.db_url = self.postgres.new_database()
        self.app = self._health_app()
        return self

    def _start_feeds(self) -> int:
        context = get_context("spawn")
        ready = context.Queue()
        self.feed_server = context.Process(target=serve_feeds, daemon=True,
                                           args=(self.args.records, self.args.delay, self.today, ready, os.getpid()))
        self.feed_server.start()
        try:
            return ready.get(timeout=60)
        except queue.Empty:
            raise DrillFailed("the feed server did not start") from None

    def _write_registry(self) -> Path:
        path = self.folder / "sources.toml"
        path.write_text("".join(
            f'[[source]]\nid = "{source_id(n)}"\nname = "Brücke {town_of(n)[0]} {n}"\n'
            f'url = "http://127.0.0.1:{self.feeds_port}/feeds/{n:05d}.json"\nkind = "{ORGANISATION_KINDS[n % len(ORGANISATION_KINDS)]}"\n'
            f'town = "{town_of(n)[0]}"\nags = "{town_of(n)[1]}"\ninterval = "1h"\nallow_private = true\n\n'
            for n in range(self.args.sources)), encoding="utf-8")
        return path

    @property
    def source_ids(self) -> list[str]:
        return [source_id(n) for n in range(self.args.sources)]

    def feeds(self, **change) -> None:
        """Tell the feed server what to say from now on (version, flap, empty)."""
        with urlopen(f"http://127.0.0.1:{self.feeds_port}/control?{urlencode(change)}", timeout=10):
            pass

    def wanted(self, emptied: frozenset = frozenset()) -> dict[str, Wanted]:
        return reference(self.args.sources, self.args.records, self.version, self.today, emptied)

    # --- the wegweiser command ---

    def wegweiser(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "wegweiser", *args, "--sources", str(self.registry)]

    def start_harvesters(self, db_url: str) -> list[subprocess.Popen]:
        """HARVESTERS schedule processes on one directory, each logging to a file of its own."""
        started = []
        for _ in range(HARVESTERS):
            self.started += 1
            self.logs.append(self.folder / f"harvester-{self.started}.log")
            with open(self.logs[-1], "wb") as output:
                process = subprocess.Popen(
                    self.wegweiser("schedule", "--db", db_url, "--workers", str(WORKERS), "--lease", str(LEASE)),
                    cwd=REPO, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT, preexec_fn=_die_with_the_drill)
            self.processes.append(process)
            started.append(process)
        return started

    def broken_off(self) -> set[str]:
        """The sources whose harvest the running harvesters logged as failed unexpectedly (an error
        that escaped the harvest, so nothing was recorded on the source)."""
        found = set()
        for path in self.logs:
            found |= set(BROKEN_OFF.findall(path.read_text(errors="replace")))
        return found

    def stop_harvesters(self) -> None:
        """SIGTERM every running harvester (it finishes its harvests), SIGKILL one that hangs."""
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        self.processes = []

    def forget_logs(self) -> None:
        self.logs = []

    def harvest(self, *source_ids: str) -> None:
        """One `wegweiser harvest` run of the named sources (all when none are named)."""
        only = [arg for s in source_ids for arg in ("--source", s)]
        done = subprocess.run(self.wegweiser("harvest", "--db", self.db_url, "--workers", "4", *only), cwd=REPO,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise DrillFailed(f"wegweiser harvest exited {done.returncode}: {done.stderr.strip()[-500:]}")

    # --- the web app's health page ---

    def _health_app(self):
        """The web app over the directory under drill, made while the database answers."""
        from webapp import create_app
        app = create_app(self.db_url)
        app.logger.setLevel(logging.CRITICAL)  # the database error of the outage probe is expected
        return app

    def health(self) -> dict[str, dict]:
        """/sources.json by source id, waiting out a 503 while the database comes back."""
        client = self.app.test_client()

        def answered():
            response = client.get("/sources.json?lang=en")
            return response.get_json() if response.status_code == 200 else None

        return {s["id"]: s for s in wait_for(answered, 60, "/sources.json answering 200")["sources"]}

    def summary(self) -> str:
        found = self.app.test_client().get("/sources.json?lang=en").get_json()["summary"]
        return "summary: " + ", ".join(f"{k} {v}" for k, v in found.items() if v)

    # --- the directory ---

    def last_log_id(self, db_url: str | None = None) -> int:
        return query(db_url or self.db_url, "SELECT coalesce(max(id), 0) FROM harvest_log")[0][0]

    def logs_since(self, mark: int, db_url: str | None = None) -> list[dict]:
        rows = query(db_url or self.db_url, "SELECT id, source_id, status, failure_class, harvester, message "
                                            "FROM harvest_log WHERE id > %s ORDER BY id", (mark,))
        return [dict(zip(("id", "source_id", "status", "failure_class", "harvester", "message"), row)) for row in rows]

    def leases(self, db_url: str | None = None) -> dict[str, str]:
        """Source id -> the harvester holding it now. A lease that ran out is not held, even while
        the source still names its last holder (one that could not give it back)."""
        rows = query(db_url or self.db_url, "SELECT id, leased_by, lease_until FROM sources WHERE leased_by IS NOT NULL")
        now = stamp(utc_now())
        return {source: holder for source, holder, until in rows if until > now}

    def all_ok_since(self, mark: int, db_url: str | None = None) -> bool:
        """Every source stored by a harvest after log entry ``mark``, and none failing now."""
        url = db_url or self.db_url
        stored = {row["source_id"] for row in self.logs_since(mark, url) if row["status"] == "ok"}
        failing = query(url, "SELECT count(*) FROM sources WHERE status != 'ok'")[0][0]
        return stored >= set(self.source_ids) and not failing

    def ensure_filled(self) -> None:
        """A directory holding every feed, for scenarios run without the kill before them."""
        if not query(self.db_url, "SELECT count(*) FROM sources WHERE status = 'ok'")[0][0]:
            self.harvest()

    def close(self) -> None:
        self.stop_harvesters()
        if self.app is not None:
            self.app.extensions["wegweiser_store"].close()
        if self.feed_server is not None:
            self.feed_server.terminate()
            self.feed_server.join(10)
        if self.postgres is not None:
            self.postgres.remove()
        shutil.rmtree(self.folder, ignore_errors=True)

    def harvester_log_tail(self, lines: int = 40) -> str:
        """The last lines of the logs of the scenario's harvesters, for a scenario that failed."""
        tails = []
        for path in self.logs:
            text = path.read_text(errors="replace").splitlines()[-lines:]
            tails.append(f"--- {path.name}\n" + "\n".join(text))
        return "\n".join(tails)


# --- the scenarios -------------------------------------------------------------------------

@dataclass
class Result:
    name: str
    time: str = ""                 # the scenario's figure, short, for the table
    timing: str = ""               # the same beside the baseline, under the table
    headline: str = "-"            # what the health page says, short, for the table
    seconds: float | None = None   # the baseline's time to all ok, for the others to stand beside
    census: Census | None = None
    said: list[str] = field(default_factory=list)      # quotes from /sources.json
    checks: list[tuple[str, bool]] = field(default_factory=list)
    error: str | None = None

    def check(self, what: str, holds: bool) -> None:
        self.checks.append((what, bool(holds)))

    @property
    def ok(self) -> bool:
        return self.error is None and bool(self.checks) and all(holds for _, holds in self.checks)


def check_directory(result: Result, census: Census) -> None:
    result.census = census
    result.check(f"no record lost ({census.present} of {census.expected} present with their content)",
                 census.present == census.expected)
    result.check(f"no duplicate ({census.duplicates})", census.duplicates == 0)
    result.check(f"nothing stray ({census.stray} entries or records not in the reference)", census.stray == 0)


def check_nothing_shown_harvesting(result: Result, health: dict[str, dict]) -> None:
    """With every harvester stopped, no source may be shown as being harvested ("Harvesting now")."""
    shown = {s: h["harvesting"] for s, h in health.items() if h["harvesting"]}
    result.check("with every harvester stopped, /sources.json shows no source as being harvested"
                 + "".join(f"; {s} shows harvesting {h}" for s, h in sorted(shown.items())), not shown)
    for source, harvesting in sorted(shown.items())[:1]:
        result.said.append(f"{source} after every harvester stopped: harvesting {harvesting} "
                           f"(the page says \"Harvesting now\")")


def settle_deadline(drill: Drill) -> float:
    """Long enough for the harvesters to go through every source once, with room for a takeover."""
    return 60 + drill.args.sources * drill.args.records * 0.02 + drill.args.sources * drill.args.delay


def baseline(drill: Drill) -> Result:
    """Three schedule processes harvest a fresh directory with no fault."""
    result = Result("baseline: no fault")
    db_url = drill.postgres.new_database()
    started = time.monotonic()
    drill.start_harvesters(db_url)
    wait_for(lambda: drill.all_ok_since(0, db_url), settle_deadline(drill), "every source harvested (baseline)")
    seconds = time.monotonic() - started
    drill.stop_harvesters()
    result.time, result.seconds = f"{seconds:.1f} s start -> all ok", seconds
    check_directory(result, take_census(db_url, drill.wanted()))
    return result


def holder_pid(holder: str) -> int:
    """The process id in a harvester's name (host:pid:tag)."""
    return int(holder.rsplit(":", 2)[1])


def kill_scenario(drill: Drill, base: float) -> Result:
    result = Result("kill -9 a harvester")
    started = time.monotonic()
    processes = drill.start_harvesters(drill.db_url)

    def one_holding_leases():
        holders = {holder_pid(holder): holder for holder in drill.leases().values()}
        return next(((p, holders[p.pid]) for p in processes if p.pid in holders), None)

    victim, victim_name = wait_for(one_holding_leases, 60, "a harvester holding leases", pause=0.05)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(timeout=10)
    killed = time.monotonic()
    in_flight = sorted(s for s, holder in drill.leases().items() if holder == victim_name)
    wait_for(lambda: drill.all_ok_since(0), settle_deadline(drill), "every source harvested after the kill")
    done = time.monotonic()
    drill.stop_harvesters()
    result.time = f"{done - killed:.1f} s kill -> all ok"
    result.timing = f"{done - started:.1f} s start -> all ok, beside {base:.1f} s in the baseline"

    stored_by = {row["source_id"]: row["harvester"] for row in drill.logs_since(0) if row["status"] == "ok"}
    taken_over = sorted(s for s in in_flight if stored_by.get(s) not in (None, victim_name))
    finished = sorted(s for s in in_flight if stored_by.get(s) == victim_name)
    result.check(f"the kill landed while {victim_name} held sources ({', '.join(in_flight)})", in_flight)
    result.check(f"its sources in flight were taken over by another harvester ({len(taken_over)} taken over, "
                 f"{len(finished)} stored by it just before the kill)", taken_over and len(taken_over) + len(finished) == len(in_flight))
    result.check("the killed harvester holds no source any more", victim_name not in drill.leases().values())
    check_directory(result, take_census(drill.db_url, drill.wanted()))
    health = drill.health()
    check_nothing_shown_harvesting(result, health)
    result.check("/sources.json shows every source ok", all(h["condition"] == "ok" for h in health.values()))
    result.said.append(drill.summary())
    for source in taken_over:
        history = "; ".join(f"{h['status']} by {by(h['harvester'])}" for h in health[source]["history"])
        result.said.append(f"{source}: condition {health[source]['condition']}; history (newest first): {history} "
                           f"-- no entry by the killed {victim_name}")
    result.headline = f"all ok; the {len(taken_over)} taken over name their new harvester, the killed one left no entry"
    return result


def by(harvester: str | None) -> str:
    """Who made a harvest log entry: a schedule process, or a `wegweiser harvest` run (no name)."""
    return harvester or "a wegweiser harvest run"


def restart_scenario(drill: Drill, base: float) -> Result:
    result = Result("restart PostgreSQL mid-harvest")
    drill.ensure_filled()
    drill.version += 1
    drill.feeds(version=drill.version)
    query(drill.db_url, "UPDATE sources SET next_check = NULL")  # every source due now
    mark = drill.last_log_id()
    started = time.monotonic()
    drill.start_harvesters(drill.db_url)
    in_flight = strike_mid_write(drill, mark)
    down = time.monotonic()
    drill.postgres.stop("fast")
    outage = drill.app.test_client().get("/sources.json?lang=en")
    time.sleep(drill.args.pause)
    drill.postgres.start()
    back = time.monotonic()
    result.check(f"while the database was down /sources.json answered 503 with Retry-After "
                 f"({outage.status_code}, Retry-After {outage.headers.get('Retry-After')})",
                 outage.status_code == 503 and outage.headers.get("Retry-After"))
    result.said.append(f"during the outage: HTTP {outage.status_code}, Retry-After {outage.headers.get('Retry-After')}: "
                       f"\"{(outage.get_json() or {}).get('error')}\"")

    def settled():
        """Each source's last harvest since the mark, once every one stored or failed and no harvest runs any more."""
        last = {row["source_id"]: row for row in drill.logs_since(mark)}
        done = all(s in last and last[s]["status"] in ("ok", "failed") for s in drill.source_ids)
        return last if done and not drill.leases() else None

    last = wait_for(settled, settle_deadline(drill), "every harvest the restart broke off recorded or retried")
    caught = sorted(s for s, row in last.items() if row["failure_class"] == "database")
    misfiled = sorted(s for s, row in last.items() if row["status"] == "failed" and row["failure_class"] != "database")
    untold = sorted(drill.broken_off() - set(caught) - set(misfiled))
    result.check(f"the restart struck while harvests were storing ({len(caught)} could not store: {', '.join(caught)}; "
                 f"{in_flight} sources were being harvested)", caught)
    failing = drill.health()
    result.check("while they wait for their retry, /sources.json shows them failing with failure_class 'database'",
                 all(failing[s]["condition"] == "failing" and failing[s]["failure_class"] == "database" for s in caught))
    result.check("every harvest the restart broke off is told on /sources.json as 'database' "
                 f"({describe_untold(untold, misfiled, last)})", not untold and not misfiled)
    if caught:
        first = failing[caught[0]]
        result.said.append(f"{caught[0]} while failing: condition {first['condition']}, failure_class {first['failure_class']}, "
                           f"failure \"{first['failure']}\", last_error \"{first['last_error']}\", next_check {first['next_check']}")
    for source in misfiled:
        state = failing[source]
        result.said.append(f"{source} while failing: condition {state['condition']}, failure_class {state['failure_class']}, "
                           f"last_error \"{state['last_error']}\", next_check {state['next_check']}")
    retry_after_restart(drill, caught, misfiled)
    wait_for(lambda: drill.all_ok_since(mark), DATABASE_RETRY.total_seconds() + settle_deadline(drill),
             "every source stored after the restart")
    done = time.monotonic()
    drill.stop_harvesters()
    how = "retried by wegweiser harvest" if drill.args.retry == "harvest" else "retried by the schedule after 2 min"
    result.time = f"{done - back:.1f} s restart -> all ok"
    result.timing = (f"{how}{'; the misfiled retried by wegweiser harvest' if misfiled else ''}; {done - started:.1f} s "
                     f"start -> all ok, beside {base:.1f} s in the baseline; PostgreSQL down {back - down:.1f} s")
    check_directory(result, take_census(drill.db_url, drill.wanted()))
    health = drill.health()
    result.check("every source ok afterwards on /sources.json", all(h["condition"] == "ok" for h in health.values()))
    check_nothing_shown_harvesting(result, health)
    healed = [s for s in caught if _database_then_ok([h["failure_class"] or h["status"] for h in health[s]["history"]])]
    result.check(f"each caught source's history shows the 'database' failure, then ok ({len(healed)} of {len(caught)})",
                 len(healed) == len(caught))
    for source in caught[:1] + untold[:1]:
        history = "; ".join(f"{h['status']}{'/' + h['failure_class'] if h['failure_class'] else ''} by {by(h['harvester'])}"
                            for h in health[source]["history"][:3])
        result.said.append(f"{source} afterwards: condition {health[source]['condition']}; history (newest first): {history}")
    result.said.append(drill.summary())
    result.headline = (f"503 while down; {len(caught)} failing 'database', then ok"
                       + (f"; {len(untold)} broken off with no entry" if untold else "")
                       + (f"; {len(misfiled)} filed as {', '.join(sorted({last[s]['failure_class'] for s in misfiled}))}" if misfiled else ""))
    return result


def strike_mid_write(drill: Drill, mark: int) -> int:
    """Wait until a quarter of the sources are stored and a harvest holds the directory's write lock
    (it is storing right now), so the restart cuts a write; how many sources are being harvested then."""
    quarter = max(1, drill.args.sources // 4)
    with psycopg.connect(drill.db_url, autocommit=True) as db:  # one connection, one round trip: a write lasts milliseconds

        def writing_mid_run():
            stored, writing, leased = db.execute(
                "SELECT (SELECT count(*) FROM harvest_log WHERE id > %s AND status = 'ok'), "
                "(SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid = %s), "
                "(SELECT count(*) FROM sources WHERE leased_by IS NOT NULL AND lease_until > %s)",
                (mark, WRITE_LOCK & 0xFFFFFFFF, stamp(utc_now()))).fetchone()
            return stored >= quarter and writing and leased

        return wait_for(writing_mid_run, settle_deadline(drill), "a quarter of the sources stored and a harvest storing",
                        pause=0.005)


def describe_untold(untold: list[str], misfiled: list[str], last: dict[str, dict]) -> str:
    """The harvests broken off by the restart that the health page does not show as a database failure."""
    parts = [f"{', '.join(untold)} broke off while reading the directory (logged by the schedule as \"the harvest "
             "failed unexpectedly\"), with no entry on the source; retried once their lease ran out"] if untold else []
    parts += [f"{s} recorded as '{last[s]['failure_class']}'" for s in misfiled]
    return "; ".join(parts) or "all told"


def retry_after_restart(drill: Drill, caught: list[str], misfiled: list[str]) -> None:
    """Retry what the restart broke off: the 'database' failures by the chosen way (the schedule
    retries them after two minutes by itself); a failure of another class waits longer, so it is
    always retried by `wegweiser harvest`."""
    again = (caught if drill.args.retry == "harvest" else []) + misfiled
    if again:
        drill.harvest(*again)


def _database_then_ok(history: list[str]) -> bool:
    """True when a history (newest first) has ok after a 'database' failure."""
    return "database" in history and "ok" in history[:history.index("database")]


def _chosen_source(drill: Drill, n: int) -> tuple[int, str, dict, int]:
    """The n-th source of a filled directory (wrapping around): its number, id, the reference, and
    how many records it publishes."""
    drill.ensure_filled()
    n %= drill.args.sources
    source, wanted = source_id(n), drill.wanted()
    return n, source, wanted, sum(w.source_id == source for w in wanted.values())


def flap_scenario(drill: Drill) -> Result:
    result = Result("flapping source")
    n, source, wanted, count = _chosen_source(drill, 1)
    drill.feeds(flap=n)
    started = time.monotonic()
    seen, classes = [], []
    try:
        for run in range(1, drill.args.flap_runs + 1):
            drill.harvest(source)
            census = take_census(drill.db_url, wanted)
            state = drill.health()[source]
            broken = run % 2 == 0
            seen.append(state["condition"])
            result.check(f"run {run} ({'broken' if broken else 'good'}): {census.present_by_source[source]} of {count} records "
                         f"stay, {census.duplicates} duplicates, condition {state['condition']}",
                         census.present_by_source[source] == count and census.complete
                         and state["condition"] == ("failing" if broken else "ok") and (state["last_error"] if broken else True))
            if broken:
                classes.append(state["failure_class"])
                result.said.append(f"run {run}: condition {state['condition']}, failure_class {state['failure_class']}, "
                                   f"last_error \"{state['last_error']}\"")
    finally:
        drill.feeds(flap="none")
    result.time = f"{time.monotonic() - started:.1f} s for {drill.args.flap_runs} harvests"
    history = [h["status"] for h in drill.health()[source]["history"][:drill.args.flap_runs]][::-1]
    result.check(f"its history alternates good and failed ({' '.join(history)})",
                 all((status == "failed") == (i % 2 == 1) for i, status in enumerate(history)) and len(history) == drill.args.flap_runs)
    result.said.append(f"history, oldest first: {' '.join(history)}; condition after each run: {' '.join(seen)}")
    result.headline = f"failing ({', '.join(sorted(set(classes)))}) and ok in turn, last_error when failing"
    check_directory(result, take_census(drill.db_url, wanted))
    return result


def others_snapshot(drill: Drill, source: str) -> list[tuple]:
    """Every other source's records and their entries as stored, to show they were not touched."""
    records = query(drill.db_url, "SELECT source_id, global_id, content_hash, withdrawn_at, fetched_at FROM records "
                                  "WHERE source_id <> %s ORDER BY key", (source,))
    entries = query(drill.db_url, "SELECT entry_id, content_hash, sequence, updated, withdrawn_at FROM entries WHERE entry_id IN "
                                  "(SELECT entry_id FROM records WHERE source_id <> %s) ORDER BY entry_id", (source,))
    return records + entries


def empty_scenario(drill: Drill) -> Result:
    result = Result("suddenly empty source")
    n, source, wanted, count = _chosen_source(drill, 2)
    before = others_snapshot(drill, source)
    drill.feeds(empty=n)
    started = time.monotonic()
    for run in range(1, SHRINK_CONFIRMATIONS + 1):
        drill.harvest(source)
        state = drill.health()[source]
        last = run == SHRINK_CONFIRMATIONS
        present = take_census(drill.db_url, wanted).present_by_source[source]
        if last:
            result.check(f"harvest {run}: the shrink confirmed, its {count} records withdrawn by design ({present} left), "
                         f"condition {state['condition']}", present == 0 and "withdrawn" in (state["notice"] or ""))
        else:
            result.check(f"harvest {run}: its {count} records held ({present} present), condition {state['condition']}, "
                         f"withdrawals held since {state['withdrawals_held_since']}",
                         present == count and state["condition"] == "attention" and "held" in (state["notice"] or ""))
        result.said.append(f"harvest {run}: condition {state['condition']}, notice \"{state['notice']}\"")
    result.time = f"{time.monotonic() - started:.1f} s for {SHRINK_CONFIRMATIONS} harvests"
    result.headline = (f"attention: shrink notice, withdrawals held {SHRINK_CONFIRMATIONS - 1} harvests, "
                       f"withdrawn at harvest {SHRINK_CONFIRMATIONS}")
    result.check("no other source's records or entries changed", others_snapshot(drill, source) == before)
    check_directory(result, take_census(drill.db_url, drill.wanted(emptied=frozenset({n}))))
    return result


# --- the run -------------------------------------------------------------------------------

def run_scenario(drill: Drill, name: str, scenario, *args) -> Result:
    """A scenario's result; one that breaks off is a failed result with the reason (and the
    harvesters' last log lines on standard error), and the harvesters it started are stopped either way."""
    print(f"... {name}", file=sys.stderr, flush=True)
    try:
        result = scenario(drill, *args)
    except (DrillFailed, psycopg.Error, subprocess.SubprocessError, OSError) as exc:
        result = Result(name, error=f"{type(exc).__name__}: {exc}")
    finally:
        drill.stop_harvesters()
    if not result.ok:
        print(drill.harvester_log_tail(), file=sys.stderr)
    drill.forget_logs()
    return result


def run_all(drill: Drill) -> list[Result]:
    """The baseline, then the chosen scenarios in their fixed order (each leaves the directory as
    the next expects it: the kill fills it, the restart changes every feed)."""
    base = run_scenario(drill, "baseline: no fault", baseline)
    results = [base]
    seconds = base.seconds or float("nan")
    steps = {"kill": (kill_scenario, seconds), "restart": (restart_scenario, seconds), "flap": (flap_scenario,),
             "empty": (empty_scenario,)}
    for name in SCENARIOS:
        if name in drill.args.scenarios:
            scenario, *extra = steps[name]
            results.append(run_scenario(drill, name, scenario, *extra))
    return results


def report(args: argparse.Namespace, results: list[Result]) -> None:
    print(f"fault drill: {args.sources} sources x {args.records} records, answers held {args.delay} s, "
          f"{HARVESTERS} schedule processes x {WORKERS} workers, leases of {LEASE} s; PostgreSQL on 127.0.0.1\n")
    rows = [("scenario", "time", "records expected / present", "duplicates", "the health page says", "verdict")]
    for r in results:
        figures = (f"{r.census.expected:,} / {r.census.present:,}", f"{r.census.duplicates}") if r.census else ("-", "-")
        rows.append((r.name, r.time or "-", *figures, r.headline, "ok" if r.ok else "FAILED"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    for r in results:
        print(f"\n{r.name}: {'ok' if r.ok else 'FAILED'}")
        if r.error:
            print(f"  broke off: {r.error}")
        if r.timing:
            print(f"  time: {r.timing}")
        for what, holds in r.checks:
            print(f"  [{'ok' if holds else 'FAILED'}] {what}")
        for quote in r.said:
            print(f"  health: {quote}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sources", type=int, default=24, help="generated feeds (default 24; at least 3)")
    parser.add_argument("--records", type=int, default=30, help="records per feed (default 30; at least 8, for the shrink guard)")
    parser.add_argument("--delay", type=float, default=0.5, help="seconds each feed answer is held back (default 0.5)")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS),
                        help=f"which to run after the baseline, always in the order {','.join(SCENARIOS)} (default all)")
    parser.add_argument("--retry", choices=("wait", "harvest"), default="wait",
                        help="after the restart: wait for the schedule's own retry (2 min, the default) or run "
                             "wegweiser harvest for the sources that could not store")
    parser.add_argument("--flap-runs", type=int, default=6, help="harvests of the flapping source (default 6)")
    parser.add_argument("--pause", type=float, default=1.0, help="seconds PostgreSQL stays down in the restart (default 1)")
    args = parser.parse_args(argv)
    chosen = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = sorted(set(chosen) - set(SCENARIOS))
    if unknown or args.sources < 3 or args.records < 8 or args.flap_runs < 2:
        parser.error(f"scenarios are {', '.join(SCENARIOS)}; at least 3 sources, 8 records, 2 flap runs"
                     + (f" (unknown: {', '.join(unknown)})" if unknown else ""))
    args.scenarios = chosen
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM ends the drill like Ctrl-C, through the clean-up below.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    drill = Drill(args)
    try:
        results = run_all(drill.start())
    finally:
        drill.close()
    report(args, results)
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
