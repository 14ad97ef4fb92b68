"""Lists as spreadsheets: flat columns a reader of Excel or LibreOffice understands, written as CSV
that opens safely.

UTF-8 with a byte order mark, because Excel reads a CSV without one in the local code page and turns
"Müller" into "MÃ¼ller". Cells a spreadsheet would run as a formula (starting with = + - @, a tab or
a carriage return) get a leading apostrophe and every cell is quoted, as OWASP advises against CSV
injection: a feed's title "=HYPERLINK(...)" arrives as text, never as a live link.
"""
import csv
import io
from collections.abc import Iterable, Iterator
from zoneinfo import ZoneInfo

from flask import url_for
from flask_babel import lazy_gettext as _

from aggregator.occurrences import Occurrence
from aggregator.query import REGION_TIMEZONE
from webapp.i18n import pick
from webapp.present import language_name, organisation_entry_id, original_publisher, term_label

BOM = "\ufeff"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CHUNK = 64 * 1024  # characters of CSV sent at once while streaming

HEADINGS = {
    "id": _("Id"), "start": _("Start"), "end": _("End"), "status": _("Status"),
    "title": _("Title"), "title_de": _("Title (German)"), "name": _("Name"), "name_de": _("Name (German)"),
    "organisation_kind": _("Kind of organisation"), "categories": _("Categories"), "target_groups": _("Target groups"),
    "languages": _("Languages"), "town": _("Town"), "organisation": _("Organisation"), "address": _("Address"),
    "phone": _("Phone"), "email": _("Email"), "website": _("Website"), "detail_page": _("Page in the directory"),
}
_SHARED = ("categories", "target_groups", "languages", "town", "organisation", "address", "phone", "email", "website", "detail_page")
COLUMNS = {
    "offer": ("id", "title", "title_de", *_SHARED),
    "event": ("id", "start", "end", "status", "title", "title_de", *_SHARED),
    "organisation": ("id", "name", "name_de", "organisation_kind", "languages", "town", "address", "phone", "email",
                     "website", "detail_page"),
}
STATUS_WORDS = {"scheduled": _("takes place"), "cancelled": _("cancelled"), "postponed": _("postponed")}


def safe_cell(value: object) -> str:
    """A cell's text, with a leading apostrophe if a spreadsheet would read it as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_text(header: Iterable[str], rows: Iterable[Iterable[object]]) -> Iterator[str]:
    """The CSV document of a header and rows in pieces, starting with the byte order mark, so a
    long list is sent while it is read."""
    buffer = io.StringIO()
    buffer.write(BOM)
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL)
    writer.writerow([safe_cell(h) for h in header])
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
        if buffer.tell() >= CHUNK:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def header(kind: str) -> list[str]:
    """The column headings of a kind's list, in the visitor's language."""
    return [str(HEADINGS[name]) for name in COLUMNS[kind]]


def organisations_of(entry: dict) -> list[str]:
    """The entry ids of the organisations behind an offer (provider) or event (organisers)."""
    record = entry["data"]
    if entry["kind"] == "offer":
        references = [record.get("provider")]
    elif entry["kind"] == "event":
        references = [record.get("organiser"), *(record.get("co_organisers") or [])]
    else:
        references = []
    publisher = original_publisher(entry)
    return [found for found in (organisation_entry_id(r, publisher) for r in references) if found]


def row(entry: dict, names: dict[str, str], occurrence: Occurrence | None = None) -> list[str]:
    """An entry's cells in its kind's columns; for an event, one date of it (with what an override
    changed on that date)."""
    record = entry["data"] | (occurrence.changes if occurrence else {})
    text = record.get("title") or record.get("name") or {}
    cells = {
        "id": entry["entry_id"],
        "title": pick(text)[1], "title_de": _german(text), "name": pick(text)[1], "name_de": _german(text),
        "organisation_kind": term_label("organisation-kinds", record["kind"]) if record.get("kind") else "",
        "categories": ", ".join(term_label("categories", t) for t in record.get("categories") or []),
        "target_groups": ", ".join(term_label("target-groups", t) for t in record.get("target_groups") or []),
        "languages": ", ".join(language_name(tag) for tag in record.get("languages") or []),
        "town": entry.get("town") or "",
        "organisation": ", ".join(names[o] for o in organisations_of(entry) if o in names),
        "address": " / ".join(_place(location) for location in _locations(record)),
        "phone": ", ".join(_reachable(record, "phone")),
        "email": ", ".join(_reachable(record, "email")),
        "website": record.get("url") or record.get("website") or "",
        "detail_page": url_for(f"pages.{entry['kind']}", entry_id=entry["entry_id"], _external=True),
    }
    if occurrence:
        cells |= _when(occurrence, entry.get("timezone"))
    return [cells[name] for name in COLUMNS[entry["kind"]]]


def _german(text: dict) -> str:
    return next((wording for tag, wording in text.items() if tag.split("-")[0] == "de"), "")


def _when(occurrence: Occurrence, zone_name: str | None) -> dict[str, str]:
    """Start and end as a spreadsheet reads them (2027-05-21 17:00), in the event's zone; an all-day
    date as its first and last day."""
    start, end = occurrence.in_zone(ZoneInfo(zone_name or REGION_TIMEZONE))
    shown = (lambda value: value.isoformat()) if occurrence.all_day else (lambda value: value.strftime("%Y-%m-%d %H:%M"))
    return {"start": shown(start), "end": shown(end) if end else "", "status": str(STATUS_WORDS.get(occurrence.status, occurrence.status))}


def _locations(record: dict) -> list[dict]:
    if record.get("address"):
        return [{"location_type": "physical", "address": record["address"]}]
    return [record["location"]] if record.get("location") else list(record.get("locations") or [])


def _place(location: dict) -> str:
    """A location in one line: street, extra line, postal code and town; online ones by their address."""
    address = location.get("address")
    if not address:
        online = _("online")
        return f"{online}: {location.get('url', '')}" if location.get("location_type") == "virtual" else ""
    lines = [address.get("address_1"), address.get("address_2"), f"{address.get('postal_code', '')} {address.get('city', '')}".strip()]
    return ", ".join(line for line in lines if line)


def _reachable(record: dict, field: str) -> list[str]:
    """Every phone number (or email address) a record gives, itself, its contacts, its registration, once each."""
    found = [record.get(field), *((c or {}).get(field) for c in record.get("contacts") or []),
             (record.get("registration") or {}).get(field)]
    return list(dict.fromkeys(value for value in found if value))
