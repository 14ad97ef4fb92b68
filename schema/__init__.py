"""The Wegweiser feed format: JSON Schema files and controlled vocabularies, loaded once.

Installed as the package ``wegweiser_schema`` so that the files travel with the code;
in a checkout they are read straight from ``schema/``.
"""
import json
from functools import cache
from importlib.resources import files

from referencing import Registry, Resource

SCHEMA_VERSION = "1.0.0"
SCHEMA_FILES = ("common", "organisation", "offer", "event", "feed")
VOCABULARIES = ("categories", "target-groups", "organisation-kinds", "licenses")


def _read_json(*parts: str) -> dict:
    return json.loads(files(__name__).joinpath(*parts).read_text(encoding="utf-8"))


@cache
def schema(name: str) -> dict:
    """The parsed schema file ``<name>.schema.json``."""
    return _read_json(f"{name}.schema.json")


@cache
def registry() -> Registry:
    """A registry holding every schema file under its ``$id``, so relative ``$ref``s resolve offline."""
    resources = [(schema(n)["$id"], Resource.from_contents(schema(n))) for n in SCHEMA_FILES]
    return Registry().with_resources(resources)


@cache
def vocabulary(name: str) -> dict:
    """The parsed vocabulary ``vocabularies/<name>.json``."""
    return _read_json("vocabularies", f"{name}.json")


@cache
def term_ids(name: str) -> frozenset[str]:
    """The ids of every term in a vocabulary."""
    return frozenset(term["id"] for term in vocabulary(name)["terms"])
