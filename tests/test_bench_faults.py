"""The fault drill, run end to end with tiny settings: a real PostgreSQL server, a feed server and
`wegweiser schedule` / `wegweiser harvest` processes. Every scenario's checks must hold and the
drill must leave nothing behind. The restart's retry is done by `wegweiser harvest` instead of
waiting the schedule's two minutes. No timing is asserted."""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.postgres import PostgresUnavailable, server_binaries

SCENARIOS = ("baseline: no fault", "kill -9 a harvester", "restart PostgreSQL mid-harvest", "flapping source",
             "suddenly empty source")


@pytest.fixture(scope="module")
def drill():
    """The drill's exit status, its output and what it left in its temporary folder."""
    try:
        server_binaries()
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))
    # A temporary folder of the drill's own, which the PostgreSQL server's unprivileged user can
    # pass through (pytest's are private to the user running the tests).
    folder = Path(tempfile.mkdtemp(prefix="wegweiser-fault-drill-test-"))
    folder.chmod(0o755)
    try:
        yield run_drill(folder), sorted(folder.iterdir())
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run_drill(folder: Path) -> tuple[int, str, str]:
    """The drill with tiny settings: its exit status, standard output and standard error."""
    run = subprocess.Popen(
        [sys.executable, str(REPO / "bench" / "fault_drill.py"), "--sources", "6", "--records", "12", "--delay", "0.3",
         "--retry", "harvest", "--flap-runs", "4", "--pause", "0.5"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=os.environ | {"PYTHONPATH": str(REPO), "TMPDIR": str(folder)})
    try:
        out, err = run.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        run.send_signal(signal.SIGTERM)  # the drill removes its servers and harvesters on SIGTERM
        out, err = run.communicate(timeout=60)
        pytest.fail(f"the drill did not finish in time:\n{out}\n{err}")
    return run.returncode, out, err


def checks_of(out: str, scenario: str) -> list[tuple[str, bool]]:
    """The checks the drill printed under a scenario, each with whether it held."""
    section = out.split(f"\n{scenario}: ", 1)[1].split("\n\n", 1)[0]
    return [(text, mark == "ok") for mark, text in re.findall(r"^  \[(ok|FAILED)\] (.*)$", section, re.MULTILINE)]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_check_of_the_scenario_holds(drill, scenario):
    (_, out, err), _ = drill
    assert f"\n{scenario}: " in out, f"the drill did not run {scenario}:\n{out}\n{err}"
    assert "\n  broke off: " not in out.split(f"\n{scenario}: ", 1)[1].split("\n\n", 1)[0], f"{out}\n{err}"
    checks = checks_of(out, scenario)
    assert checks, out
    failed = [text for text, held in checks if not held]
    assert not failed, f"{scenario}: failed checks {failed}\n{out}\n{err}"
    assert re.search(rf"^{re.escape(scenario)}\s.*\s(\d+) / \1\s+0\s", out, re.MULTILINE), f"records lost or duplicated:\n{out}"


def test_the_exit_status_is_0_exactly_when_every_scenario_passes(drill):
    (returncode, out, err), _ = drill
    verdicts = re.findall(rf"^({'|'.join(map(re.escape, SCENARIOS))}): (ok|FAILED)$", out, re.MULTILINE)
    assert len(verdicts) == len(SCENARIOS), out
    assert returncode == (0 if all(v == "ok" for _, v in verdicts) else 1), f"{out}\n{err}"


def test_the_health_page_texts_are_quoted(drill):
    (_, out, _), _ = drill
    assert "-- no entry by the killed" in out
    assert re.search(r"health: during the outage: HTTP 503, Retry-After \d+", out)
    assert re.search(r"while failing: condition failing, failure_class database, failure \"The directory's own database did not answer", out)
    assert re.search(r"history \(newest first\): ok by .*; failed/database by ", out)
    assert "failure_class server-error" in out and "failure_class parse" in out
    assert "withdrawals are held (harvest 1 of 3" in out and "the missing records were withdrawn" in out


def test_the_drill_leaves_nothing_behind(drill):
    _, left = drill
    assert not left, f"the drill left {[str(path) for path in left]} behind"
