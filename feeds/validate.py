"""Validate a feed as `wegweiser validate` does: schema, then the semantic rules, located by
JSON pointer and by line and column in the file the publisher edits.

JSON feeds are checked whole (envelope, each record, ids across records); iCalendar files are
read into event records first and the same record checks run on those.
"""
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import urljoin

from json_source_map import calculate as source_map

from feeds import checks, ical, schema_check
from feeds.feed import RECORD_LISTS
from feeds.problems import Problem, error, warning

MAX_PAGES = 200


@dataclass
class Report:
    """What the validator found in one file or URL."""

    source: str
    problems: list[Problem] = field(default_factory=list)
    records: int = 0
    unreadable: str | None = None  # one-line reason when nothing could be checked
    unreadable_at: tuple[int, int] = (1, 1)
    next_page: str | None = None

    @property
    def errors(self) -> int:
        return sum(p.is_error for p in self.problems)

    @property
    def warnings(self) -> int:
        return len(self.problems) - self.errors


@dataclass(frozen=True)
class RecordFinding:
    """One record of a feed with the problems found in it."""

    list_name: str
    index: int
    record: object
    problems: list[Problem]

    @property
    def pointer(self) -> str:
        return f"/{self.list_name}/{self.index}"

    @property
    def is_valid(self) -> bool:
        return not any(p.is_error for p in self.problems)


def context_for(document: dict, *, today: date | None = None, organisation_ids: frozenset[str] | None = None) -> checks.FeedContext:
    """The feed-level facts record checks need, read off the document."""
    publisher = document.get("publisher") if isinstance(document.get("publisher"), dict) else {}
    if organisation_ids is None:
        organisation_ids = frozenset(_ids(document, "organisations"))
    return checks.FeedContext(
        today=today or date.today(),
        default_language=_string(document.get("default_language"), "de"),
        timezone=_string(document.get("timezone"), "Europe/Berlin"),
        organisation_ids=organisation_ids,
        publisher_id=_string(publisher.get("id"), ""),
    )


def _string(value, default: str) -> str:
    return value if isinstance(value, str) else default


def _ids(document: dict, list_name: str) -> Iterator[str]:
    records = document.get(list_name)
    for rec in records if isinstance(records, list) else ():
        if isinstance(rec, dict) and isinstance(rec.get("id"), str) and rec.get("deleted") is not True:
            yield rec["id"]


def check_record(kind: str, record, context: checks.FeedContext) -> list[Problem]:
    """Schema and semantic problems of one record, pointers relative to the record."""
    if isinstance(record, dict) and "deleted" in record:
        return schema_check.check("common", record, "/$defs/tombstone")
    return _without_repeats(schema_check.check(kind, record), checks.check_record(kind, record, context))


def _without_repeats(schema_problems: list[Problem], semantic: list[Problem]) -> list[Problem]:
    """One message per wrong value: where a semantic check explains a value (with a "did you
    mean"), the schema's more generic complaint about the same value is left out."""
    explained = {p.pointer for p in semantic}
    return [p for p in schema_problems if p.pointer not in explained] + semantic


def check_records(document: dict, context: checks.FeedContext) -> Iterator[RecordFinding]:
    """Every record of the document with its own problems, ids checked across all lists."""
    seen: dict[str, str] = {}
    for list_name, kind in RECORD_LISTS.items():
        records = document.get(list_name)
        if not isinstance(records, list):
            continue
        for index, record in enumerate(records):
            problems = check_record(kind, record, context)
            duplicate = _duplicate_id(record, f"/{list_name}/{index}", seen)
            yield RecordFinding(list_name, index, record, problems + duplicate)


def _duplicate_id(record, pointer: str, seen: dict[str, str]) -> list[Problem]:
    if not isinstance(record, dict) or not isinstance(record.get("id"), str):
        return []
    first = seen.setdefault(record["id"], pointer)
    if first == pointer:
        return []
    return [error("/id", f"the id '{record['id']}' is already used at {first}",
                  "every record needs its own id, unique across organisations, offers and events of this publisher",
                  "duplicate-id")]


def check_envelope(document, context: checks.FeedContext) -> list[Problem]:
    """Problems of the document outside its records."""
    if not isinstance(document, dict):
        return schema_check.check("feed", document)
    envelope = {k: v for k, v in document.items() if not (k in RECORD_LISTS and isinstance(v, list))}
    return _without_repeats(schema_check.check("feed", envelope), checks.check_envelope(document, context))


def check_document(document: dict, *, today: date | None = None, organisation_ids: frozenset[str] | None = None) -> list[Problem]:
    """Every problem of a parsed JSON feed, with absolute JSON pointers."""
    if not isinstance(document, dict):
        return check_envelope(document, context_for({}, today=today))
    context = context_for(document, today=today, organisation_ids=organisation_ids)
    problems = check_envelope(document, context)
    for finding in check_records(document, context):
        problems += [p.under(finding.pointer) for p in finding.problems]
    return problems


# --- files -----------------------------------------------------------------------------

def sniff_format(data: bytes, name: str = "") -> str:
    """'json' or 'ical' by content, falling back to the file name; '' when neither."""
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:64]
    if head.startswith((b"{", b"[")):
        return "json"
    if head.upper().startswith(b"BEGIN:VCALENDAR"):
        return "ical"
    lowered = name.lower().split("?")[0]
    if lowered.endswith(".json"):
        return "json"
    if lowered.endswith((".ics", ".ical")):
        return "ical"
    return ""


def validate_bytes(data: bytes, source: str, *, today: date | None = None,
                   organisation_ids: frozenset[str] | None = None, extra: list[Problem] = ()) -> Report:
    """Validate one file's bytes; ``unreadable`` is set when it is neither a JSON feed nor iCal.
    ``extra`` are problems found across pages, placed in this file like the rest."""
    kind = sniff_format(data, source)
    if kind == "json":
        return validate_json(data, source, today=today, organisation_ids=organisation_ids, extra=extra)
    if kind == "ical":
        return validate_ical(data, source, today=today)
    if source.lower().endswith(".csv"):
        return Report(source, unreadable="this is a spreadsheet, not a feed: turn it into one with `wegweiser convert`")
    return Report(source, unreadable="neither a JSON feed (starting with {) nor an iCalendar file (starting with BEGIN:VCALENDAR)")


def validate_json(data: bytes, source: str, *, today: date | None = None,
                  organisation_ids: frozenset[str] | None = None, extra: list[Problem] = ()) -> Report:
    """Validate a JSON feed and place each problem at its line and column."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return Report(source, unreadable=f"not UTF-8 text (byte {exc.start}): save the file as UTF-8")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        return Report(source, unreadable=f"not valid JSON: {exc.msg}", unreadable_at=(exc.lineno, exc.colno))
    problems = check_document(document, today=today, organisation_ids=organisation_ids) + list(extra)
    records = sum(len(document.get(n) or []) for n in RECORD_LISTS if isinstance(document, dict) and isinstance(document.get(n), list))
    next_page = document.get("next") if isinstance(document, dict) and isinstance(document.get("next"), str) else None
    return Report(source, _place_in_json(problems, text), records, next_page=next_page)


def _place_in_json(problems: list[Problem], text: str) -> list[Problem]:
    """Give each problem the line and column of the value its pointer names (or the nearest parent)."""
    if not problems:
        return []
    positions = source_map(text)
    placed = []
    for problem in problems:
        pointer = problem.pointer
        while pointer and pointer not in positions:
            pointer = pointer.rsplit("/", 1)[0]
        entry = positions.get(pointer or "")
        start = (entry.key_start or entry.value_start) if entry else None
        placed.append(problem.at(start.line + 1, start.column + 1) if start else problem.at(1, 1))
    return sorted(placed, key=lambda p: (p.line or 0, p.column or 0))


def validate_ical(data: bytes, source: str, *, today: date | None = None) -> Report:
    """Validate an iCalendar file: read its events, then run the record checks on each."""
    try:
        calendar = ical.read_calendar(data)
    except ValueError as exc:
        return Report(source, unreadable=str(exc))
    context = checks.FeedContext(today=today or date.today(), timezone=calendar.timezone,
                                 default_language=_calendar_language(calendar.events))
    problems = list(calendar.problems)
    for index, event in enumerate(calendar.events):
        found = [without_category_is_a_warning(p) for p in check_record("event", event, context)]
        problems += [_place_in_ical(p.under(f"/events/{index}"), calendar.lines) for p in found]
    return Report(source, sorted(problems, key=lambda p: (p.line or 0, p.column or 0)), len(calendar.events))


def is_missing_category(problem: Problem) -> bool:
    """The schema's complaint that a record has no category."""
    return problem.code == "schema-required" and "`categories`" in problem.message


def without_category_is_a_warning(problem: Problem) -> Problem:
    """Calendars, news feeds and web pages rarely carry our categories: their events are still
    worth harvesting, so for those formats a missing category is a warning, not an error."""
    if is_missing_category(problem):
        return warning(problem.pointer, "the event has no category from the vocabulary",
                       "add e.g. CATEGORIES:Beratung or CATEGORIES:counselling so people find it by topic", "no-category")
    return problem


def _calendar_language(events: list[dict]) -> str:
    """The language most event titles are written in: iCal has no feed-wide default."""
    tags = [next(iter(e["title"])) for e in events if isinstance(e.get("title"), dict) and e["title"]]
    return max(set(tags), key=tags.count) if tags else "de"


def _place_in_ical(problem: Problem, lines: dict[str, int]) -> Problem:
    pointer = problem.pointer
    while pointer and pointer not in lines:
        pointer = pointer.rsplit("/", 1)[0]
    return problem.at(lines.get(pointer, 1), 1)


# --- paged feeds -----------------------------------------------------------------------

@dataclass
class _Page:
    source: str
    data: bytes = b""
    document: dict | None = None  # set for JSON pages that parse
    failure: Report | None = None  # set when the page could not be loaded


def validate_pages(first: str, load: Callable[[str], bytes], *, today: date | None = None,
                   resolve: Callable[[str, str], str] = urljoin, follow: bool = True) -> list[Report]:
    """Validate a feed and every page its ``next`` links lead to; ids and references are
    checked across the pages, since an offer may name an organisation listed on another page."""
    pages = _load_pages(first, load, resolve, MAX_PAGES if follow else 1)
    organisation_ids = frozenset(i for page in pages if page.document for i in _ids(page.document, "organisations"))
    duplicates = _cross_page_duplicates(pages)
    return [page.failure or validate_bytes(page.data, page.source, today=today, organisation_ids=organisation_ids,
                                           extra=duplicates.get(page.source, []))
            for page in pages]


def _load_pages(first: str, load, resolve, max_pages: int) -> list[_Page]:
    pages: list[_Page] = []
    source: str | None = first
    while source and source not in {p.source for p in pages} and len(pages) < max_pages:
        try:
            page = _Page(source, load(source))
        except (OSError, ValueError) as exc:
            pages.append(_Page(source, failure=Report(source, unreadable=describe_read_failure(exc))))
            break
        page.document = _parse_json(page.data) if sniff_format(page.data, source) == "json" else None
        pages.append(page)
        link = page.document.get("next") if page.document else None
        source = resolve(source, link) if isinstance(link, str) else None
    return pages


def _parse_json(data: bytes) -> dict | None:
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return document if isinstance(document, dict) else None


def describe_read_failure(exc: Exception) -> str:
    """One line saying why a file or URL could not be read."""
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    if isinstance(exc, IsADirectoryError):
        return "this is a folder, not a file"
    return str(exc) or type(exc).__name__


def _cross_page_duplicates(pages: list[_Page]) -> dict[str, list[Problem]]:
    """Ids used on two different pages, as problems of the later page."""
    first_seen: dict[str, str] = {}
    found: dict[str, list[Problem]] = {}
    for page in pages:
        for list_name in RECORD_LISTS if page.document else ():
            records = page.document.get(list_name)
            for index, record in enumerate(records if isinstance(records, list) else ()):
                rec_id = record.get("id") if isinstance(record, dict) else None
                if not isinstance(rec_id, str) or record.get("deleted") is True:
                    continue
                if first_seen.setdefault(rec_id, page.source) != page.source:
                    found.setdefault(page.source, []).append(error(
                        f"/{list_name}/{index}/id", f"the id '{rec_id}' is already used on page {first_seen[rec_id]}",
                        "ids must be unique across all pages of a feed", "duplicate-id"))
    return found
