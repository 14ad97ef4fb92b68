"""Load drill: the web app under gunicorn answering a mixed load while a full harvest rewrites the
directory, beside the same load with no harvest running, both measured in the same run.

    python bench/load_drill.py [--backend postgresql|sqlite] [--sources 40] [--records 50]
                               [--workers 4] [--clients 8] [--seconds 20]

The defaults take about two minutes on 2 cores. The larger figures, about three and a half minutes:
``--sources 60 --records 60 --clients 16 --seconds 30`` (3,600 records; a full harvest under that load
takes over a minute, so phase 2 runs longer than asked). Most of the time goes into the harvests.

What runs, each in a process of its own and all on 127.0.0.1:
- a PostgreSQL server of its own (tests/postgres.py), or a SQLite file with ``--backend sqlite``;
- a feed server serving ``--sources`` generated feeds of ``--records`` records (offers and events
  with German and Turkish texts, as bench/harvest_bench.py makes them) on a few ports, standing in
  for a region's many hosts, since the harvester sends one request at a time to each host. Every feed
  carries a version number in its texts: raising it changes every feed's body and ETag at once;
- ``wegweiser harvest`` fills the directory, then gunicorn serves ``webapp:create_app()`` over it
  with ``--workers`` workers;
- a load process of ``--clients`` threads sends, one request after the other per thread: search
  pages (``/?q=...`` in German and Turkish, with facets), ``/events``, ``/api/v1/offers`` and
  ``/api/v1/events`` lists, ``/events.ics`` of a town, and the same calendars with the ETag of their
  last answer in If-None-Match, as calendar apps poll.

The phases: a full harvest with no load (every feed changed, so every source is rewritten); then
the load for ``--seconds`` with no harvest
(phase 1); then the same load while full harvests run one after the other, each with every feed
changed again, until ``--seconds`` have passed and the last one has finished (phase 2). Before each
phase every client thread asks for every address once, unmeasured, so both phases start with warm
web workers. After every harvest the drill checks that each source was rewritten.

How to read it: per request kind and phase, requests, throughput (requests a second), median and 95th
percentile latency (each request timed from connecting to its body read) and errors, then the ratios
phase 2 / phase 1; and how long a full harvest took alone and under load (each timed as the whole
``wegweiser harvest`` command, its start-up included). The ratios are the figures: these machines are
noisy and their cores are shared by the load, the web workers, the database and the harvest.

An error is a status other than 200 (or 304 to a conditional request), a connection that failed or
timed out, or a body that fails a cheap check: JSON that does not parse or lacks the list's keys, a
calendar that does not start with BEGIN:VCALENDAR and end with END:VCALENDAR, a page without its list
of results. A calendar asked for again with its ETag must be answered 304 while no harvest runs; a
304 must carry the ETag asked with. The drill exits with status 1 if there was any error, printing the
first ones with their address and reason. Every server and temporary folder is removed at the end.
"""
import argparse
import ctypes
import http.client
import json
import math
import os
import platform
import queue
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date
from hashlib import sha256
from multiprocessing import get_context
from pathlib import Path
from urllib.parse import urlencode

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the drill uses tests/postgres.py and the other benchmarks' feed generators

from bench.harvest_bench import FeedHandler, FeedServer, feed_document, feed_path, town_of  # noqa: E402
from bench.web_bench import SENTENCES_DE, SENTENCES_OTHER  # noqa: E402

FEED_HOSTS = 8              # ports the feeds are spread over, so the harvester fetches 8 at a time as from 8 hosts
VERSION_MARK = "%VERSION%"  # where a feed's version number goes; JSON writes it unchanged
REQUEST_TIMEOUT = 30        # seconds a request may take before it counts as an error (gunicorn's own worker timeout)
START_LIMIT = 60            # seconds the feed server, gunicorn and the load process may take to start
WARM_UP_LIMIT = 120         # seconds the load's warm-up may take
HARVEST_BASE_SECONDS = 120
HARVEST_SECONDS_PER_RECORD = 0.02  # a harvest slower than 50 records a second is given up
ERRORS_SHOWN = 10
PR_SET_PDEATHSIG = 1

SEARCHES = [{"q": "Ämtern"}, {"q": "danışmanlık"}, {"q": "Deutschkurs", "language": "tr"},
            {"category": "counselling", "town": "Lindenau"}, {"q": "ücretsiz", "town": "Auenfeld"},
            {"q": "Beratung", "category": "language-learning"}, {"q": "Kinderbetreuung"}, {"q": "çocuk bakımı"}]
EVENT_SEARCHES = [{}, {"town": "Lindenau"}, {"q": "Sprachcafé"}, {"category": "women"}, {"q": "Randevu"}]
API_OFFERS = [{"q": "Beratung", "per_page": "20"}, {"language": "tr"}, {"town": "Talheim", "category": "health"}, {"q": "belgelerinizi"},
              {"category": "work-and-career", "page": "2"}, {}]
API_EVENTS = [{"town": "Talheim"}, {"q": "Frauenfrühstück", "per_page": "50"}, {"category": "culture-and-leisure"}, {}]
CALENDAR_TOWNS = ["Lindenau", "Mühlbach", "Kreisstadt Wendel"]


def address(path: str, query: dict) -> str:
    return f"{path}?{urlencode(query)}" if query else path


@dataclass(frozen=True)
class Kind:
    """A kind of request: its label in the report, its share of the load, its addresses and how an
    answer is checked (``body``: html, json or ics; ``marker``: text a page must hold)."""

    label: str
    weight: int
    addresses: tuple[str, ...]
    body: str
    marker: str = ""
    conditional: bool = False


# What the load asks for. Calendar apps poll far more often than people search.
KINDS = [
    Kind("search page /", 3, tuple(address("/", q) for q in SEARCHES), "html", '<ol class="results">'),
    Kind("events page", 1, tuple(address("/events", q) for q in EVENT_SEARCHES), "html", 'aria-labelledby="dates"'),
    Kind("API offers", 2, tuple(address("/api/v1/offers", q) for q in API_OFFERS), "json"),
    Kind("API events", 2, tuple(address("/api/v1/events", q) for q in API_EVENTS), "json"),
    Kind(".ics", 1, tuple(address("/events.ics", {"town": t}) for t in CALENDAR_TOWNS), "ics"),
    Kind(".ics If-None-Match", 3, tuple(address("/events.ics", {"town": t}) for t in CALENDAR_TOWNS), "ics",
         conditional=True),
]
LIST_KEYS = {"total", "page", "pages", "links", "facets", "items"}


class Stopped(Exception):
    """The drill cannot go on: a server did not start, or a harvest failed or took too long."""


# --- the feeds, in a process of their own ------------------------------------------------------

def feed_template(n: int, records: int, today: date) -> bytes:
    """The n-th feed as JSON with VERSION_MARK in every offer's and event's German description, and a
    Turkish one beside it, so searches in both languages find something."""
    document = feed_document(n, records, today)
    for k, record in enumerate(document["offers"] + document["events"]):
        record["description"] = {"de": f"{SENTENCES_DE[(n + k) % len(SENTENCES_DE)]} Fassung {VERSION_MARK}.",
                                 "tr": SENTENCES_OTHER["tr"][k % len(SENTENCES_OTHER["tr"])]}
    return json.dumps(document, ensure_ascii=False).encode()


def feed_at(template: bytes, version: int) -> bytes:
    return template.replace(VERSION_MARK.encode(), str(version).encode())


class VersionedFeeds:
    """The feeds at the version the drill has set (a shared number): a feed's body and ETag are made
    when it is first asked for at a version, so raising the version costs nothing until a harvest asks."""

    def __init__(self, templates: dict[str, bytes], version):
        self.templates = templates
        self.version = version
        self._made: dict[str, tuple[int, bytes, str]] = {}
        self._lock = threading.Lock()

    def get(self, path: str) -> tuple[bytes, str] | None:
        template = self.templates.get(path)
        if template is None:
            return None
        version = self.version.value
        with self._lock:
            made = self._made.get(path)
        if made is None or made[0] != version:
            body = feed_at(template, version)
            made = (version, body, f'"{sha256(body).hexdigest()[:20]}"')
            with self._lock:
                self._made[path] = made
        return made[1], made[2]


def serve_feeds(sources: int, records: int, version, ready, parent_pid: int) -> None:
    """Serve the feeds on FEED_HOSTS free ports of 127.0.0.1, report the ports on ``ready``, and stop
    when the drill is gone."""
    today = date.today()
    feeds = VersionedFeeds({feed_path(n): feed_template(n, records, today) for n in range(sources)}, version)
    servers = []
    for _ in range(FEED_HOSTS):
        server = FeedServer(("127.0.0.1", 0), FeedHandler)
        server.feeds = feeds
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    ready.put([server.server_port for server in servers])
    while os.getppid() == parent_pid:
        time.sleep(0.5)


def check_generated(records: int) -> None:
    """Stop before starting anything if the validator finds fault with the generated feeds."""
    from feeds.validate import check_document
    document = json.loads(feed_at(feed_template(0, records, date.today()), 1))
    problems = check_document(document, today=date.today())
    if problems:
        sys.exit("the generated feeds are not clean, so the harvests would not rewrite every record:\n"
                 + "\n".join(p.format("generated feed") for p in problems[:10]))


# --- the load, in a process of its own ----------------------------------------------------------

@dataclass(frozen=True)
class Answer:
    """One request of the load as measured: ``problem`` is empty unless it counts as an error."""

    kind: str
    url: str
    status: int
    seconds: float
    problem: str = ""


def problem_with(kind: Kind, status: int, headers: http.client.HTTPMessage, body: bytes, etag: str | None,
                 quiet: bool) -> str:
    """Why an answer is wrong, or "" when it is right."""
    if kind.conditional and status == 304:
        return "" if headers.get("ETag") == etag else f"304 with the ETag {headers.get('ETag')}, asked with {etag}"
    if status != 200:
        return f"status {status}: {body[:200].decode(errors='replace')}"
    if kind.conditional and quiet:
        return "answered in full (200) though no harvest ran, so the calendar had not changed"
    if kind.body == "html":
        if kind.marker not in body.decode(errors="replace") or not body.rstrip().endswith(b"</html>"):
            return f"the page lacks {kind.marker} or its end"
    elif kind.body == "json":
        try:
            document = json.loads(body)
        except ValueError as exc:
            return f"the JSON does not parse: {exc}"
        if not isinstance(document, dict) or not LIST_KEYS <= document.keys() or not isinstance(document["items"], list):
            return f"the JSON is not a list's page (total, page, pages, links, facets, items): {body[:200]!r}"
    elif not body.startswith(b"BEGIN:VCALENDAR") or not body.endswith(b"END:VCALENDAR\r\n"):
        return "the calendar does not start with BEGIN:VCALENDAR and end with END:VCALENDAR"
    if kind.body == "ics" and not headers.get("ETag"):
        return "the calendar has no ETag"
    return ""


class Load:
    """The client threads of one phase, sharing the ETags of the calendars they fetched."""

    def __init__(self, port: int, quiet: bool):
        self.port = port
        self.quiet = quiet  # no harvest runs: a calendar asked for with its ETag must be a 304
        self.etags: dict[str, str] = {}

    def ask(self, kind: Kind, url: str) -> Answer:
        etag = self.etags.get(url) if kind.conditional else None
        started = time.perf_counter()
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT)
        try:
            connection.request("GET", url, headers={"If-None-Match": etag} if etag else {})
            response = connection.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException) as exc:
            return Answer(kind.label, url, 0, time.perf_counter() - started, f"no answer: {exc!r}")
        finally:
            connection.close()
        seconds = time.perf_counter() - started
        problem = problem_with(kind, response.status, response.headers, body, etag, self.quiet)
        if kind.body == "ics" and response.status == 200 and not problem:
            self.etags[url] = response.headers["ETag"]
        return Answer(kind.label, url, response.status, seconds, problem)

    def warm_up(self, clients: int) -> None:
        """Ask for every address once from each client thread, unmeasured, so that the phase measures
        warm web workers (templates compiled, connections open) and every calendar's ETag is known for
        the conditional requests. Stopped if any answer is wrong."""
        plain = [(kind, url) for kind in KINDS if not kind.conditional for url in kind.addresses]
        wrong: list[Answer] = []

        def one_of_each(seed: int) -> None:
            for kind, url in random.Random(seed).sample(plain, len(plain)):
                answer = self.ask(kind, url)
                wrong.extend([answer] if answer.problem else [])
        threads = [threading.Thread(target=one_of_each, args=(seed,), daemon=True) for seed in range(clients)]
        give_up = time.monotonic() + WARM_UP_LIMIT
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=max(0.0, give_up - time.monotonic()))
        if wrong or any(thread.is_alive() for thread in threads):
            reason = f"GET {wrong[0].url}: {wrong[0].problem}" if wrong else "it did not finish in time"
            raise Stopped(f"the warm-up before the phase went wrong: {reason}")

    def client(self, seed: int, stop, until: float, answers: list[Answer]) -> None:
        """Send requests one after the other, kinds drawn by their weights, until told to stop."""
        chooser = random.Random(seed)
        weights = [kind.weight for kind in KINDS]
        while not stop.is_set() and time.monotonic() < until:
            kind = chooser.choices(KINDS, weights)[0]
            answers.append(self.ask(kind, chooser.choice(kind.addresses)))


def run_load(port: int, clients: int, quiet: bool, limit: float, stop, events, parent_pid: int) -> None:
    """The load process: warm up, say "ready" on ``events``, send the load from ``clients`` threads until
    ``stop`` is set (or ``limit`` seconds, or the drill is gone), then put the seconds it ran and every
    answer on ``events``."""
    load = Load(port, quiet)
    try:
        load.warm_up(clients)
    except Stopped as stopped:
        events.put(("failed", str(stopped)))
        return
    events.put(("ready", None))
    until = time.monotonic() + limit
    lists: list[list[Answer]] = [[] for _ in range(clients)]
    threads = [threading.Thread(target=load.client, args=(seed, stop, until, lists[seed]), daemon=True)
               for seed in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        if os.getppid() != parent_pid:
            stop.set()
        time.sleep(0.2)
    events.put(("done", (time.monotonic() - started, [answer for answers in lists for answer in answers])))


# --- the servers and the harvests ---------------------------------------------------------------

def _die_with_parent() -> None:
    """In a child just before it starts: the kernel ends it should the drill die without cleaning up."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def open_database(backend: str, folder: Path, cleanup: ExitStack) -> tuple[str, str]:
    """The URL of a new, empty directory, and what it runs on."""
    if backend == "sqlite":
        import sqlite3
        return f"sqlite:///{folder / 'directory.sqlite'}", f"SQLite {sqlite3.sqlite_version}"
    from tests.postgres import started_server
    server = started_server()
    cleanup.callback(server.remove)
    return server.new_database(), f"PostgreSQL {server.bin.parent.name}"


def start_feed_server(context, sources: int, records: int, version, cleanup: ExitStack) -> list[int]:
    """The feed server's ports; Stopped if it dies or takes too long to start."""
    ready = context.Queue()
    server = context.Process(target=serve_feeds, args=(sources, records, version, ready, os.getpid()), daemon=True)
    server.start()
    cleanup.callback(server.join)
    cleanup.callback(server.terminate)
    give_up = time.monotonic() + START_LIMIT + sources * records * 0.001  # generating takes well under 1 ms a record
    while server.is_alive() and time.monotonic() < give_up:
        try:
            return ready.get(timeout=1)
        except queue.Empty:
            continue
    raise Stopped("the feed server did not start (see its error above, if any)")


def write_registry(folder: Path, sources: int, ports: list[int]) -> Path:
    """The registry of the generated feeds, spread over the feed server's ports."""
    lines = []
    for n in range(sources):
        town, ags = town_of(n)
        lines += ["[[source]]", f'id = "feed-{n:05d}"', f'name = "Brücke {town} {n}"',
                  f'url = "http://127.0.0.1:{ports[n % len(ports)]}{feed_path(n)}"', 'kind = "migrant-self-organisation"',
                  f'town = "{town}"', f'ags = "{ags}"', 'interval = "1h"', "allow_private = true", ""]
    path = folder / "sources.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


@dataclass
class Harvests:
    """What a full harvest needs, and the checks after it: every source rewritten, nothing rejected."""

    registry: Path
    db_url: str
    folder: Path
    sources: int
    limit: float

    def run(self, version, new_version: int, fresh: bool = False) -> float:
        """Change every feed to ``new_version``, harvest them all with ``wegweiser harvest``, check that
        every source was written, and return the seconds the command took."""
        version.value = new_version
        started = time.monotonic()
        try:
            done = subprocess.run([sys.executable, "-m", "wegweiser", "harvest", "--sources", str(self.registry),
                                   "--db", self.db_url], cwd=self.folder, capture_output=True, text=True,
                                  timeout=self.limit, preexec_fn=_die_with_parent, check=False)
        except subprocess.TimeoutExpired:
            raise Stopped(f"a harvest took longer than {self.limit:,.0f} s") from None
        seconds = time.monotonic() - started
        if done.returncode != 0:
            raise Stopped(f"wegweiser harvest ended with status {done.returncode}:\n{done.stderr[-3000:]}")
        self.check_rewritten(fresh)
        return seconds

    def check_rewritten(self, fresh: bool) -> None:
        from aggregator.store import Store
        store = Store(self.db_url)
        try:
            wrong = []
            for n in range(self.sources):
                last = store.harvest_log(f"feed-{n:05d}", 1)
                written = last and last[0]["status"] == "ok" and (last[0]["new"] if fresh else last[0]["updated"]) > 0
                if not written or last[0]["rejected"]:
                    wrong.append(f"feed-{n:05d}: {last[0] if last else 'never harvested'}")
        finally:
            store.close()
        if wrong:
            raise Stopped(f"{len(wrong)} sources were not rewritten by the harvest, e.g.\n" + "\n".join(wrong[:5]))


def start_web(db_url: str, workers: int, folder: Path, cleanup: ExitStack) -> tuple[int, Path]:
    """gunicorn serving the directory, once it answers; its port and log."""
    port, log = free_port(), folder / "gunicorn.log"
    # gunicorn's control socket (since version 25) goes in the drill's folder: one per drill, gone with it.
    environment = os.environ | {"WEGWEISER_DB": db_url, "XDG_RUNTIME_DIR": str(folder)}
    with log.open("wb") as output:
        web = subprocess.Popen([sys.executable, "-m", "gunicorn", "--workers", str(workers), "--bind", f"127.0.0.1:{port}",
                                "webapp:create_app()"], cwd=folder, env=environment,
                               stdout=output, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
    cleanup.callback(stop_web, web)
    give_up = time.monotonic() + START_LIMIT
    while time.monotonic() < give_up and web.poll() is None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            connection.request("GET", "/api/v1/offers?per_page=1")
            if connection.getresponse().status == 200:
                return port, log
        except OSError:
            pass
        finally:
            connection.close()
        time.sleep(0.2)
    raise Stopped(f"gunicorn did not answer within {START_LIMIT} s:\n{log.read_text(errors='replace')[-3000:]}")


def stop_web(web: subprocess.Popen) -> None:
    """Ask gunicorn to stop (it stops its workers), and end it if it takes too long."""
    web.terminate()
    try:
        web.wait(timeout=30)
    except subprocess.TimeoutExpired:
        web.kill()
        web.wait()


@dataclass
class Phase:
    """One phase's load as measured, and the harvests that ran under it."""

    label: str
    seconds: float
    answers: list[Answer]
    harvests: list[float]

    def of(self, label: str | None = None) -> list[Answer]:
        return [a for a in self.answers if label is None or a.kind == label]

    @property
    def errors(self) -> list[Answer]:
        return [a for a in self.answers if a.problem]


def load_phase(context, label: str, port: int, args, quiet: bool, during) -> Phase:
    """Start the load, run ``during()`` (which returns the harvests' seconds) while it runs, then stop it."""
    stop, events = context.Event(), context.Queue()
    limit = args.seconds + args.harvest_limit * (not quiet)
    load = context.Process(target=run_load, args=(port, args.clients, quiet, limit, stop, events, os.getpid()), daemon=True)
    load.start()
    try:
        state, detail = next_event(load, events, START_LIMIT + WARM_UP_LIMIT)
        if state != "ready":
            raise Stopped(f"the load could not start: {detail}")
        harvests = during()
        stop.set()
        _, (seconds, answers) = next_event(load, events, REQUEST_TIMEOUT + 30)
        return Phase(label, seconds, answers, harvests)
    finally:
        stop.set()
        load.join(timeout=10)
        if load.is_alive():
            load.terminate()
            load.join()


def next_event(load, events, limit: float) -> tuple:
    """The load process's next message; Stopped if it ends without one or takes longer than ``limit``."""
    give_up = time.monotonic() + limit
    while time.monotonic() < give_up:
        try:
            return events.get(timeout=1)
        except queue.Empty:
            if not load.is_alive():
                raise Stopped(f"the load process ended (status {load.exitcode}) without its figures") from None
    raise Stopped(f"the load process did not answer within {limit:,.0f} s")


def no_harvest(seconds: float) -> list[float]:
    """Let the load run alone."""
    time.sleep(seconds)
    return []


def harvests_for(seconds: float, harvests: Harvests, version) -> list[float]:
    """Full harvests one after the other, each with every feed changed, until ``seconds`` have passed."""
    started, took = time.monotonic(), []
    while not took or time.monotonic() - started < seconds:
        took.append(harvests.run(version, version.value + 1))
    return took


# --- the report ----------------------------------------------------------------------------------

def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


@dataclass(frozen=True)
class Figures:
    """What the table shows of one kind of request in one phase."""

    requests: int
    per_second: float
    median_ms: float
    p95_ms: float
    not_modified: int
    errors: int

    @classmethod
    def of(cls, answers: list[Answer], seconds: float) -> "Figures":
        times = [a.seconds * 1000 for a in answers] or [math.nan]
        return cls(len(answers), len(answers) / seconds, statistics.median(times), percentile(times, 0.95),
                   sum(a.status == 304 for a in answers), sum(bool(a.problem) for a in answers))


def ratio(part: float, base: float) -> str:
    return f"{part / base:7.2f} x" if base and not math.isnan(part / base) else f"{'-':>9}"


def print_table(phases: list[Phase]) -> None:
    print(f"{'':22}{'':16}{'requests':>9}{'req/s':>9}{'median ms':>11}{'p95 ms':>10}{'304s':>7}{'errors':>8}")
    for label in [kind.label for kind in KINDS] + [None]:
        figures = [Figures.of(phase.of(label), phase.seconds) for phase in phases]
        for name, (phase, f) in zip((label or "all", ""), zip(phases, figures)):
            print(f"{name:22}{phase.label:16}{f.requests:9,}{f.per_second:9.1f}{f.median_ms:11.2f}{f.p95_ms:10.2f}"
                  f"{f.not_modified:7,}{f.errors:8,}")
        quiet, busy = figures
        print(f"{'':22}{'phase 2/1':16}{'':9}{ratio(busy.per_second, quiet.per_second)}"
              f"{ratio(busy.median_ms, quiet.median_ms):>11}{ratio(busy.p95_ms, quiet.p95_ms):>10}")


def print_harvests(fill: float, alone: float, phase: Phase) -> None:
    under = phase.harvests
    print(f"full harvest (wegweiser harvest, every source written): first, into the empty directory {fill:.2f} s; "
          f"rewrite with no load {alone:.2f} s")
    print(f"  under load: {len(under)} rewrite{'s' * (len(under) != 1)}, median {statistics.median(under):.2f} s, "
          f"longest {max(under):.2f} s; median under load / alone: {ratio(statistics.median(under), alone).strip()}")


def print_directory(db_url: str) -> None:
    """What the load searches in: the entries as the last harvest left them."""
    from aggregator.store import Store
    store = Store(db_url)
    try:
        counts = {kind: len(store.entries(kind)) for kind in ("offer", "event", "organisation")}
    finally:
        store.close()
    print(f"directory: {counts['offer']:,} offers, {counts['event']:,} events, {counts['organisation']:,} organisations")


def print_errors(phases: list[Phase], log: Path) -> None:
    errors = [(phase.label, a) for phase in phases for a in phase.errors]
    print(f"\nNOT OK: {len(errors)} errors; the first {min(len(errors), ERRORS_SHOWN)}:")
    for label, a in errors[:ERRORS_SHOWN]:
        print(f"  [{label}] {a.kind}: GET {a.url} -> {a.problem}")
    print(f"gunicorn's log, its end:\n{log.read_text(errors='replace')[-2000:]}")


# --- the run -------------------------------------------------------------------------------------

def drill(args, cleanup: ExitStack) -> bool:
    """Set everything up, run both phases and print the figures; True if no request went wrong."""
    context = get_context("spawn")
    folder = Path(tempfile.mkdtemp(prefix="wegweiser-load-"))
    cleanup.callback(shutil.rmtree, folder, ignore_errors=True)
    db_url, database = open_database(args.backend, folder, cleanup)
    version = context.Value("i", 1)
    ports = start_feed_server(context, args.sources, args.records, version, cleanup)
    harvests = Harvests(write_registry(folder, args.sources, ports), db_url, folder, args.sources, args.harvest_limit)
    fill = harvests.run(version, 1, fresh=True)
    port, log = start_web(db_url, args.workers, folder, cleanup)
    alone = harvests.run(version, 2)
    quiet = load_phase(context, "no harvest", port, args, True, lambda: no_harvest(args.seconds))
    busy = load_phase(context, "during harvest", port, args, False, lambda: harvests_for(args.seconds, harvests, version))
    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, {database}")
    print(f"region: {args.sources:,} sources x {args.records} records over {FEED_HOSTS} feed ports; gunicorn "
          f"{args.workers} workers; load {args.clients} clients; phases of {args.seconds:g} s asked "
          f"(ran {quiet.seconds:.1f} s and {busy.seconds:.1f} s)")
    print_directory(db_url)
    print_harvests(fill, alone, busy)
    print_table([quiet, busy])
    if quiet.errors or busy.errors:
        print_errors([quiet, busy], log)
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--sources", type=int, default=40, help="generated feeds (larger figures: 60)")
    parser.add_argument("--records", type=int, default=50, help="records per feed (larger figures: 60)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--clients", type=int, default=8, help="threads of the load, each one request at a time (larger figures: 16)")
    parser.add_argument("--seconds", type=float, default=20, help="seconds of load per phase (larger figures: 30)")
    args = parser.parse_args()
    if min(args.sources, args.records, args.workers, args.clients) < 1 or args.seconds <= 0:
        parser.error("--sources, --records, --workers, --clients and --seconds must be positive")
    args.harvest_limit = HARVEST_BASE_SECONDS + args.sources * args.records * HARVEST_SECONDS_PER_RECORD
    check_generated(args.records)
    # Stopped from outside, the drill still removes its servers and folders on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with ExitStack() as cleanup:
        try:
            clean = drill(args, cleanup)
        except Stopped as stopped:
            print(f"the drill was stopped: {stopped}", file=sys.stderr)
            clean = False
    sys.exit(0 if clean else 1)


if __name__ == "__main__":
    main()
