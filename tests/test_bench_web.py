"""The web benchmark, run end to end on a tiny generated directory: it builds the directory through the
store, measures every endpoint beside its store call, prints the figures and removes what it generated.
No timing is asserted."""
import os
import re
import subprocess
import sys

from tests.conftest import REPO

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
