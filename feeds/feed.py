"""The feed document: build records, write the JSON feed, read it back without losing anything.

A feed is kept as the plain JSON structure the schema describes (dicts and lists in their
original order), so reading and writing again is byte-stable and keeps fields this version
does not know, as the versioning policy asks of consumers.
"""
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import wegweiser_schema

RECORD_LISTS = {"organisations": "organisation", "offers": "offer", "events": "event"}
KIND_TO_LIST = {kind: plural for plural, kind in RECORD_LISTS.items()}
# For records whose source never says when they changed: a fixed time, so harvests of an unchanged
# source give identical records, and the earliest date the validator accepts.
UNKNOWN_UPDATED = "2000-01-01T00:00:00Z"


def utc_timestamp(moment: datetime) -> str:
    """An aware moment as the records' RFC 3339 timestamp: UTC, to the second, with Z."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_timestamp() -> str:
    """The current time as an RFC 3339 timestamp in UTC, to the second."""
    return utc_timestamp(datetime.now(timezone.utc))


def _text_fields(kind: str) -> frozenset[str]:
    """Fields of a record kind whose value is multilingual text, read off the schema."""
    properties = wegweiser_schema.schema(kind)["properties"]
    return frozenset(name for name, spec in properties.items() if spec.get("$ref", "").endswith("/text"))


def _known_fields(kind: str) -> frozenset[str]:
    return frozenset(wegweiser_schema.schema(kind)["properties"])


def record(record_kind: str, id: str, /, **fields) -> dict:
    """Build an organisation, offer or event; a misspelt field name is a TypeError, not a silent loss."""
    unknown = set(fields) - _known_fields(record_kind)
    if unknown:
        known = ", ".join(sorted(_known_fields(record_kind)))
        raise TypeError(f"{record_kind} has no field {', '.join(sorted(unknown))}; known: {known}")
    return {"id": id, "updated": fields.pop("updated", None) or now_timestamp(), **fields}


def organisation(id: str, /, **fields) -> dict:
    """An organisation record (see schema/organisation.schema.json)."""
    return record("organisation", id, **fields)


def offer(id: str, /, **fields) -> dict:
    """An offer record (see schema/offer.schema.json)."""
    return record("offer", id, **fields)


def event(id: str, /, **fields) -> dict:
    """An event record (see schema/event.schema.json)."""
    return record("event", id, **fields)


def tombstone(id: str, when: str | None = None) -> dict:
    """A withdrawn record, so harvesters learn of the deletion instead of diffing id lists."""
    return {"id": id, "deleted": True, "updated": when or now_timestamp()}


@dataclass
class Feed:
    """One publisher's feed document (or one page of it)."""

    document: dict = field(default_factory=dict)

    @classmethod
    def new(cls, publisher: dict, default_language: str = "de", timezone: str = "Europe/Berlin") -> "Feed":
        """An empty feed of the current schema version."""
        return cls({
            "schema_version": wegweiser_schema.SCHEMA_VERSION,
            "publisher": publisher,
            "default_language": default_language,
            "timezone": timezone,
            "updated": now_timestamp(),
        })

    @property
    def publisher(self) -> dict:
        return self.document["publisher"]

    @property
    def default_language(self) -> str:
        return self.document.get("default_language", "de")

    @property
    def timezone(self) -> str:
        return self.document.get("timezone", "Europe/Berlin")

    @property
    def organisations(self) -> list[dict]:
        return self.document.get("organisations", [])

    @property
    def offers(self) -> list[dict]:
        return self.document.get("offers", [])

    @property
    def events(self) -> list[dict]:
        return self.document.get("events", [])

    def add(self, kind: str, rec: dict) -> dict:
        """Append a record; plain strings in text fields become text in the feed's default language."""
        for name in _text_fields(kind) & rec.keys():
            if isinstance(rec[name], str):
                rec[name] = {self.default_language: rec[name]}
        self.document.setdefault(KIND_TO_LIST[kind], []).append(rec)
        return rec

    def touch(self) -> None:
        """Mark the document as produced now."""
        self.document["updated"] = now_timestamp()

    def dumps(self) -> str:
        """The feed as JSON text: UTF-8 characters kept readable, two-space indent, final newline."""
        return json.dumps(self.document, ensure_ascii=False, indent=2) + "\n"

    def write(self, path: str | Path) -> None:
        Path(path).write_text(self.dumps(), encoding="utf-8")

    @classmethod
    def loads(cls, text: str) -> "Feed":
        """Parse JSON text into a feed; raises ValueError when it is not a JSON object."""
        document = json.loads(text)
        if not isinstance(document, dict):
            raise ValueError(f"a feed is a JSON object, not a {type(document).__name__}")
        return cls(document)

    @classmethod
    def read(cls, path: str | Path) -> "Feed":
        return cls.loads(Path(path).read_text(encoding="utf-8-sig"))
