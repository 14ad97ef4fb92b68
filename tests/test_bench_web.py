"""The web benchmark, run end to end on a tiny generated directory, on SQLite and on PostgreSQL: it
builds the directory through the store, measures every endpoint beside its store call, prints the
figures and removes what it generated (on PostgreSQL, the server and its folder). No timing is asserted."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.postgres import PostgresUnavailable, server_binaries

FIGURE = r"\s+[\d,]+\.\d\d\s+[\d,]+\.\d\d\s+[\d,]+$"  # median ms, p95 ms, runs


def test_web_bench_prints_its_figures_and_removes_its_directory(tmp_path):
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "web_bench.py"), "--offers", "200", "--events", "400", "--ics-events", "40",
         "--queries", "20"],
        capture_output=True, text=True, timeout=900, cwd=REPO, check=False,
        env=os.environ | {"TMPDIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert re.search(r"^directory: 200 offers, 400 events with [\d,]+ dates, \d+ organisations", out, re.MULTILINE)
    for label in (r"/ \(test client\)", r"/ \(HTTP, 127\.0\.0\.1\)", r"/events \(test client\)", "Store.find",
                  "Store.occurrences_in", r"full \(test client\)", r"304 \(test client\)", r"304 \(HTTP, 127\.0\.0\.1\)"):
        assert re.search(rf"^  {label}{FIGURE}", out, re.MULTILINE), f"no figures for {label} in:\n{out}"
    assert re.search(r"^/events\.ics\?town=Kreisstadt Wendel: .* the store has 40 events there", out, re.MULTILINE)
    assert "NOT OK" not in out
    assert not list(tmp_path.rglob("*.sqlite*")), "the generated directory was left behind"


@pytest.fixture
def open_tmp():
    """A temporary folder the server's unprivileged user can enter (pytest's own is the caller's alone)."""
    folder = Path(tempfile.mkdtemp(prefix="wegweiser-web-bench-test-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_web_bench_on_postgresql_prints_its_figures_and_removes_its_server(open_tmp):
    try:
        server_binaries()
    except PostgresUnavailable as missing:
        pytest.skip(str(missing))
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "web_bench.py"), "--backend", "postgresql", "--offers", "100",
         "--events", "200", "--ics-events", "20", "--queries", "5"],
        capture_output=True, text=True, timeout=180, cwd=REPO, check=False,
        env=os.environ | {"TMPDIR": str(open_tmp)})
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert re.search(r"^backend: postgresql, PostgreSQL \d+", out, re.MULTILINE), out
    assert re.search(r"^directory: 100 offers, 200 events with [\d,]+ dates, \d+ organisations; [\d,]+ MB of PostgreSQL",
                     out, re.MULTILINE), out
    for label in (r"/ \(test client\)", r"/events \(HTTP, 127\.0\.0\.1\)", "Store.find", "LIKE or tsquery count, bare",
                  r"full \(test client\)", r"304 \(test client\)"):
        assert re.search(rf"^  {label}{FIGURE}", out, re.MULTILINE), f"no figures for {label} in:\n{out}"
    assert re.search(r"^/events\.ics\?town=Kreisstadt Wendel: .* the store has 20 events there", out, re.MULTILINE)
    assert "NOT OK" not in out, out
    assert not list(open_tmp.iterdir()), "the PostgreSQL server's folder was left behind"
