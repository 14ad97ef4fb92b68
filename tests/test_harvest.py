"""Whole harvests against real HTTP servers on 127.0.0.1: a good feed first, then each way a
feed goes wrong. Each time the run completes, the source says what happened, and the last good
data stays as it was."""
import gzip
import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from aggregator import fetch
from aggregator.harvest import harvest_source
from aggregator.sources import Source
from aggregator.store import Store
from tests.conftest import DATA, REPO

REPO_EXAMPLES = REPO / "feeds" / "examples"

GOOD = (DATA / "valid" / "minimal-complete.json").read_bytes()
GOOD_TITLES = ["Brücke e.V.", "Frauenfrühstück", "Offene Sprechstunde auf Türkisch und Arabisch"]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self.server.requests.append(dict(self.headers))
        self.server.behaviour(self)

    def log_message(self, *args):
        pass


def send(body: bytes, status: int = 200, content_type: str = "application/json", **headers):
    def behaviour(h):
        h.send_response(status)
        h.send_header("Content-Type", content_type)
        h.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            h.send_header(name.replace("_", "-"), value)
        h.end_headers()
        h.wfile.write(body)
    return behaviour


def conditional(body: bytes, etag: str):
    def behaviour(h):
        if h.headers.get("If-None-Match") == etag:
            h.send_response(304)
            h.send_header("ETag", etag)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        send(body, ETag=etag)(h)
    return behaviour


def stall(seconds: float):
    def behaviour(h):
        time.sleep(seconds)
        send(GOOD)(h)
    return behaviour


def drip(h):
    h.send_response(200)
    h.send_header("Content-Type", "application/json")
    h.send_header("Content-Length", "100000")
    h.end_headers()
    for _ in range(100):
        h.wfile.write(b" ")
        h.wfile.flush()
        time.sleep(0.1)


def endless(h):
    h.send_response(200)
    h.send_header("Content-Type", "application/json")
    h.end_headers()  # no length: the body runs until the client gives up
    chunk = b" " * 65536
    try:
        for _ in range(16384):  # 1 GiB at most
            h.wfile.write(chunk)
    except (BrokenPipeError, ConnectionResetError):
        pass
    h.close_connection = True


_BOMB = gzip.compress(b" " * (200 * 1024 * 1024), compresslevel=9)


def gzip_bomb(h):
    h.send_response(200)
    h.send_header("Content-Type", "application/json")
    h.send_header("Content-Encoding", "gzip")
    h.send_header("Content-Length", str(len(_BOMB)))
    h.end_headers()
    try:
        h.wfile.write(_BOMB)
    except (BrokenPipeError, ConnectionResetError):
        pass


def redirect(location: str):
    def behaviour(h):
        h.send_response(302)
        h.send_header("Location", location)
        h.send_header("Content-Length", "0")
        h.end_headers()
    return behaviour


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.behaviour, httpd.requests = send(GOOD), []
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    httpd.url = f"http://127.0.0.1:{httpd.server_port}/feed.json"
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def store(db_url):
    s = Store(db_url)
    yield s
    s.close()


def make_source(url: str, *, allow_private: bool = True, fmt: str | None = None) -> Source:
    return Source("bruecke", "Brücke e.V.", url, "migrant-self-organisation", "Lindenau", "06639011", fmt,
                  timedelta(hours=1), allow_private, 1)


FETCHER = fetch.Fetcher(total_timeout=1.5, connect_timeout=1.0, max_bytes=2 * 1024 * 1024)


def harvest(store, source, fetcher=FETCHER):
    store.register_sources([source])
    return harvest_source(store, source, fetcher)


def titles(store) -> list[str]:
    return sorted(e["title"] for e in store.entries())


def test_good_feed_is_harvested(store, server):
    outcome = harvest(store, make_source(server.url))
    assert (outcome.status, outcome.counts.new) == ("ok", 3)
    assert titles(store) == GOOD_TITLES
    state = store.source_state("bruecke")
    assert (state.status, state.http_status, state.accepted, state.failures_in_row) == ("ok", 200, 3, 0)


def test_unchanged_feed_answered_304_costs_nothing(store, server):
    server.behaviour = conditional(GOOD, '"v1"')
    harvest(store, make_source(server.url))
    outcome = harvest(store, make_source(server.url))
    assert outcome.status == "unchanged"
    assert server.requests[-1].get("If-None-Match") == '"v1"'
    assert store.source_state("bruecke").http_status == 304


def test_unchanged_body_without_validators_is_recognised_by_hash(store, server):
    harvest(store, make_source(server.url))
    assert harvest(store, make_source(server.url)).status == "unchanged"


def bad(name, behaviour, error_class, words):
    return pytest.param(behaviour, error_class, words, id=name)


FAILURES = [
    bad("404", send(b"not here", 404, "text/plain"), "not-found", "404"),
    bad("500", send(b"oops", 500, "text/plain"), "server-error", "500"),
    bad("timeout", stall(3), "timeout", ""),
    bad("slow-drip", drip, "timeout", ""),
    bad("truncated-json", send(GOOD[: len(GOOD) // 2]), "parse", "not valid JSON"),
    bad("endless-body", endless, "too-large", "MB"),
    bad("gzip-bomb", gzip_bomb, "too-large", "MB"),
    bad("malformed-ical", send(b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nSUMMARY:x", 200, "text/calendar"), "parse", ""),
    bad("not-a-feed", send(b"\x00\x01\x02binary", 200, "application/octet-stream"), "parse", "not valid JSON"),
]


@pytest.mark.parametrize("behaviour, error_class, words", FAILURES)
def test_failure_is_recorded_and_last_good_data_stays(store, server, behaviour, error_class, words):
    harvest(store, make_source(server.url))
    before = store.entries()
    server.behaviour = behaviour
    outcome = harvest(store, make_source(server.url))
    state = store.source_state("bruecke")
    assert (outcome.status, state.status, state.failure_class) == ("failed", "failed", error_class)
    assert words in state.last_error and server.url.split("/feed")[0] in state.last_error
    assert state.failures_in_row == 1 and state.last_success is not None
    assert store.entries() == before


def test_redirect_loop_is_refused(store, server):
    harvest(store, make_source(server.url))
    server.behaviour = redirect(server.url)
    harvest(store, make_source(server.url))
    assert store.source_state("bruecke").failure_class == "redirects"
    assert titles(store) == GOOD_TITLES


def test_private_address_is_refused_without_allow_private(store, server):
    harvest(store, make_source(server.url))
    server.behaviour = redirect(f"http://localhost:{server.server_port}/elsewhere.json")
    outcome = harvest(store, make_source(server.url.replace("127.0.0.1", "localhost"), allow_private=False))
    state = store.source_state("bruecke")
    assert outcome.status == "failed" and state.failure_class == "blocked"
    assert "127.0.0.1" in state.last_error or "localhost" in state.last_error
    assert titles(store) == GOOD_TITLES


def test_invalid_records_are_dropped_with_reasons_and_the_rest_goes_on(store, server):
    feed = json.loads(GOOD)
    feed["events"].append({"id": "kaputt", "updated": "2026-11-20T09:30:00+01:00", "title": {"de": "Kaputt"},
                           "start": "2026-12-05T10:00", "end": "2026-12-05T09:00", "categories": ["women"]})
    server.behaviour = send(json.dumps(feed).encode())
    outcome = harvest(store, make_source(server.url))
    assert (outcome.status, outcome.counts.new, outcome.counts.rejected) == ("ok", 3, 1)
    [rejection] = store.rejections("bruecke")
    assert rejection["local_id"] == "kaputt" and rejection["position"] == "/events/1"
    assert rejection["problems"][0]["code"] == "end-before-start"


def test_event_repeating_without_end_is_kept_with_a_warning(store, server):
    feed = json.loads(GOOD)
    feed["events"][0]["recurrence"]["rrule"] = "FREQ=WEEKLY;BYDAY=SA"
    server.behaviour = send(json.dumps(feed).encode())
    outcome = harvest(store, make_source(server.url))
    assert (outcome.status, outcome.counts.new, outcome.counts.rejected) == ("ok", 3, 0)


def test_hourly_event_without_end_is_rejected(store, server):
    feed = json.loads(GOOD)
    feed["events"][0]["recurrence"]["rrule"] = "FREQ=HOURLY"
    server.behaviour = send(json.dumps(feed).encode())
    outcome = harvest(store, make_source(server.url))
    assert outcome.counts.rejected == 1
    assert store.rejections("bruecke")[0]["problems"][0]["code"] == "endless-rrule"


def test_backoff_grows_for_passing_trouble(store, server):
    server.behaviour = send(b"busy", 503, "text/plain", Retry_After="7200")
    for _ in range(2):
        harvest(store, make_source(server.url))
    state = store.source_state("bruecke")
    assert state.failures_in_row == 2 and state.failure_class == "rate-limited"
    from aggregator.health import parse_stamp
    assert parse_stamp(state.next_check) - parse_stamp(state.last_attempt) >= timedelta(hours=2)


def write_two_pages(folder) -> dict:
    """The good feed split in two pages: organisation and offer first, the event on page 2."""
    page1, page2 = json.loads(GOOD), json.loads(GOOD)
    page1["next"], page1["events"] = "seite-2.json", []
    page2["organisations"], page2["offers"] = [], []
    (folder / "feed.json").write_text(json.dumps(page1))
    (folder / "seite-2.json").write_text(json.dumps(page2))
    return page2


def test_paged_feed_is_followed(store, tmp_path, serve_directory):
    write_two_pages(tmp_path)
    outcome = harvest(store, make_source(serve_directory(tmp_path) + "feed.json"))
    assert (outcome.status, outcome.counts.new) == ("ok", 3)
    assert titles(store) == GOOD_TITLES


def test_change_on_a_later_page_is_not_mistaken_for_unchanged(store, tmp_path, serve_directory):
    page2 = write_two_pages(tmp_path)
    source = make_source(serve_directory(tmp_path) + "feed.json")
    harvest(store, source)
    page2["events"][0]["title"]["de"] = "Frauenfrühstück mit Kinderbetreuung"
    (tmp_path / "seite-2.json").write_text(json.dumps(page2))
    outcome = harvest(store, source)
    assert (outcome.status, outcome.counts.updated) == ("ok", 1)
    assert "Frauenfrühstück mit Kinderbetreuung" in titles(store)


RSS = DATA / "rss"
HTML = DATA / "html"
XXE_HTML = (b'<!DOCTYPE html [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><html><head>'
            b'<script type="application/ld+json">{"@type": "Event", "name": "&xxe;"}</script></head></html>')
LAUGHS = "".join(f'<!ENTITY l{n} "{f"&l{n - 1};" * 10}">' for n in range(1, 10))
BILLION_LAUGHS_HTML = f'<!DOCTYPE html [<!ENTITY l0 "lol">{LAUGHS}]><html><body><p>&l9;</p></body></html>'.encode()


@pytest.mark.parametrize("body, content_type", [
    pytest.param((RSS / "billion-laughs.rss").read_bytes(), "application/rss+xml", id="billion-laughs-rss"),
    pytest.param((RSS / "xxe-passwd.rss").read_bytes(), "application/rss+xml", id="xxe-rss"),
    pytest.param(XXE_HTML, "text/html", id="xxe-html"),
    pytest.param(BILLION_LAUGHS_HTML, "text/html", id="billion-laughs-html"),
])
def test_hostile_xml_is_refused_and_last_good_data_stays(store, server, body, content_type):
    harvest(store, make_source(server.url))
    server.behaviour = send(body, 200, content_type)
    outcome = harvest(store, make_source(server.url.replace(".json", ".xml")))
    state = store.source_state("bruecke")
    assert (outcome.status, state.failure_class) == ("failed", "parse")
    assert "entit" in state.last_error.lower()
    assert "root:" not in json.dumps(store.entries())
    assert titles(store) == GOOD_TITLES


def test_homepage_leads_to_its_calendar(store, tmp_path, serve_directory):
    (tmp_path / "index.html").write_bytes(
        b'<!doctype html><html lang="de"><head><title>Verein</title>'
        b'<link rel="alternate" type="application/json" href="/wp-json/">'
        b'<link rel="alternate" type="text/calendar" href="termine.ics"></head><body></body></html>')
    (tmp_path / "wp-json").mkdir()
    (tmp_path / "wp-json" / "index.html").write_bytes(b'{"name": "WordPress site", "routes": {}}')
    (tmp_path / "termine.ics").write_bytes((REPO_EXAMPLES / "ukrainischer-verein-auenland.ics").read_bytes())
    outcome = harvest(store, make_source(serve_directory(tmp_path) + "index.html"))
    assert outcome.status == "ok", outcome.message
    assert outcome.counts.new == 6
    assert store.records_of("bruecke")[0]["feed_url"].endswith("/index.html")


def test_calendar_events_without_categories_are_kept(store, server):
    calendar = (DATA / "ical" / "outlook.ics").read_bytes()
    server.behaviour = send(calendar, 200, "text/calendar")
    outcome = harvest(store, make_source(server.url.replace(".json", ".ics")))
    assert (outcome.status, outcome.counts.rejected) == ("ok", 0)
    assert outcome.counts.new == 2


def test_news_feed_items_become_posts(store, server):
    server.behaviour = send((RSS / "news.rss").read_bytes(), 200, "application/rss+xml")
    outcome = harvest(store, make_source(server.url.replace(".json", ".rss")))
    assert outcome.status == "ok"
    posts = store.posts("bruecke")
    assert posts and all(p["title"] for p in posts)


def test_spreadsheet_source_is_converted_and_harvested(store, server):
    sheet = (REPO / "feeds" / "templates" / "angebote-und-termine.csv").read_bytes()
    server.behaviour = send(sheet, 200, "text/csv")
    outcome = harvest(store, make_source(server.url.replace(".json", ".csv"), fmt="csv"))
    assert (outcome.status, outcome.counts.new, outcome.counts.rejected) == ("ok", 3, 0)


def test_withdrawals_held_after_a_sudden_shrink_go_through_once_confirmed(store, server):
    feed = json.loads(GOOD)
    feed["offers"] = [dict(feed["offers"][0], id=f"angebot-{n}") for n in range(8)]
    server.behaviour = conditional(json.dumps(feed).encode(), '"full"')
    harvest(store, make_source(server.url))
    shrunk = dict(feed, offers=feed["offers"][:1])
    server.behaviour = conditional(json.dumps(shrunk).encode(), '"small"')
    outcomes = [harvest(store, make_source(server.url)) for _ in range(3)]
    assert [o.counts.held for o in outcomes] == [7, 7, 0]
    assert outcomes[-1].counts.withdrawn == 7
    assert len(store.entries("offer")) == 1


def test_a_good_record_turning_invalid_keeps_its_last_good_version(store, server):
    harvest(store, make_source(server.url))
    feed = json.loads(GOOD)
    feed["offers"][0]["contacts"][0]["email"] = "kaputt@"
    server.behaviour = send(json.dumps(feed).encode())
    outcome = harvest(store, make_source(server.url))
    assert (outcome.counts.rejected, outcome.counts.withdrawn) == (1, 0)
    assert titles(store) == GOOD_TITLES


@pytest.mark.parametrize("body", [
    pytest.param(GOOD.replace(b'"free": true', b'"free": true, "amount": NaN'), id="nan"),
    pytest.param(b'{"schema_version": "1.0.0", "publisher": ' + b"[" * 100000 + b"]" * 100000 + b"}", id="deep-nesting"),
])
def test_values_python_cannot_hold_fail_the_feed_cleanly(store, server, body):
    harvest(store, make_source(server.url))
    server.behaviour = send(body)
    outcome = harvest(store, make_source(server.url))
    assert outcome.status == "failed" and store.source_state("bruecke").failure_class == "parse"
    assert titles(store) == GOOD_TITLES


def test_a_local_feed_may_not_lead_out_of_its_folder(store, tmp_path):
    (tmp_path / "geheim").mkdir()
    (tmp_path / "geheim" / "private.json").write_bytes(GOOD)
    (tmp_path / "verein").mkdir()
    page = json.loads(GOOD)
    page["next"] = "../geheim/private.json"
    (tmp_path / "verein" / "feed.json").write_text(json.dumps(page))
    outcome = harvest(store, make_source(str(tmp_path / "verein" / "feed.json")))
    assert (outcome.status, outcome.error_class) == ("failed", "blocked")
    assert "only to files in its own folder" in outcome.message


def test_a_feed_cannot_publish_under_another_sources_publisher_id(store, server):
    harvest(store, make_source(server.url))
    impostor = Source("andere", "Andere", server.url.replace("feed.json", "andere.json"), "other", "Lindenau", None,
                      None, timedelta(hours=1), True, 2)
    store.register_sources([impostor])
    outcome = harvest_source(store, impostor, FETCHER)
    assert (outcome.status, outcome.error_class) == ("failed", "invalid")
    assert "which the source 'bruecke' already publishes under" in outcome.message
    assert [s["source_id"] for e in store.entries() for s in store.entry_sources(e["entry_id"])] == ["bruecke"] * 3


def test_publisher_id_of_a_calendar_survives_a_move_to_https():
    from aggregator.harvest import feed_publisher_id
    assert feed_publisher_id("http://Verein.example:80/kalender.ics#x") == "https://verein.example/kalender.ics"
    assert feed_publisher_id("https://verein.example/kalender.ics") == "https://verein.example/kalender.ics"
    assert feed_publisher_id("https://verein.example:8443/k.ics?lang=de") == "https://verein.example:8443/k.ics?lang=de"
