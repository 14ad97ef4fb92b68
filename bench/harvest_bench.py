"""Harvest speed: a generated region of feeds served from 127.0.0.1, harvested cold and warm,
beside the floor of fetching and parsing the same bytes, all measured in the same run.

    python bench/harvest_bench.py [--sources 1000] [--records 200] [--workers 8] [--per-host N]

One HTTP server (a process of its own, so its CPU is not the harvester's) serves ``--sources``
valid JSON feeds of ``--records`` records each (organisations, offers and events), answering
If-None-Match with 304. Each phase runs in a fresh process, so its peak memory is its own:
- floor: every feed fetched with the aggregator's Fetcher and parsed with json.loads, nothing else;
- floor, conditional: every feed fetched with its ETag, each answered 304, nothing else;
- cold harvest: ``harvest_all`` into a new SQLite file (detect, parse, validate, merge, store);
- warm harvest: ``harvest_all`` again over the same store, every source answering 304.
All phases fetch with the same number of workers. A real region spreads its sources over many
hosts; here they share one, so the fetcher may send ``--per-host`` requests to it at once
(default: as many as there are workers) instead of its usual one.
A phase slower than 100 records a second is stopped, and the run says how many sources it had
done; the server stops with the run, and the SQLite file is removed.
Compare the ratios, not the absolute numbers: these machines are noisy.
"""
import argparse
import copy
import json
import os
import platform
import queue
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from hashlib import sha256
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing import TimeoutError as PhaseTimeout, get_context
from pathlib import Path

from aggregator.fetch import Fetcher

BASE = json.loads((Path(__file__).resolve().parents[1] / "tests" / "data" / "valid" / "minimal-complete.json").read_text())
RECORD_LISTS = ("organisations", "offers", "events")
TOWNS = [("Lindenau", "03999012"), ("Auenfeld", "03999003"), ("Brückhausen", "03999005"), ("Ostermoor", "03999021"),
         ("Talheim", "03999027"), ("Kreisstadt Wendel", "03999030"), ("Mühlbach", "03999018"), ("Sandow", "03999024")]
ORGANISATION_KINDS = ["migrant-self-organisation", "welfare-association", "volunteer-initiative",
                      "municipal-integration-office", "education-provider", "faith-community"]
CATEGORIES = ["counselling", "language-learning", "work-and-career", "health", "women", "culture-and-leisure",
              "family-and-children", "youth", "legal-and-residence"]
LANGUAGES = ["tr", "ar", "uk", "ru", "fa", "en"]
OFFER_TITLES = ["Offene Sprechstunde", "Deutschkurs für Anfängerinnen", "Migrationsberatung für Erwachsene",
                "Bewerbungswerkstatt", "Hausaufgabenhilfe", "Begleitung zu Ämtern"]
EVENT_TITLES = ["Frauenfrühstück", "Sprachcafé", "Infoabend Anerkennung von Abschlüssen", "Interkulturelles Kochen",
                "Elterncafé", "Fahrradwerkstatt"]
WEEKDAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
ORGANISATION_EVERY = 50     # one organisation per 50 records, the rest offers and events half each
RECURRING_EVERY = 4         # one event in four repeats weekly
SERVER_LIFETIME = 4 * 3600  # the server stops by itself even if this script is killed
PHASE_BASE_SECONDS = 120
PHASE_SECONDS_PER_RECORD = 0.01  # a phase slower than 100 records a second is given up


# --- the region --------------------------------------------------------------------------

def town_of(n: int) -> tuple[str, str]:
    """The town and municipality key of the n-th publisher."""
    return TOWNS[n % len(TOWNS)]


def feed_path(n: int) -> str:
    return f"/feeds/{n:05d}.json"


def feed_document(n: int, count: int, today: date) -> dict:
    """The n-th publisher's feed: ``count`` valid records dated around ``today``."""
    document = copy.deepcopy(BASE)
    town, ags = town_of(n)
    name = f"Brücke {town} {n}"
    document["publisher"].update(id=f"de.region.p{n:05d}", name={"de": name}, kind=ORGANISATION_KINDS[n % len(ORGANISATION_KINDS)],
                                 town={"name": town, "ags": ags})
    document["updated"] = _timestamp(today - timedelta(days=1))
    document["organisations"], document["offers"], document["events"] = [], [], []
    for k in range(count):
        if k % ORGANISATION_EVERY == 0:
            document["organisations"].append(_organisation(n, k, name, today))
        elif k % 2:
            document["offers"].append(_offer(n, k, town, today))
        else:
            document["events"].append(_event(n, k, today))
    return document


def _timestamp(day: date) -> str:
    return f"{day.isoformat()}T09:30:00+01:00"


def _organisation(n: int, k: int, name: str, today: date) -> dict:
    record = copy.deepcopy(BASE["organisations"][0])
    record.update(id=f"org-{k}", updated=_timestamp(today - timedelta(days=1 + k % 90)), name={"de": f"{name}, Bereich {k}"},
                  kind=ORGANISATION_KINDS[(n + k) % len(ORGANISATION_KINDS)])
    return record


def _offer(n: int, k: int, town: str, today: date) -> dict:
    record = copy.deepcopy(BASE["offers"][0])
    language = LANGUAGES[(n + k) % len(LANGUAGES)]
    title = OFFER_TITLES[k % len(OFFER_TITLES)]
    record.update(id=f"offer-{k}", updated=_timestamp(today - timedelta(days=1 + k % 90)), provider=f"org-{k - k % ORGANISATION_EVERY}",
                  title={"de": f"{title} ({n}-{k})", language: f"{title} [{language}] ({n}-{k})"},
                  categories=[CATEGORIES[k % len(CATEGORIES)]], languages=["de", language],
                  last_verified=(today - timedelta(days=30)).isoformat())
    record["locations"][0]["address"]["city"] = town
    record["schedules"][0]["byday"] = [WEEKDAYS[k % 5]]
    return record


def _event(n: int, k: int, today: date) -> dict:
    record = copy.deepcopy(BASE["events"][0])
    day = today + timedelta(days=1 + (3 * n + k) % 150)
    hour = 9 + k % 10
    title = EVENT_TITLES[k % len(EVENT_TITLES)]
    record.update(id=f"event-{k}", updated=_timestamp(today - timedelta(days=1 + k % 30)), organiser=f"org-{k - k % ORGANISATION_EVERY}",
                  title={"de": f"{title} ({n}-{k})"}, categories=[CATEGORIES[k % len(CATEGORIES)]],
                  start=f"{day.isoformat()}T{hour:02d}:00", end=f"{day.isoformat()}T{hour + 2:02d}:00")
    if k % RECURRING_EVERY:
        del record["recurrence"]
    else:
        until = day + timedelta(days=180)
        record["recurrence"] = {"rrule": f"FREQ=WEEKLY;BYDAY={WEEKDAYS[day.weekday()]};UNTIL={until:%Y%m%d}T215959Z",
                                "exdate": [f"{day + timedelta(days=7)}T{hour:02d}:00"]}
    return record


def check_generated(records: int) -> None:
    """Stop before measuring anything if the generator makes feeds the validator finds fault with."""
    from feeds.validate import check_document
    problems = check_document(feed_document(0, records, date.today()), today=date.today())
    if problems:
        sys.exit("the generated feeds are not clean, so the figures would not be a harvest of valid feeds:\n"
                 + "\n".join(p.format("generated feed") for p in problems[:10]))


# --- the server, in a process of its own ----------------------------------------------------

class FeedHandler(BaseHTTPRequestHandler):
    """Serves the generated feeds with an ETag, and 304 when the client already has them."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        feed = self.server.feeds.get(self.path)
        if feed is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body, etag = feed
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", etag)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


class FeedServer(ThreadingHTTPServer):
    request_queue_size = 128  # every worker may connect at once


def serve(sources: int, records: int, ready, parent_pid: int) -> None:
    """Generate the region, serve it on a free port of 127.0.0.1 and report (port, bytes) on ``ready``;
    stop when the parent is gone or after SERVER_LIFETIME."""
    today = date.today()
    feeds = {}
    for n in range(sources):
        body = json.dumps(feed_document(n, records, today), ensure_ascii=False).encode()
        feeds[feed_path(n)] = (body, f'"{sha256(body).hexdigest()[:20]}"')
    server = FeedServer(("127.0.0.1", 0), FeedHandler)
    server.feeds = feeds
    threading.Thread(target=server.serve_forever, daemon=True).start()
    ready.put((server.server_port, sum(len(body) for body, _ in feeds.values())))
    stop_at = time.monotonic() + SERVER_LIFETIME
    while os.getppid() == parent_pid and time.monotonic() < stop_at:
        time.sleep(0.5)
    server.shutdown()


# --- the phases, each in a fresh process ------------------------------------------------------

class Stopped(Exception):
    """The run cannot go on: the server did not start, or a phase did not finish in time."""


def peak_rss_mb() -> float:
    """This process's peak resident memory so far. Read from VmHWM, because on Linux ru_maxrss keeps
    the peak of the parent at the moment of fork, through exec, so a small child would show the parent's."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024


_progress = None  # in a phase's process: the count of sources done, shared with the parent


def _share_progress(counter) -> None:
    global _progress
    _progress = counter


def _count_done(*_) -> None:
    """Count one more source done, so that a phase stopped for slowness can say how far it got."""
    with _progress.get_lock():
        _progress.value += 1


def floor_phase(urls: list[str], workers: int, per_host: int) -> dict:
    """Fetch every feed and parse its JSON, nothing else."""
    fetcher, start_rss = Fetcher(per_host=per_host), peak_rss_mb()

    def one(url: str) -> tuple[int, str]:
        response = fetcher.get(url, allow_private=True)
        document = json.loads(response.body)
        _count_done()
        return sum(len(document[name]) for name in RECORD_LISTS), response.etag

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        fetched = list(pool.map(one, urls))
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "start_rss": start_rss, "peak_rss": peak_rss_mb(), "records": sum(c for c, _ in fetched),
            "etags": {url: etag for url, (_, etag) in zip(urls, fetched)}}


def conditional_floor_phase(etags: dict[str, str], workers: int, per_host: int) -> dict:
    """Fetch every feed with the ETag it had, nothing else: each should answer 304."""
    fetcher, start_rss = Fetcher(per_host=per_host), peak_rss_mb()

    def one(url: str) -> int:
        status = fetcher.get(url, allow_private=True, etag=etags[url]).status
        _count_done()
        return status

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        statuses = Counter(pool.map(one, list(etags)))
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "start_rss": start_rss, "peak_rss": peak_rss_mb(), "statuses": dict(statuses)}


def harvest_phase(store_path: str, urls: list[str], workers: int, per_host: int) -> dict:
    """One harvest_all of every source into the store at ``store_path``."""
    # Imported here, not at the top, so the floors' processes carry only what fetching needs.
    from aggregator.harvest import harvest_all
    from aggregator.sources import DEFAULT_INTERVAL, Source
    from aggregator.store import Store
    sources = [Source(f"feed-{n:05d}", f"Brücke {town_of(n)[0]} {n}", url, ORGANISATION_KINDS[n % len(ORGANISATION_KINDS)],
                      *town_of(n), None, DEFAULT_INTERVAL, True, n + 1) for n, url in enumerate(urls)]
    store = Store(store_path)
    fetcher, start_rss = Fetcher(per_host=per_host), peak_rss_mb()
    started = time.perf_counter()
    outcomes = harvest_all(store, sources, fetcher, workers=workers, on_done=_count_done)
    seconds = time.perf_counter() - started
    store.close()
    failures = [f"{o.source_id}: {o.message}" for o in outcomes if o.status == "failed"]
    return {"seconds": seconds, "start_rss": start_rss, "peak_rss": peak_rss_mb(),
            "statuses": dict(Counter(o.status for o in outcomes)), "new": sum(o.counts.new for o in outcomes),
            "rejected": sum(o.counts.rejected for o in outcomes), "failures": failures[:3]}


def in_fresh_process(label: str, phase, *args, sources: int, limit: float) -> dict:
    """Run ``phase`` in a new process (spawned, so it inherits no memory) and return its figures;
    Stopped, and the process ended, when it takes longer than ``limit`` seconds."""
    context = get_context("spawn")
    done = context.Value("i", 0)
    with context.Pool(1, initializer=_share_progress, initargs=(done,)) as pool:
        try:
            return pool.apply_async(phase, args).get(limit)
        except PhaseTimeout:
            raise Stopped(f"the {label} did not finish within {limit:,.0f} s ({done.value:,} of {sources:,} sources "
                          "done by then); the run was stopped") from None


# --- the run -----------------------------------------------------------------------------

def start_server(sources: int, records: int):
    """The server process, its port and the bytes it serves; Stopped if it dies or takes too long to start."""
    context = get_context("spawn")
    ready = context.Queue()
    server = context.Process(target=serve, args=(sources, records, ready, os.getpid()), daemon=True)
    server.start()
    give_up = time.monotonic() + PHASE_BASE_SECONDS + sources * records * PHASE_SECONDS_PER_RECORD
    while server.is_alive() and time.monotonic() < give_up:
        try:
            port, size = ready.get(timeout=1)
            return server, port, size
        except queue.Empty:
            continue
    server.terminate()
    server.join()
    raise Stopped("the feed server did not start (see its error above, if any); the run was stopped")


def measure(args, urls: list[str], store_path: str) -> dict[str, dict]:
    """Every phase's figures, in order: floor, conditional floor, cold harvest, warm harvest."""
    bounds = {"sources": len(urls), "limit": PHASE_BASE_SECONDS + len(urls) * args.records * PHASE_SECONDS_PER_RECORD}
    concurrency = (args.workers, args.per_host)
    floor = in_fresh_process("floor", floor_phase, urls, *concurrency, **bounds)
    etags = floor.pop("etags")
    return {"floor": floor,
            "conditional": in_fresh_process("conditional floor", conditional_floor_phase, etags, *concurrency, **bounds),
            "cold": in_fresh_process("cold harvest", harvest_phase, store_path, urls, *concurrency, **bounds),
            "warm": in_fresh_process("warm harvest", harvest_phase, store_path, urls, *concurrency, **bounds)}


def check_figures(figures: dict[str, dict], sources: int, records: int) -> list[str]:
    """What went wrong in the run, if anything: the figures are only a harvest if everything arrived."""
    total, found = sources * records, []
    if figures["floor"]["records"] != total:
        found.append(f"floor: {figures['floor']['records']:,} records parsed, expected {total:,}")
    if figures["conditional"]["statuses"] != {304: sources}:
        found.append(f"conditional floor: answers {figures['conditional']['statuses']}, expected 304 for all {sources}")
    cold, warm = figures["cold"], figures["warm"]
    if cold["statuses"] != {"ok": sources} or cold["new"] != total or cold["rejected"]:
        found.append(f"cold harvest: {cold['statuses']}, {cold['new']:,} new and {cold['rejected']:,} rejected records, "
                     f"expected {total:,} new; {'; '.join(cold['failures'])}")
    if warm["statuses"] != {"unchanged": sources}:
        found.append(f"warm harvest: {warm['statuses']}, expected all {sources} unchanged; {'; '.join(warm['failures'])}")
    return found


def report(figures: dict[str, dict], args, port: int, size: int) -> None:
    total = args.sources * args.records
    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"region: {args.sources:,} sources x {args.records} records = {total:,} records, {size / 2**20:,.1f} MB of JSON, "
          f"served from 127.0.0.1:{port} by a process of its own")
    print(f"workers: {args.workers}, requests to the one host at once: {args.per_host}")
    print(f"{'':28}{'seconds':>9}{'records/s':>12}{'sources/s':>11}{'peak RSS MB':>13}{'(at start)':>12}")
    for key, label in (("floor", "floor (fetch + json.loads)"), ("conditional", "floor, conditional (304)"),
                       ("cold", "cold harvest"), ("warm", "warm harvest (all 304)")):
        f = figures[key]
        print(f"{label:28}{f['seconds']:9.2f}{total / f['seconds']:12,.0f}{args.sources / f['seconds']:11,.1f}"
              f"{f['peak_rss']:13,.1f}{f['start_rss']:12,.1f}")
    for key, base in (("cold", "floor"), ("warm", "floor"), ("warm", "conditional")):
        f, b = figures[key], figures[base]
        print(f"{key + ' / ' + base + ':':21}{f['seconds'] / b['seconds']:9.2f} x the time, "
              f"{f['peak_rss'] / b['peak_rss']:5.2f} x the peak memory")


def run(args) -> tuple[dict[str, dict], int, int]:
    """Serve the region, measure every phase, and stop the server: the figures, the port and the bytes served."""
    server, port, size = start_server(args.sources, args.records)
    try:
        urls = [f"http://127.0.0.1:{port}{feed_path(n)}" for n in range(args.sources)]
        with tempfile.TemporaryDirectory(prefix="harvest-bench-") as folder:
            return measure(args, urls, str(Path(folder) / "directory.sqlite")), port, size
    finally:
        server.terminate()
        server.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=1000)
    parser.add_argument("--records", type=int, default=200, help="records per feed")
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--per-host", type=int, help="requests to the one local host at once (default: --workers)")
    args = parser.parse_args()
    args.per_host = args.per_host or args.workers
    check_generated(args.records)
    try:
        figures, port, size = run(args)
    except Stopped as stopped:
        sys.exit(str(stopped))
    report(figures, args, port, size)
    found = check_figures(figures, args.sources, args.records)
    if found:
        sys.exit("the run is not a clean harvest, so the figures do not count:\n" + "\n".join(found))


if __name__ == "__main__":
    main()
