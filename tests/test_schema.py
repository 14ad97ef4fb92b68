"""The schema files themselves: valid JSON Schema 2020-12, resolvable offline, and enforcing the format's key rules."""
import pytest
from jsonschema import Draft202012Validator
from referencing.exceptions import Unresolvable

import wegweiser_schema
from wegweiser_schema import SCHEMA_FILES, registry, schema

ID_BASE = "https://w3id.org/wegweiser/schema/v1/"


def validator(target: str) -> Draft202012Validator:
    """A validator for a schema file, or a ``$defs`` entry of one written ``name#/$defs/entry``."""
    name, _, pointer = target.partition("#")
    reference = schema(name)["$id"] + (f"#{pointer}" if pointer else "")
    return Draft202012Validator({"$ref": reference}, registry=registry())


def references(node, found: list[str] | None = None) -> list[str]:
    """Every ``$ref`` value anywhere in a schema."""
    found = [] if found is None else found
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            found.append(node["$ref"])
        for value in node.values():
            references(value, found)
    elif isinstance(node, list):
        for value in node:
            references(value, found)
    return found


def feed(**lists) -> dict:
    """The smallest valid feed document, with the given record lists."""
    return {
        "schema_version": wegweiser_schema.SCHEMA_VERSION,
        "publisher": {
            "id": "de.lindenau.integrationsbuero",
            "name": {"de": "Integrationsbüro der Stadt Lindenau"},
            "kind": "municipal-integration-office",
            "town": {"name": "Lindenau", "ags": "03155012"},
            "license": "dl-de/by-2-0",
        },
        "default_language": "de",
        "timezone": "Europe/Berlin",
        "updated": "2026-11-20T09:30:00+01:00",
        **lists,
    }


OFFER = {
    "id": "sprechstunde",
    "updated": "2026-11-18T14:05:00+01:00",
    "title": {"de": "Offene Sprechstunde"},
    "status": "active",
    "categories": ["counselling"],
}
ADDRESS = {"address_1": "Marktplatz 1", "postal_code": "37154", "city": "Lindenau"}


def messages(target: str, instance) -> list[str]:
    return [error.message for error in validator(target).iter_errors(instance)]


@pytest.mark.parametrize("name", SCHEMA_FILES)
def test_schema_file_is_valid_json_schema_2020_12(name):
    assert schema(name)["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema(name))


def test_schema_ids_are_unique_and_under_the_v1_base():
    ids = [schema(name)["$id"] for name in SCHEMA_FILES]
    assert len(set(ids)) == len(ids), ids
    assert ids == [f"{ID_BASE}{name}.schema.json" for name in SCHEMA_FILES]


def test_every_reference_resolves_through_the_registry():
    unresolved, checked = [], 0
    for name in SCHEMA_FILES:
        resolver = registry().resolver(base_uri=schema(name)["$id"])
        for reference in references(schema(name)):
            checked += 1
            try:
                resolver.lookup(reference)
            except Unresolvable as problem:
                unresolved.append(f"{name}.schema.json: {reference}: {problem}")
    assert not unresolved, "\n".join(unresolved)
    assert checked > 50, "the walk found too few $refs to be walking the schemas"


def test_a_tombstone_is_accepted_without_title_or_categories():
    tombstone = {"id": "sprachcafe-2025", "deleted": True, "updated": "2026-11-19T08:00:00Z"}
    assert messages("feed", feed(offers=[tombstone], events=[tombstone], organisations=[tombstone])) == []


def test_a_tombstone_without_updated_is_rejected():
    assert messages("feed", feed(offers=[{"id": "sprachcafe-2025", "deleted": True}]))


def test_a_physical_location_without_address_is_rejected():
    assert messages("common#/$defs/location", {"location_type": "physical", "name": {"de": "Rathaus"}})
    assert messages("common#/$defs/location", {"location_type": "physical", "address": ADDRESS}) == []


def test_a_virtual_location_without_url_is_rejected():
    assert messages("common#/$defs/location", {"location_type": "virtual"})
    assert messages("common#/$defs/location", {"location_type": "virtual", "url": "https://meet.lindenau.de/sprechstunde"}) == []


def test_a_contact_without_phone_and_email_is_rejected():
    assert messages("common#/$defs/contact", {"name": "Aylin Demir"})
    assert messages("common#/$defs/contact", {"name": "Aylin Demir", "email": "a.demir@lindenau.de"}) == []


def test_an_offer_in_a_feed_is_checked_against_the_offer_schema():
    untitled = {key: value for key, value in OFFER.items() if key != "title"}
    assert messages("feed", feed(offers=[untitled]))


def test_schema_version_of_another_major_version_is_rejected():
    assert messages("feed", {**feed(), "schema_version": "2.0.0"})
    assert messages("feed", {**feed(), "schema_version": "1.4.2"}) == []


def test_unknown_fields_are_accepted_so_newer_minor_versions_stay_readable():
    offer = {**OFFER, "wheelchair_taxi": True, "locations": [{"location_type": "physical", "address": {**ADDRESS, "floor": "2"}}]}
    assert messages("feed", {**feed(offers=[offer]), "generator": "Tabellenwerkzeug 3.1"}) == []


def test_a_wall_clock_time_with_utc_offset_is_rejected_as_event_start():
    event = {"id": "infoabend", "updated": "2026-11-18T14:05:00+01:00", "title": {"de": "Infoabend"},
             "start": "2027-01-21T18:00:00+01:00", "categories": ["counselling"]}
    assert messages("event", event)
    assert messages("event", {**event, "start": "2027-01-21T18:00"}) == []
