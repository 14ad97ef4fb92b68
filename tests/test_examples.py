"""The bundled example district: every feed validates clean and the registry lists them all."""
import tomllib
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from feeds import validate
from tests.conftest import REPO, TODAY
from wegweiser.cli import main

EXAMPLES = REPO / "feeds" / "examples"
FEEDS = sorted(EXAMPLES.glob("*.json")) + sorted(EXAMPLES.glob("*.ics"))


def load(source: str) -> bytes:
    return Path(source).read_bytes()


@pytest.mark.parametrize("path", FEEDS, ids=lambda p: p.name)
def test_example_feed_validates_without_errors_or_warnings(path: Path):
    reports = validate.validate_pages(str(path), load, today=TODAY,
                                      resolve=lambda base, link: str(Path(base).parent / link))
    assert [(r.source, p.format(r.source)) for r in reports for p in r.problems] == []
    assert all(r.records > 0 for r in reports)


@pytest.mark.parametrize("path", FEEDS, ids=lambda p: p.name)
def test_example_feed_has_no_errors_as_of_today(path: Path):
    """As time passes, warnings ("not verified for a year") may appear, but never errors."""
    reports = validate.validate_pages(str(path), load, today=date.today(),
                                      resolve=lambda base, link: str(Path(base).parent / link))
    assert [p.format(r.source) for r in reports for p in r.problems if p.is_error] == []


def test_registry_lists_every_first_page_and_no_more():
    registry = tomllib.loads((EXAMPLES / "sources.toml").read_text(encoding="utf-8"))
    urls = {source["url"] for source in registry["source"]}
    later_pages = {"kreis-auenland-integrationszentrum-2.json"}
    assert urls == {p.name for p in FEEDS} - later_pages
    ids = [source["id"] for source in registry["source"]]
    assert len(ids) == len(set(ids))


def test_cli_reports_a_page_named_twice_once_within_its_feed():
    page1 = str(EXAMPLES / "kreis-auenland-integrationszentrum.json")
    page2 = str(EXAMPLES / "kreis-auenland-integrationszentrum-2.json")
    result = CliRunner().invoke(main, ["validate", "--today", "2026-11-22", page2, page1])
    assert result.exit_code == 0
    assert [line.split(":")[0] for line in result.stderr.splitlines()] == [page1, page2]
