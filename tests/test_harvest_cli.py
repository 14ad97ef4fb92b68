"""`wegweiser harvest` and `wegweiser schedule` as the regional office runs them."""
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from click.testing import CliRunner

from aggregator.store import Store
from tests.conftest import DATA, REPO
from wegweiser.cli import main

EXAMPLES = REPO / "feeds" / "examples" / "sources.toml"
GOOD = json.loads((DATA / "valid" / "minimal-complete.json").read_text())


def invoke(*args):
    return CliRunner().invoke(main, list(args))


def test_harvest_of_the_example_district_prints_a_summary(tmp_path):
    db = f"sqlite:///{tmp_path / 'd.sqlite'}"
    result = invoke("harvest", "--sources", str(EXAMPLES), "--db", db)
    assert result.exit_code == 0, result.output
    assert "5 sources, 0 failed" in result.stdout
    assert "bruecke-lindenau" in result.stdout and "ok" in result.stdout
    again = invoke("harvest", "--sources", str(EXAMPLES), "--db", db, "--source", "bruecke-lindenau")
    assert "1 sources, 0 failed" in again.stdout and "unchanged" in again.stdout


def test_co_announced_event_is_one_entry_with_both_sources(tmp_path):
    invoke("harvest", "--sources", str(EXAMPLES), "--db", str(tmp_path / "d.sqlite"))
    store = Store(tmp_path / "d.sqlite")
    merged = [e["title"] for e in store.entries("event") if len(store.entry_sources(e["entry_id"])) == 2]
    assert merged == ["Nachbarschaftsfest im Lindenpark"]


def test_broken_registry_exits_2_with_its_line(tmp_path):
    registry = tmp_path / "sources.toml"
    registry.write_text('[[source]]\nid = "a"\nname = "A"\nurl = "https://a.example/feed.json"\nkind = "other"\ntown = "X"\nintervall = "1h"\n')
    result = invoke("harvest", "--sources", str(registry), "--db", str(tmp_path / "d.sqlite"))
    assert result.exit_code == 2
    assert f"{registry}:7:1: error" in result.stderr and "interval" in result.stderr


def test_unknown_source_id_exits_2(tmp_path):
    result = invoke("harvest", "--sources", str(EXAMPLES), "--db", str(tmp_path / "d.sqlite"), "--source", "gibtsnicht")
    assert result.exit_code == 2
    assert "no source with id gibtsnicht" in result.stderr


def test_failing_source_still_exits_0(tmp_path):
    registry = tmp_path / "sources.toml"
    registry.write_text('[[source]]\nid = "weg"\nname = "Weg"\nurl = "http://127.0.0.1:9/feed.json"\nkind = "other"\n'
                        'town = "X"\nallow_private = true\n')
    result = invoke("harvest", "--sources", str(registry), "--db", str(tmp_path / "d.sqlite"))
    assert result.exit_code == 0
    assert "1 sources, 1 failed" in result.stdout


class SlowFeeds(BaseHTTPRequestHandler):
    """Serves /feed-N.json, each a valid feed of its own publisher, a little slowly."""

    def do_GET(self):
        n = self.path.split("-")[-1].split(".")[0]
        feed = json.loads(json.dumps(GOOD))
        feed["publisher"]["id"] = f"de.lindenau.verein{n}"
        body = json.dumps(feed).encode()
        time.sleep(0.15)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the harvester was killed mid-request: that is the point of the test

    def log_message(self, *args):
        pass


@pytest.fixture
def many_sources(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), SlowFeeds)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    registry = tmp_path / "sources.toml"
    registry.write_text("".join(
        f'[[source]]\nid = "verein{n}"\nname = "Verein {n}"\nurl = "http://127.0.0.1:{server.server_port}/feed-{n}.json"\n'
        f'kind = "migrant-self-organisation"\ntown = "Lindenau"\nallow_private = true\n\n' for n in range(40)))
    yield registry
    server.shutdown()
    server.server_close()


def wegweiser() -> str:
    return shutil.which("wegweiser") or sys.exit("wegweiser is not installed: pip install -e .")


def test_killing_the_harvester_mid_run_leaves_a_consistent_store(tmp_path, many_sources):
    db = tmp_path / "d.sqlite"
    run = subprocess.Popen([wegweiser(), "harvest", "--sources", str(many_sources), "--db", str(db), "--workers", "2"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        time.sleep(0.2)
        if db.exists() and _harvested(db) >= 5:
            break
    run.send_signal(signal.SIGKILL)
    run.wait(timeout=10)
    done = _harvested(db)
    assert 5 <= done < 40, "the kill should land mid-run"
    check = sqlite3.connect(db)
    assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # every harvested source has all its records and entries, none half
    per_source = check.execute("SELECT source_id, count(*) FROM records GROUP BY source_id").fetchall()
    assert all(count == 3 for _, count in per_source) and len(per_source) == done
    assert check.execute("SELECT count(*) FROM records r LEFT JOIN entries e ON e.entry_id = r.entry_id "
                         "WHERE e.entry_id IS NULL OR e.data IS NULL").fetchone()[0] == 0
    check.close()
    again = subprocess.run([wegweiser(), "harvest", "--sources", str(many_sources), "--db", str(db), "--workers", "4"],
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "40 sources, 0 failed" in again.stdout
    assert _harvested(db) == 40


def _harvested(db) -> int:
    try:
        with sqlite3.connect(db, timeout=5) as c:
            return c.execute("SELECT count(*) FROM sources WHERE status IN ('ok', 'unchanged')").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_schedule_harvests_and_stops_cleanly_on_sigterm(tmp_path):
    db = tmp_path / "d.sqlite"
    env = {**os.environ, "WEGWEISER_SOURCES": str(EXAMPLES), "WEGWEISER_DB": str(db)}
    run = subprocess.Popen([wegweiser(), "schedule"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and _harvested(db) < 5:
        time.sleep(0.3)
    assert _harvested(db) == 5
    run.send_signal(signal.SIGTERM)
    output, _ = run.communicate(timeout=30)
    assert run.returncode == 0, output
    assert "stopping after the running harvests" in output


def test_a_source_removed_from_the_registry_is_retired_and_its_records_withdrawn(tmp_path):
    db = str(tmp_path / "d.sqlite")
    invoke("harvest", "--sources", str(EXAMPLES), "--db", db)
    text = EXAMPLES.read_text(encoding="utf-8")
    start = text.index('[[source]]\nid = "ukrainischer-verein-auenland"')
    end = text.find("[[source]]", start + 10)
    smaller = tmp_path / "sources.toml"
    smaller.write_text(text[:start] + (text[end:] if end != -1 else ""), encoding="utf-8")
    for name in ("kreis-auenland-integrationszentrum.json", "kreis-auenland-integrationszentrum-2.json",
                 "lindenau-integrationsbuero.json", "bruecke-lindenau.json", "diakonie-auenland.json"):
        (tmp_path / name).write_bytes((EXAMPLES.parent / name).read_bytes())
    result = invoke("harvest", "--sources", str(smaller), "--db", db)
    assert result.exit_code == 0, result.output
    store = Store(tmp_path / "d.sqlite")
    state = store.source_state("ukrainischer-verein-auenland")
    assert state.status == "retired" and "removed from the registry" in state.notice
    assert store.records_of("ukrainischer-verein-auenland") == []
    assert len(store.entries("event")) == 21 - 6


def test_three_harvesters_share_the_sources_and_take_over_from_one_killed(many_sources, db_url):
    """Three `wegweiser schedule` processes on one database; one is killed with SIGKILL while it
    holds leases. Every source ends harvested exactly once, the killed one's by the others."""
    env = {**os.environ, "WEGWEISER_LEASE": "5"}
    command = [wegweiser(), "schedule", "--sources", str(many_sources), "--db", db_url, "--workers", "2"]
    harvesters = [subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                  for _ in range(3)]
    victim, survivors = harvesters[0], harvesters[1:]
    store = Store(db_url)
    try:
        held = _wait_for(lambda: [s["id"] for s in store.sources() if f":{victim.pid}:" in (s["leased_by"] or "")], 60)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        _wait_for(lambda: all(s["status"] == "ok" and not s["leased_by"] for s in store.sources()), 90)
        sources = store.sources()
        assert len(sources) == 40
        assert all(len(store.records_of(s["id"])) == 3 for s in sources)          # none lost
        # none twice: an organisation and an offer of each publisher, and the one event they all announce
        assert len(store.entries()) == 40 * 2 + 1
        logs = {s["id"]: store.harvest_log(s["id"]) for s in sources}
        pid_of = {source_id: int(log[0]["harvester"].split(":")[-2]) for source_id, log in logs.items()}  # host:pid:tag
        assert set(pid_of.values()) <= {p.pid for p in harvesters}
        taken_over = [source_id for source_id in held if pid_of[source_id] != victim.pid]
        assert taken_over, f"the killed harvester's sources {held} should have been finished by the others"
        for source_id, log in logs.items():  # each harvested once; the health page tells of the takeover
            expected = ["ok", "interrupted"] if source_id in taken_over else ["ok"]
            assert [entry["status"] for entry in log] == expected, (source_id, log)
    finally:
        for process in survivors:
            process.send_signal(signal.SIGTERM)
        outputs = [process.communicate(timeout=30)[1] for process in survivors]
        store.close()
    assert [p.returncode for p in survivors] == [0, 0], outputs


def _wait_for(check, seconds: float):
    """The first truthy answer of ``check``, asked every 0.1 s for up to ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"not reached within {seconds} s")


def test_an_unreachable_postgresql_is_named_without_its_password(tmp_path):
    result = invoke("harvest", "--sources", str(EXAMPLES), "--db", "postgresql://wegweiser:geheim@127.0.0.1:9/directory")
    assert result.exit_code == 2
    assert "postgresql://wegweiser@127.0.0.1:9/directory: cannot open the database" in result.stderr
    assert "geheim" not in result.output + result.stderr
