"""How records from many sources become one directory: global ids, the rule that recognises one
event announced by two publishers, and what an entry is found by (facets, search text).

The rule for events (documented in the README): two events from different sources are one entry
when, in some language they share, their titles are equal after folding (case, accents, ß/ss,
punctuation and spacing ignored), they start at the same instant, and they happen in the same
place: the same postal code and street if both give an address, else the same town. Events of
one source never merge with each other: a publisher listing an event twice is told, not hidden.
"""
import hashlib
import json
import re
import unicodedata
from datetime import date, datetime
from zoneinfo import ZoneInfo

from feeds.feed import utc_timestamp

STREET_WORDS = ((r"stra(ss|ß)e\b", "str"), (r"\bstr\.", "str"), (r"\bpl\.", "platz"))


def global_id(publisher_id: str, local_id: str) -> str:
    """A record's id across all publishers: the publisher's id, a slash, its own id."""
    return f"{publisher_id}/{local_id}"


def original_global_id(record: dict, publisher_id: str) -> str:
    """The global id under which a record was first published: a re-published record (one with
    provenance) keeps its original id, so harvesting a region and its towns gives no duplicates."""
    provenance = record.get("provenance")
    if isinstance(provenance, list) and provenance and isinstance(provenance[0], dict):
        first = provenance[0]
        if isinstance(first.get("publisher"), str) and isinstance(first.get("id"), str):
            return global_id(first["publisher"], first["id"])
    return global_id(publisher_id, record["id"])


def entry_id_for(kind: str, gid: str) -> str:
    """A short, URL-safe, stable id for a new directory entry."""
    return hashlib.sha256(f"{kind}\n{gid}".encode()).hexdigest()[:20]


def content_hash(record: dict) -> str:
    """A hash of a record's content, key order ignored, to tell real changes from re-sends."""
    return hashlib.sha256(json.dumps(record, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def fold(text: str) -> str:
    """Text as search and matching compare it: lower case, no accents, ß → ss, dotless ı → i,
    Arabic alef variants → ا and no tashkeel (see shared SEARCH.md)."""
    text = text.casefold().replace("ß", "ss").replace("ı", "i")
    text = re.sub("[أإآ]", "ا", text)
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c) and not "\u064b" <= c <= "\u065f")


def _normal_title(title: str) -> str:
    return " ".join(re.sub(r"[^\w]+", " ", fold(title)).split())


def _normal_street(street: str) -> str:
    text = fold(street)
    for pattern, replacement in STREET_WORDS:
        text = re.sub(pattern, replacement, text)
    return re.sub(r"[^\w]+", "", text)


def event_town(event: dict, source_town: str) -> str:
    """Where an event happens: the city of its address, else the town of its source."""
    address = (event.get("location") or {}).get("address") or {}
    return address.get("city") or source_town


def start_instant(event: dict, default_timezone: str) -> str | None:
    """An event's first start as a UTC instant (ISO), or its date for all-day events."""
    start = event.get("start")
    if not isinstance(start, str):
        return None
    try:
        if "T" not in start:
            return date.fromisoformat(start).isoformat()
        local = datetime.fromisoformat(start).replace(tzinfo=ZoneInfo(event.get("timezone") or default_timezone))
    except (ValueError, KeyError):
        return None
    return utc_timestamp(local)


def event_merge_keys(event: dict, default_timezone: str, source_town: str) -> list[str]:
    """The candidate keys of an event: one per language of its title, with start and town."""
    start = start_instant(event, default_timezone)
    titles = event.get("title") if isinstance(event.get("title"), dict) else {}
    if not start or not titles:
        return []
    town = _normal_title(event_town(event, source_town))
    return sorted({f"{_normal_title(t)}|{start}|{town}" for t in titles.values() if isinstance(t, str) and t.strip()})


def same_place(a: dict, b: dict) -> bool:
    """Two events with the same key are one only if their addresses, where both give one, agree."""
    first = (a.get("location") or {}).get("address")
    second = (b.get("location") or {}).get("address")
    if not first or not second:
        return True
    return (first.get("postal_code") == second.get("postal_code")
            and _normal_street(first.get("address_1", "")) == _normal_street(second.get("address_1", "")))


def _texts(value) -> list[str]:
    if isinstance(value, dict):
        return [v for v in value.values() if isinstance(v, str)]
    return [value] if isinstance(value, str) else []


def search_text(record: dict, folded_labels: dict[str, str]) -> str:
    """Everything a person might type to find a record: every language of its texts, place names,
    contact names and the labels of its categories and target groups in every language, folded."""
    parts = []
    for name in ("title", "name", "description"):
        parts += _texts(record.get(name))
    for location in record.get("locations") or ([record["location"]] if record.get("location") else []):
        if isinstance(location, dict):
            parts += _texts(location.get("name"))
            address = location.get("address") or {}
            parts += [str(address.get(k, "")) for k in ("address_1", "city")]
    for contact in record.get("contacts") or []:
        if isinstance(contact, dict):
            parts += _texts(contact.get("name")) + _texts(contact.get("role"))
    terms = (record.get("categories") or []) + (record.get("target_groups") or [])
    labels = " ".join(folded_labels.get(term, "") for term in terms if isinstance(term, str))
    return fold(" ".join(p for p in parts if p)) + " " + labels


def facets(kind: str, record: dict, town: str, provider_kind: str) -> set[tuple[str, str]]:
    """The filter values of an entry: categories, target groups, languages, town, kind of provider."""
    values = {("town", town), ("provider_kind", provider_kind)}
    values |= {("category", t) for t in record.get("categories") or [] if isinstance(t, str)}
    values |= {("target_group", t) for t in record.get("target_groups") or [] if isinstance(t, str)}
    values |= {("language", t) for t in record.get("languages") or [] if isinstance(t, str)}
    if kind == "organisation" and isinstance(record.get("kind"), str):
        values.add(("organisation_kind", record["kind"]))
    return values
