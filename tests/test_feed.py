"""Building a feed with the toolkit, writing it and reading it back."""
from pathlib import Path

import pytest

import feeds
from feeds.validate import check_document
from tests.conftest import DATA, REPO, TODAY

FEED_FILES = sorted((REPO / "feeds" / "examples").glob("*.json")) + sorted((DATA / "valid").glob("*.json"))

PUBLISHER = {"id": "de.lindenau.bruecke", "name": {"de": "Brücke e.V."}, "kind": "migrant-self-organisation",
             "town": {"name": "Lindenau", "ags": "03999012"}, "license": "CC-BY-4.0"}


def test_built_feed_is_valid_and_keeps_text_in_the_default_language():
    feed = feeds.Feed.new(PUBLISHER, default_language="de")
    feed.add("organisation", feeds.organisation("bruecke", name="Brücke e.V.", kind="migrant-self-organisation"))
    feed.add("offer", feeds.offer("sprechstunde", title={"de": "Sprechstunde", "tr": "Danışma saati"}, status="active",
                                  categories=["counselling"], languages=["tr", "ar"], provider="bruecke"))
    feed.add("event", feeds.event("fest", title="Nachbarschaftsfest", start="2027-06-12", end="2027-06-13",
                                  categories=["culture-and-leisure"], organiser="bruecke"))
    feed.add("offer", feeds.tombstone("altes-angebot", "2026-11-01T00:00:00Z"))
    assert feed.events[0]["title"] == {"de": "Nachbarschaftsfest"}
    assert feed.organisations[0]["name"] == {"de": "Brücke e.V."}
    assert check_document(feed.document, today=TODAY) == []


def test_misspelt_field_name_is_refused():
    with pytest.raises(TypeError, match="offer has no field titel"):
        feeds.offer("x", titel={"de": "Sprachcafé"})


@pytest.mark.parametrize("path", FEED_FILES, ids=lambda p: p.name)
def test_write_read_write_is_byte_stable(path: Path, tmp_path: Path):
    feed = feeds.Feed.read(path)
    first = tmp_path / "first.json"
    feed.write(first)
    again = feeds.Feed.read(first)
    assert again.document == feed.document
    assert again.dumps().encode() == first.read_bytes()


def test_unknown_fields_survive_a_round_trip(tmp_path: Path):
    feed = feeds.Feed.new(PUBLISHER)
    feed.document["x_local_note"] = {"kept": True}
    feed.add("offer", {**feeds.offer("a", title="A", status="active", categories=["sport"]), "future_field": [1, 2]})
    feed.write(tmp_path / "f.json")
    back = feeds.Feed.read(tmp_path / "f.json")
    assert back.document["x_local_note"] == {"kept": True}
    assert back.offers[0]["future_field"] == [1, 2]


def test_non_object_json_is_refused():
    with pytest.raises(ValueError, match="a feed is a JSON object, not a list"):
        feeds.Feed.loads("[]")
