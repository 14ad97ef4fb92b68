"""Read iCalendar files from real calendars (Google, Outlook, Nextcloud, Apple, WordPress plugins) into event records.

Each VEVENT is read on its own: one that cannot be read becomes a problem and the rest go on. Series are kept
as rules (RRULE, RDATE, EXDATE), never expanded, and changed occurrences (RECURRENCE-ID) become the series'
``overrides``. Times come out as wall-clock times in the event's zone, as the feed format writes them.

The stages: ``ical_lines`` turns the file into calendars and knows each component's lines, ``ical_vevent``
turns one VEVENT into record fields, and this module joins series with their changes into finished records.
"""
import hashlib
import re
import warnings
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo

import x_wr_timezone
from icalendar import Calendar
from icalendar.timezone import tzp

from feeds.ical_lines import Source, content_lines, decode, parse, scan
from feeds.ical_vevent import LOCAL_ID, Vevent, end_text, event_name, read_vevent, written
from feeds.ical_write import default_override_end, like_start
from feeds.problems import Problem, warning

# Which record field each property fills, for locating records and problems by line.
FIELD_PROPERTIES = {
    "id": "UID", "updated": "LAST-MODIFIED", "title": "SUMMARY", "description": "DESCRIPTION",
    "start": "DTSTART", "end": "DTEND", "timezone": "DTSTART", "recurrence": "RRULE", "status": "STATUS", "location": "LOCATION",
    "url": "URL", "categories": "CATEGORIES", "recurrence_id": "RECURRENCE-ID",
}
FIELD_ORDER = ("id", "updated", "title", "description", "status", "start", "end", "timezone", "recurrence",
               "overrides", "location", "categories", "url")


@dataclass
class CalendarRead:
    """What an iCalendar file holds, as event records in the feed schema, with problems and source lines."""

    events: list[dict]
    problems: list[Problem]
    lines: dict[str, int]
    name: str | None
    timezone: str


def read_calendar(data: bytes, *, timezone: str = "Europe/Berlin", language: str = "de") -> CalendarRead:
    """Read an .ics file; ``timezone`` places floating times when the file names none, ``language`` tags
    texts that carry no LANGUAGE. Raises ValueError when the data is not an iCalendar file at all."""
    lines, problems = content_lines(decode(data))
    calendars = parse(lines, problems)
    calendar_sources, event_sources = scan(lines)
    zone = _calendar_zone(calendars, calendar_sources, timezone, problems)
    parsed = _vevents(calendars, event_sources, zone, language, problems)
    events, record_lines = _join(parsed, problems)
    return CalendarRead(events, problems, record_lines, _calendar_name(calendars), zone)


def _vevents(calendars: list[Calendar], sources: list[Source], zone: str, language: str,
             problems: list[Problem]) -> list[Vevent]:
    """Every readable VEVENT, floating times placed in its calendar's X-WR-TIMEZONE, else in ``zone``."""
    parsed: list[Vevent] = []
    remaining = iter(sources)
    for calendar in calendars:
        named = _zone_key(str(calendar.get("X-WR-TIMEZONE", "")))
        if named:
            calendar = x_wr_timezone.to_standard(calendar, timezone=ZoneInfo(named))
        for vevent in calendar.walk("VEVENT"):
            source = next(remaining, Source(1))
            item = read_vevent(vevent, source, named or zone, language, problems)
            if item is not None:
                parsed.append(item)
    return parsed


def _zone_key(name: str) -> str | None:
    """The IANA name for a zone as calendars write it (IANA, Windows, vendor-prefixed), or None if unknown."""
    if not name.strip():
        return None
    try:
        with warnings.catch_warnings(action="ignore"):
            zone = tzp.timezone(name.strip())
    except (ValueError, OSError):  # "Europe/" names a directory of the tz database, not a zone
        return None
    return getattr(zone, "key", None)


def _calendar_zone(calendars: list[Calendar], sources: list[Source], fallback: str,
                   problems: list[Problem]) -> str:
    """The file's zone: the first usable X-WR-TIMEZONE, else the given one; unknown names are reported."""
    zone = None
    for calendar, source in zip(calendars, sources):
        if "X-WR-TIMEZONE" not in calendar:
            continue
        named = str(calendar["X-WR-TIMEZONE"])
        key = _zone_key(named)
        if key is None:
            # X-WR-TIMEZONE is the calendar's counterpart of the feed's `timezone`.
            problems.append(warning("/timezone", f"the calendar's time zone {named!r} is unknown, so times without "
                                                 f"a zone are read in {fallback}",
                                    "write an IANA zone name such as Europe/Berlin in X-WR-TIMEZONE",
                                    "ical-unknown-timezone").at(source.line("X-WR-TIMEZONE"), None))
        zone = zone or key
    return zone or fallback


def _calendar_name(calendars: list[Calendar]) -> str | None:
    """The first calendar name given, RFC 7986 NAME before the older X-WR-CALNAME."""
    for calendar in calendars:
        for prop in ("NAME", "X-WR-CALNAME"):
            if str(calendar.get(prop, "")).strip():
                return str(calendar[prop]).strip()
    return None


def local_id(uid: str) -> str:
    """A local id for a UID: the UID itself when it fits the id pattern, else a cleaned prefix and a short hash."""
    if LOCAL_ID.match(uid):
        return uid
    digest = hashlib.sha256(uid.encode("utf-8")).hexdigest()[:10]
    cleaned = re.sub(r"[^A-Za-z0-9._:~-]+", "-", uid).lstrip("._:~-")[:117].rstrip("._:~-")
    return f"{cleaned or 'event'}~{digest}"


def _fallback_uid(item: Vevent) -> str:
    """A stand-in for a missing UID, from what identifies the event: start, end and title."""
    record = item.record
    return "|".join([record["start"], record.get("end", ""), *record.get("title", {}).values()])


def _join(items: list[Vevent], problems: list[Problem]) -> tuple[list[dict], dict[str, int]]:
    """Series with their changed occurrences, duplicates resolved; returns the records and their lines."""
    masters: dict[str, list[Vevent]] = {}
    changes: dict[str, list[Vevent]] = {}
    order: list[str] = []
    for item in items:
        key = item.uid or _fallback_uid(item)
        group = changes if item.recurrence_id is not None else masters
        if key not in masters and key not in changes:
            order.append(key)
        group.setdefault(key, []).append(item)
    events: list[dict] = []
    taken: set[str] = set()
    lines: dict[str, int] = {}
    for key in order:
        overrides = _latest_each(changes.get(key, []), lambda item: item.recurrence_id, problems)
        if key in masters:
            master = _latest_each(masters[key], lambda item: "", problems)[0]
            _emit(master, overrides, key, events, taken, lines, problems)
        else:
            for orphan in overrides:
                # A changed occurrence without its series stands alone, under an id of its own.
                orphan.record.pop("recurrence", None)
                orphan.record["id"] = None
                # Standing alone it has no recurrence_id; what is said about its RECURRENCE-ID concerns the event.
                orphan.problems = [replace(problem, pointer="") if problem.pointer == "/recurrence_id" else problem
                                   for problem in orphan.problems]
                _emit(orphan, [], f"{key}-{written(orphan.recurrence_id)}", events, taken, lines, problems)
    return events, lines


def _latest_each(items: list[Vevent], identity, problems: list[Problem]) -> list[Vevent]:
    """One copy per identity, the highest SEQUENCE and latest change winning; older copies are reported."""
    chosen: dict = {}
    for item in items:
        known = chosen.get(identity(item))
        if known is None:
            chosen[identity(item)] = item
            continue
        newer, older = (item, known) if item.version >= known.version else (known, item)
        chosen[identity(item)] = newer
        occasion = f" on {written(older.recurrence_id)}" if older.recurrence_id is not None else ""
        # The older copy is not among the records, so the message names it for finding it in the calendar.
        problems.append(warning("", f"an older copy of {event_name(_title(older), older.uid)}{occasion} is left out",
                                "remove the duplicate from the calendar", "ical-duplicate-uid")
                        .at(older.source.begin, None))
    return list(chosen.values())


def _title(item: Vevent) -> str:
    """The event's title in whatever language it has, for messages."""
    return next(iter(item.record.get("title", {}).values()), "")


def _emit(master: Vevent, overrides: list[Vevent], key: str, events: list[dict], taken: set[str],
          lines: dict[str, int], problems: list[Problem]) -> None:
    """Append one finished record, with its overrides, lines and problems placed under its pointer."""
    record = master.record
    pointer = f"/events/{len(events)}"
    # X-WEGWEISER-ID repeats when a directory's calendar merges publishers; the UID then tells them apart.
    if record["id"] is None or record["id"] in taken:
        record["id"] = local_id(key)
    taken.add(record["id"])
    record["updated"] = max([record["updated"], *(item.record["updated"] for item in overrides)])
    _locate(pointer, master.source, record, lines)
    _claim_unreadable_lines(pointer, master.source, problems)
    problems.extend(problem.under(pointer) for problem in master.problems)
    if overrides:
        record["overrides"] = []
    for index, item in enumerate(overrides):
        override_pointer = f"{pointer}/overrides/{index}"
        override = _override(item, master)
        record["overrides"].append(override)
        _locate(override_pointer, item.source, override, lines)
        _claim_unreadable_lines(override_pointer, item.source, problems)
        problems.extend(problem.under(override_pointer) for problem in item.problems)
    events.append(_ordered(record))


def _claim_unreadable_lines(pointer: str, source: Source, problems: list[Problem]) -> None:
    """Place the unreadable lines inside a component under its record, the nearest pointer they have."""
    for index, problem in enumerate(problems):
        if problem.code == "ical-unreadable-line" and not problem.pointer and source.holds(problem.line):
            problems[index] = problem.under(pointer)


def _override(item: Vevent, master: Vevent) -> dict:
    """The override for a changed occurrence: only what differs from the series."""
    changed, series = item.record, master.record
    recurrence_id = written(like_start(item.recurrence_id, master.start))
    override = {"recurrence_id": recurrence_id}
    status = changed.get("status", "scheduled")
    if status != series.get("status", "scheduled"):
        override["status"] = status
    if changed["start"] != recurrence_id:
        override["start"] = changed["start"]
    series_end = master.start + master.duration if master.duration is not None else None
    end = item.start + item.duration if item.duration is not None else None
    if end is not None and end != default_override_end(item.start, master.start, series_end):
        override["end"] = end_text(item.start, end)
    for name in ("title", "description", "location"):
        if name in changed and changed[name] != series.get(name):
            override[name] = changed[name]
    return override


def _locate(pointer: str, source: Source, record: dict, lines: dict[str, int]) -> None:
    """Record the line of the component and of each field read from a property."""
    lines[pointer] = source.begin
    for name in record:
        prop = FIELD_PROPERTIES.get(name)
        if name == "id" and "X-WEGWEISER-ID" in source.properties:
            prop = "X-WEGWEISER-ID"
        if name == "updated" and "LAST-MODIFIED" not in source.properties:
            prop = "DTSTAMP"
        if name == "recurrence" and "RRULE" not in source.properties:
            prop = "RDATE"
        if prop and prop in source.properties:
            lines[f"{pointer}/{name}"] = source.properties[prop]


def _ordered(record: dict) -> dict:
    """The record's fields in the order the schema lists them, so written feeds read naturally."""
    return {name: record[name] for name in FIELD_ORDER if name in record}