"""/feed.json: the merged directory re-published in the shared format, read by the validator and
harvested over real HTTP by a second instance, as a state-wide directory would harvest a region."""
import json
import shutil
import urllib.request
from collections import defaultdict
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urljoin

import pytest
from flask.testing import FlaskClient

from aggregator.fetch import Fetcher
from aggregator.harvest import harvest_all
from aggregator.merge import original_global_id
from aggregator.query import Filters
from aggregator.sources import Source, load_registry
from aggregator.store import Store
from feeds import validate
from tests.conftest import DATA, REPO, TODAY, serving
from webapp import create_app

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=timezone.utc)
LISTS = ("organisations", "offers", "events")


@pytest.fixture
def serve():
    """Serve Flask apps with a real WSGI server on 127.0.0.1; gives each one's base URL ending in '/'."""
    with ExitStack() as servers:
        yield lambda app: servers.enter_context(serving(app)) + "/"


def fetch(url: str) -> bytes:
    """A page over HTTP, as the validator's loader."""
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()


def pages(client, url: str = "/feed.json") -> list[dict]:
    """Every page of the feed, following ``next`` as a harvester does."""
    found = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.get_json()
        found.append(response.get_json())
        url = urljoin(url, found[-1]["next"]) if "next" in found[-1] else None
    return found


def items(documents: list[dict]) -> list[dict]:
    """The records and tombstones of all pages."""
    return [item for document in documents for name in LISTS for item in document.get(name, [])]


def source_of_feed(source_id: str, url: str) -> Source:
    """A registry entry for another directory's feed on 127.0.0.1."""
    return Source(source_id, f"Wegweiser {source_id}", url, "district-integration-centre", "Lindenau", "06639011",
                  None, timedelta(hours=1), True, 1)


@dataclass
class Instance:
    """One Wegweiser instance: its store, the sources it harvests, and its feed served over HTTP."""

    store: Store
    sources: list[Source]
    base: str
    client: FlaskClient

    @property
    def feed_url(self) -> str:
        return self.base + "feed.json"

    def harvest(self, minutes: int) -> list:
        """Harvest every source once, ``minutes`` after NOW; each must succeed."""
        outcomes = harvest_all(self.store, self.sources, Fetcher(), now=NOW + timedelta(minutes=minutes))
        assert {o.status for o in outcomes} <= {"ok", "unchanged"}, [o.message for o in outcomes]
        return outcomes


@pytest.fixture
def instance(new_db, serve):
    """Make an instance over a fresh store, served on its own port."""
    made = []

    def make(name: str, sources: list[Source]) -> Instance:
        url = new_db(name)
        store = Store(url)
        app = create_app(url, {"TESTING": True, "TODAY": TODAY, "REGION_NAME": f"Wegweiser {name}"})
        made.extend([store, app.extensions["wegweiser_store"]])
        return Instance(store, sources, serve(app), app.test_client())

    yield make
    for store in made:
        store.close()


@pytest.fixture
def region_a(tmp_path, instance) -> Instance:
    """Instance A: the example district from a copy of its feed files, harvested once."""
    feeds = tmp_path / "district"
    shutil.copytree(REPO / "feeds" / "examples", feeds)
    a = instance("a", load_registry(feeds / "sources.toml"))
    a.harvest(0)
    return a


def view(store: Store) -> dict:
    """What a directory shows: per entry its kind, calendar UID, title, original ids and dates."""
    dates = defaultdict(list)
    for occurrence, entry in store.occurrences_in(Filters(), date(2026, 11, 1), date(2027, 12, 31)):
        dates[entry["entry_id"]].append((occurrence.start_utc, occurrence.end_utc, occurrence.status, occurrence.recurrence_id))
    return {e["entry_id"]: (e["kind"], e["uid"], e["title"], sorted((p["publisher"], p["id"]) for p in e["data"]["provenance"]),
                            dates[e["entry_id"]]) for e in store.entries()}


def withdraw_offer(feed: Path, offer_id: str) -> None:
    """Take an offer out of a feed file, as its publisher would."""
    document = json.loads(feed.read_text(encoding="utf-8"))
    document["offers"] = [o for o in document["offers"] if o["id"] != offer_id]
    feed.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")


# --- the document ----------------------------------------------------------------------------

def test_every_page_passes_the_validator(app, serve):
    reports = validate.validate_pages(serve(app) + "feed.json?per_page=7", fetch, today=TODAY)
    assert len(reports) > 1
    assert [p.format(r.source) for r in reports for p in r.problems if p.is_error] == []
    assert sum(r.records for r in reports) == len(app.extensions["wegweiser_store"].entries())


def test_the_region_publishes_it(app, client):
    document = client.get("/feed.json").get_json()
    assert document["publisher"]["id"] == "https://localhost/"
    assert document["publisher"]["name"] == {"de": "Wegweiser Auenland"}
    assert document["publisher"]["town"] == {"name": "Lindenau", "ags": "06639011"}
    assert (document["default_language"], document["timezone"]) == ("de", "Europe/Berlin")
    assert document["updated"] == app.extensions["wegweiser_store"].last_change()


def test_a_configured_region_id_is_the_publisher_id(example_directory):
    configured = create_app(example_directory, {"TESTING": True, "REGION_ID": "de.auenland.wegweiser"})
    document = configured.test_client().get("/feed.json").get_json()
    configured.extensions["wegweiser_store"].close()
    assert document["publisher"]["id"] == "de.auenland.wegweiser"


def test_each_current_entry_is_on_exactly_one_page_with_its_provenance(app, client):
    documents = pages(client, "/feed.json?per_page=4")
    assert len(documents) > 1
    listed = {item["id"]: item for item in items(documents)}
    assert len(listed) == len(items(documents))
    entries = app.extensions["wegweiser_store"].entries()
    assert set(listed) == {e["entry_id"] for e in entries}
    for entry in entries:
        assert sorted((p["publisher"], p["id"]) for p in listed[entry["entry_id"]]["provenance"]) == \
            sorted((p["publisher"], p["id"]) for p in entry["data"]["provenance"])


def test_references_name_the_publisher_of_the_organisation(client):
    documents = pages(client)
    organisations = {(o["provenance"][0]["publisher"], o["provenance"][0]["id"]) for d in documents for o in d["organisations"]}
    references = [(record["id"], ref) for record in items(documents)
                  for ref in [record.get("provider"), record.get("organiser"), record.get("parent_organisation"),
                              *record.get("co_organisers", [])] if ref is not None]
    assert len(references) > 30
    assert [(rid, ref) for rid, ref in references if not isinstance(ref, dict)] == []
    assert [(rid, ref) for rid, ref in references if (ref["publisher"], ref["id"]) not in organisations] == []
    festival = next(e for d in documents for e in d["events"] if e["title"]["de"].startswith("Nachbarschaftsfest"))
    assert festival["organiser"] == {"publisher": "example.bruecke-lindenau", "id": "bruecke"}


def test_a_polling_harvester_with_a_current_copy_gets_304(client):
    first = client.get("/feed.json")
    again = client.get("/feed.json", headers={"If-None-Match": first.headers["ETag"]})
    assert (again.status_code, again.data) == (304, b"")


def test_changed_since_gives_only_what_changed_after_it(app, client):
    last_change = app.extensions["wegweiser_store"].last_change()
    assert items(pages(client, f"/feed.json?changed_since={last_change}")) == []
    assert len(items(pages(client, "/feed.json?changed_since=2026-01-01T00:00:00Z"))) == len(items(pages(client)))


@pytest.mark.parametrize("query, parameter", [
    ("changed_since=yesterday", "changed_since"),
    ("after=../offers", "after"),
    ("per_page=0", "per_page"),
    ("per_page=5000", "per_page"),
    ("town=Lindenau", "town"),
    ("page=2", "page"),
])
def test_a_wrong_parameter_is_named(client, query, parameter):
    response = client.get(f"/feed.json?{query}")
    assert response.status_code == 400
    assert response.get_json()["error"].startswith(f"{parameter}: ")


CALENDAR = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Verein//Kalender//DE
BEGIN:VEVENT
UID:beratung-2027-01@verein.example
DTSTAMP:20261120T090000Z
DTSTART;TZID=Europe/Berlin:20270114T170000
DTEND;TZID=Europe/Berlin:20270114T190000
SUMMARY:Sozialberatung im Vereinsheim
CATEGORIES:Beratung
END:VEVENT
BEGIN:VEVENT
UID:grillfest-2027@verein.example
DTSTAMP:20261120T090000Z
DTSTART;TZID=Europe/Berlin:20270612T150000
DTEND;TZID=Europe/Berlin:20270612T200000
SUMMARY:Grillfest
END:VEVENT
END:VCALENDAR
"""


def test_a_calendar_event_without_category_stays_out_of_the_feed(instance, tmp_path):
    (tmp_path / "verein.ics").write_text(CALENDAR.replace("\n", "\r\n"), encoding="utf-8")
    calendar = Source("verein", "Verein", str(tmp_path / "verein.ics"), "migrant-self-organisation", "Lindenau",
                      None, "ical", timedelta(hours=1), False, 1)
    region = instance("kalender", [calendar])
    region.harvest(0)
    assert sorted(e["title"] for e in region.store.entries()) == ["Grillfest", "Sozialberatung im Vereinsheim"]
    assert [e["title"]["de"] for e in items(pages(region.client))] == ["Sozialberatung im Vereinsheim"]
    assert [p for r in validate.validate_pages(region.feed_url, fetch, today=TODAY) for p in r.problems if p.is_error] == []


# --- harvested by another instance ---------------------------------------------------------------

def test_b_harvesting_a_ends_with_the_same_directory(region_a, instance):
    b = instance("b", [source_of_feed("region-a", region_a.feed_url + "?per_page=5")])
    b.harvest(5)
    assert len(pages(region_a.client, "/feed.json?per_page=5")) > 5
    assert view(b.store) == view(region_a.store)
    assert len(view(b.store)) == len(region_a.store.entries()) > 40


def test_a_loop_of_two_instances_makes_no_duplicates(region_a, instance):
    b = instance("b", [source_of_feed("region-a", region_a.feed_url)])
    b.harvest(5)
    before, feed_before = view(region_a.store), region_a.client.get("/feed.json").get_json()
    region_a.sources.append(source_of_feed("region-b", b.feed_url))
    region_a.harvest(10)
    b.harvest(15)
    assert view(region_a.store) == before
    assert view(b.store) == before
    assert region_a.client.get("/feed.json").get_json() == feed_before


def test_records_of_a_third_feed_travel_through_the_loop_once(region_a, instance, tmp_path):
    document = json.loads((DATA / "valid" / "minimal-complete.json").read_text(encoding="utf-8"))
    document["events"][0]["title"] = {"de": "Frühstück im Frauentreff"}  # not the breakfast A knows, which would merge
    document["timezone"] = "Europe/London"  # its times stay London times in both directories
    (tmp_path / "bruecke.json").write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    third = Source("bruecke", "Brücke e.V.", str(tmp_path / "bruecke.json"), "migrant-self-organisation", "Lindenau",
                   None, None, timedelta(hours=1), False, 1)
    b = instance("b", [source_of_feed("region-a", region_a.feed_url), third])
    b.harvest(10)
    region_a.sources.append(source_of_feed("region-b", b.feed_url))
    region_a.harvest(15)
    b.harvest(20)
    region_a.harvest(25)
    assert {o.status for o in b.harvest(30) + region_a.harvest(35)} == {"unchanged"}
    assert view(region_a.store) == view(b.store)
    originals = [(p["publisher"], p["id"]) for e in region_a.store.entries() for p in e["data"]["provenance"]]
    assert len(originals) == len(set(originals))
    came = [e["title"] for e in region_a.store.entries() if e["data"]["provenance"][0]["publisher"] == "de.lindenau.bruecke"]
    assert sorted(came) == ["Brücke e.V.", "Frühstück im Frauentreff", "Offene Sprechstunde auf Türkisch und Arabisch"]


def test_an_entry_withdrawn_in_a_is_withdrawn_in_b(region_a, instance, tmp_path):
    b = instance("b", [source_of_feed("region-a", region_a.feed_url)])
    b.harvest(5)
    region_a.sources.append(source_of_feed("region-b", b.feed_url))
    region_a.harvest(10)
    [gone] = [e for e in region_a.store.entries("offer") if e["data"]["id"] == "offene-sprechstunde"]
    withdraw_offer(tmp_path / "district" / "bruecke-lindenau.json", "offene-sprechstunde")
    region_a.harvest(20)
    document = region_a.client.get("/feed.json").get_json()
    [tombstone] = [o for o in document["offers"] if o.get("deleted")]
    assert tombstone["id"] == gone["entry_id"]
    # B stored the offer under its original global id; the tombstone names that same id.
    assert original_global_id(tombstone, document["publisher"]["id"]) == b.store.entry_sources(gone["entry_id"])[0]["global_id"]
    assert items(pages(region_a.client, "/feed.json?changed_since=2026-11-22T10:15:00Z")) == [tombstone]
    assert [p for r in validate.validate_pages(region_a.feed_url, fetch, today=TODAY) for p in r.problems if p.is_error] == []
    b.harvest(25)
    region_a.harvest(30)
    assert b.store.entry(gone["entry_id"])["withdrawn_at"] is not None
    assert region_a.store.entry(gone["entry_id"])["withdrawn_at"] is not None
    assert view(b.store) == view(region_a.store)
    assert gone["entry_id"] not in view(b.store)
