"""The load drill, run end to end with tiny settings on PostgreSQL: feed server, harvests, gunicorn
and the load process start, both phases run, the table is printed with no error, and the drill's
temporary folder is gone afterwards. No timing is asserted."""
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.postgres import PostgresUnavailable, server_binaries

FIGURES = r"\s+[\d,]+\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d,]+\s+0$"  # requests, req/s, median, p95, 304s, no errors
RATIOS = r"\s+phase 2/1\s+[\d.]+ x\s+[\d.]+ x\s+[\d.]+ x$"


def drill_folders() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("wegweiser-load-*"))


def test_load_drill_runs_both_phases_without_errors_and_cleans_up():
    try:
        server_binaries()
    except PostgresUnavailable as missing:
        pytest.skip(str(missing))
    before = drill_folders()
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "load_drill.py"), "--sources", "4", "--records", "20", "--seconds", "3",
         "--workers", "2", "--clients", "4"],
        capture_output=True, text=True, timeout=180, cwd=REPO, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert re.search(r"^directory: \d+ offers, \d+ events, 4 organisations$", out, re.MULTILINE), out
    assert re.search(r"^  under load: \d+ rewrites?, median [\d.]+ s", out, re.MULTILINE), out
    for kind in ("search page /", "events page", "API offers", "API events", r"\.ics", r"\.ics If-None-Match", "all"):
        assert re.search(rf"^{kind}\s+no harvest{FIGURES}", out, re.MULTILINE), f"no phase 1 figures for {kind} in:\n{out}"
    assert len(re.findall(rf"^\s+during harvest{FIGURES}", out, re.MULTILINE)) == 7, out
    assert len(re.findall(rf"^{RATIOS}", out, re.MULTILINE)) == 7, out
    assert "NOT OK" not in out
    assert drill_folders() <= before, "the drill left its temporary folder behind"
