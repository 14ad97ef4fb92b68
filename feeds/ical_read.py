"""Read iCalendar files from real calendars (Google, Outlook, Nextcloud, Apple, WordPress plugins) into event records.

Each VEVENT is read on its own: one that cannot be read becomes a problem and the rest go on. Series are kept
as rules (RRULE, RDATE, EXDATE), never expanded, and changed occurrences (RECURRENCE-ID) become the series'
``overrides``. Times come out as wall-clock times in the event's zone, as the feed format writes them.
"""
import hashlib
import re
import warnings
from dataclasses import dataclass, field
from functools import cache
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import x_wr_timezone
from dateutil.rrule import rrulestr
from icalendar import Calendar, Component, vBroken
from icalendar.parser import Contentline
from icalendar.timezone import tzp

import wegweiser_schema
from feeds.ical_write import UTC_ZONES, default_override_end, like_start, normalised_rrule
from feeds.problems import Problem, error, warning

# Harvests of an unchanged calendar must give identical records, so a missing LAST-MODIFIED and DTSTAMP
# falls back to a fixed time rather than the time of reading.
FALLBACK_UPDATED = "1970-01-01T00:00:00Z"

LOCAL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:~-]{0,127}$")
LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$")
URL = re.compile(r"^https?://\S+$")
# "Name, Street 1, 12345 Town[, Deutschland]"; German calendars also write "Name @ Street 1 12345 Town".
ADDRESS = re.compile(r"^(?:(?P<name>.+?)(?:,|\s@)\s*)?(?P<street>[^,@]+?),?\s+(?P<postal>[0-9]{5})\s+"
                     r"(?P<city>[^,]+?)(?:,\s*(?:Deutschland|Germany|DE))?$")
# A series given only by RDATEs: the format needs a rule, and COUNT=1 adds nothing beyond DTSTART.
RDATE_ONLY_RULE = "FREQ=DAILY;COUNT=1"
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


@dataclass
class _Line:
    """One unfolded content line and the line number it starts on."""

    number: int
    text: str
    name: str
    value: str


@dataclass
class _Source:
    """Where one component sits in the file: its BEGIN line, its properties' lines and raw RRULE values."""

    begin: int
    properties: dict[str, int] = field(default_factory=dict)
    rrules: list[str] = field(default_factory=list)

    def line(self, prop: str) -> int:
        """The line of a property, or of BEGIN when the component lacks it."""
        return self.properties.get(prop, self.begin)


@dataclass
class _Vevent:
    """One VEVENT read into record fields, before series and their changed occurrences are joined."""

    uid: str | None
    record: dict
    source: _Source
    version: tuple
    recurrence_id: date | datetime | None = None
    start: date | datetime | None = None
    duration: timedelta | None = None
    problems: list[Problem] = field(default_factory=list)


def read_calendar(data: bytes, *, timezone: str = "Europe/Berlin", language: str = "de") -> CalendarRead:
    """Read an .ics file; ``timezone`` places floating times when the file names none, ``language`` tags
    texts that carry no LANGUAGE. Raises ValueError when the data is not an iCalendar file at all."""
    lines, problems = _content_lines(_decode(data))
    calendars = _parse(lines, problems)
    calendar_sources, event_sources = _scan(lines)
    zone = _calendar_zone(calendars, calendar_sources, timezone, problems)
    parsed: list[_Vevent] = []
    sources = iter(event_sources)
    for calendar in calendars:
        named = _zone_key(str(calendar.get("X-WR-TIMEZONE", "")))
        if named:
            calendar = x_wr_timezone.to_standard(calendar, timezone=ZoneInfo(named))
        for vevent in calendar.walk("VEVENT"):
            source = next(sources, _Source(1))
            item = _read_vevent(vevent, source, named or zone, language, problems)
            if item is not None:
                parsed.append(item)
    events, record_lines = _join(parsed, problems)
    return CalendarRead(events, problems, record_lines, _calendar_name(calendars), zone)


def _decode(data: bytes) -> str:
    """The file as text, without a byte order mark; raises ValueError unless it is UTF-8 iCalendar text."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"the file is not UTF-8 text (byte {exc.start} cannot be read), so it is no iCalendar "
                         "file") from None
    if not text.strip():
        raise ValueError("not an iCalendar file: the file is empty")
    if not text.lstrip().upper().startswith("BEGIN:VCALENDAR"):
        first = text.lstrip().split("\n", 1)[0][:40]
        raise ValueError(f"not an iCalendar file: it starts with {first!r} instead of BEGIN:VCALENDAR")
    return text


def _content_lines(text: str) -> tuple[list[_Line], list[Problem]]:
    """The unfolded content lines; a line that is no "NAME;PARAMS:value" is left out with a warning."""
    logical: list[tuple[int, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if raw[:1] in (" ", "\t") and logical:
            logical[-1] = (logical[-1][0], logical[-1][1] + raw[1:])
        elif raw.strip():
            logical.append((number, raw))
    lines, problems = [], []
    for number, raw in logical:
        try:
            name, _, value = Contentline(raw).parts()
        except ValueError:
            problems.append(warning("", f"Line {number} cannot be read and is skipped: {raw[:60]!r}.",
                                    "Lines look like NAME:value; check this one in the calendar program.",
                                    "ical-unreadable-line").at(number, None))
            continue
        lines.append(_Line(number, raw, name.upper(), value))
    return lines, problems


def _parse(lines: list[_Line], problems: list[Problem]) -> list[Calendar]:
    """Every VCALENDAR; when another component breaks the parser, again with events only, and a warning.

    Raises ValueError when even that fails: a calendar cut off in transfer must not be taken for one whose
    events were deleted.
    """
    try:
        return _calendars(lines)
    except ValueError:
        events_only = _events_only(lines)
        if len(events_only) == len(lines):
            raise
    calendars = _calendars(events_only)
    skipped = sorted({line.number for line in lines} - {line.number for line in events_only})
    problems.append(warning("", "Parts of the calendar other than events (time zone definitions, alarms, tasks) "
                                "cannot be read and are skipped; time zones are taken by their names.",
                            "Check the calendar's time zone and reminder settings.", "ical-unreadable-component")
                    .at(skipped[0], None))
    return calendars


def _calendars(lines: list[_Line]) -> list[Calendar]:
    """Parse content lines into calendars; raises ValueError with a one-line reason."""
    try:
        with warnings.catch_warnings():
            # Vendor-prefixed TZIDs (/freeassociation.sourceforge.net/Europe/Berlin) are mapped as wanted.
            warnings.simplefilter("ignore")
            calendars = Calendar.from_ical("\r\n".join(line.text for line in lines), multiple=True)
    except Exception as exc:
        reason = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise ValueError(f"the iCalendar file cannot be read: {reason}") from None
    calendars = [calendar for calendar in calendars if calendar.name == "VCALENDAR"]
    if not calendars:
        raise ValueError("the iCalendar file has no complete calendar: BEGIN:VCALENDAR without END:VCALENDAR")
    return calendars


def _events_only(lines: list[_Line]) -> list[_Line]:
    """Calendar properties and events, without time zone definitions, alarms, tasks or journal entries."""
    kept, stack = [], []
    for line in lines:
        if line.name == "BEGIN":
            stack.append(line.value.strip().upper())
        if all(kind in ("VCALENDAR", "VEVENT") for kind in stack):
            kept.append(line)
        if line.name == "END":
            del stack[-1:]
    return kept


def _scan(lines: list[_Line]) -> tuple[list[_Source], list[_Source]]:
    """The source lines of each VCALENDAR and each VEVENT, in file order (the parser keeps no line numbers)."""
    calendars: list[_Source] = []
    events: list[_Source] = []
    stack: list[tuple[str, _Source | None]] = []
    for line in lines:
        if line.name == "END":
            del stack[-1:]
        elif line.name == "BEGIN":
            kind = line.value.strip().upper()
            source = None
            # Only what the parser keeps counts: calendars at the top, events inside a calendar.
            if kind == "VCALENDAR" and not stack:
                source = _Source(line.number)
                calendars.append(source)
            elif kind == "VEVENT" and stack and stack[0][0] == "VCALENDAR":
                source = _Source(line.number)
                events.append(source)
            stack.append((kind, source))
        elif stack and stack[-1][1] is not None:
            source = stack[-1][1]
            source.properties.setdefault(line.name, line.number)
            if line.name == "RRULE" and stack[-1][0] == "VEVENT":
                source.rrules.append(line.value.strip())
    return calendars, events


def _zone_key(name: str) -> str | None:
    """The IANA name for a zone as calendars write it (IANA, Windows, vendor-prefixed), or None if unknown."""
    if not name.strip():
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            zone = tzp.timezone(name.strip())
    except (ValueError, OSError):  # "Europe/" names a directory of the tz database, not a zone
        return None
    return getattr(zone, "key", None)


def _calendar_zone(calendars: list[Calendar], sources: list[_Source], fallback: str,
                   problems: list[Problem]) -> str:
    """The file's zone: the first usable X-WR-TIMEZONE, else the given one; unknown names are reported."""
    zone = None
    for calendar, source in zip(calendars, sources):
        if "X-WR-TIMEZONE" not in calendar:
            continue
        named = str(calendar["X-WR-TIMEZONE"])
        key = _zone_key(named)
        if key is None:
            problems.append(warning("", f"The calendar's time zone {named!r} is unknown, so times without a zone "
                                        f"are read in {fallback}.",
                                    "Write an IANA zone name such as Europe/Berlin in X-WR-TIMEZONE.",
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


def _read_vevent(vevent: Component, source: _Source, zone: str, language: str,
                 problems: list[Problem]) -> _Vevent | None:
    """One VEVENT as record fields; None (with an error problem) when it cannot become an event."""
    summary = str(_one(vevent, "SUMMARY", "")).strip()
    label = f"The event {summary!r}" if summary else "An event"
    start = _one(vevent, "DTSTART")
    if start is None or not isinstance(getattr(start, "dt", None), date):
        problems.append(error("", f"{label} has no readable start date (DTSTART), so it is left out.",
                              "Give every event a start date and time.", "ical-no-start")
                        .at(source.line("DTSTART"), None))
        return None
    try:
        return _vevent_fields(vevent, source, zone, language)
    except Exception as exc:
        problems.append(error("", f"{label} could not be read ({exc}), so it is left out.", "",
                              "ical-unreadable-event").at(source.begin, None))
        return None


def _vevent_fields(vevent: Component, source: _Source, zone: str, language: str) -> _Vevent:
    """The record fields of a VEVENT that has a readable start."""
    uid = str(_one(vevent, "UID", "")).strip() or None
    dtstart = _one(vevent, "DTSTART")
    raw_start = dtstart.dt
    recurring = any(source.rrules) or "RDATE" in vevent
    event_zone = _event_zone(raw_start, zone)
    start = _in_zone(raw_start, event_zone)
    item = _Vevent(uid, {}, source, _version(vevent), start=start)
    record = item.record
    own_id = str(_one(vevent, "X-WEGWEISER-ID", "")).strip()
    record["id"] = own_id if LOCAL_ID.match(own_id) else None
    record["updated"] = _updated(vevent)
    _add_text(record, "title", _one(vevent, "SUMMARY"), language)
    _add_text(record, "description", _one(vevent, "DESCRIPTION"), language)
    if isinstance(raw_start, datetime) and raw_start.tzinfo is None and "TZID" in dtstart.params:
        item.problems.append(_problem(source, "start", "DTSTART", f"The time zone {dtstart.params['TZID']!r} "
                                      f"is unknown, so the time is read in {zone}.",
                                      "Use an IANA zone name such as Europe/Berlin.", "ical-unknown-timezone"))
    record["start"] = _written(start)
    end = _end(vevent, start, event_zone)
    if end is not None:
        item.duration = end - start
        _add_end(item, end)
    if event_zone != zone:
        record["timezone"] = event_zone
    if recurring:
        _add_recurrence(item, vevent, event_zone)
    _add_status(record, vevent)
    _add_location(item, vevent, language)
    url = str(_one(vevent, "URL", "")).strip()
    if URL.match(url):
        record["url"] = url
    categories = _categories(vevent)
    if categories:
        record["categories"] = categories
    if "RECURRENCE-ID" in vevent:
        recurrence_id = _one(vevent, "RECURRENCE-ID")
        item.recurrence_id = _in_zone(recurrence_id.dt, event_zone)
        if str(recurrence_id.params.get("RANGE", "")).upper() == "THISANDFUTURE":
            item.problems.append(_problem(source, "", "RECURRENCE-ID", "This change applies to all later dates "
                                          "too (RANGE=THISANDFUTURE), but is kept for this one date only.",
                                          "Change the series itself instead.", "ical-range-ignored"))
    return item


def _one(vevent: Component, name: str, default=None):
    """A property meant to appear once; of a repeated one (two DTSTARTs) the first counts."""
    value = vevent.get(name, default)
    value = value[0] if isinstance(value, list) and value else value
    # A value the parser could not read counts as missing (a broken DTSTART is reported as no start).
    return default if isinstance(value, vBroken) else value


def _problem(source: _Source, pointer_field: str, prop: str, message: str, hint: str, code: str) -> Problem:
    """A warning about one field of an event, placed on the property's line."""
    pointer = f"/{pointer_field}" if pointer_field else ""
    return warning(pointer, message, hint, code).at(source.line(prop), None)


def _version(vevent: Component) -> tuple:
    """How to order two copies of the same event: SEQUENCE, then last change."""
    try:
        sequence = int(_one(vevent, "SEQUENCE", 0))
    except (TypeError, ValueError):
        sequence = 0
    return sequence, _updated(vevent)


def _event_zone(start: date | datetime, zone: str) -> str:
    """The zone an event's wall-clock times are written in: the IANA zone of DTSTART, else the calendar's.

    UTC times are shown in the calendar's zone, as x-wr-timezone does for Google calendars: a series written
    in UTC is nearly always meant to repeat at the same local time. Zones defined only inside the file (no
    IANA name) fall back to the calendar's zone as well.
    """
    key = getattr(getattr(start, "tzinfo", None), "key", None)
    return zone if key is None or key in UTC_ZONES else key


def _in_zone(value: date | datetime, zone: str) -> date | datetime:
    """A time as naive wall clock in the zone; dates and floating times stay as they are."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    return value


def _written(value: date | datetime) -> str:
    """A record's date or wall-clock time: YYYY-MM-DD, YYYY-MM-DDTHH:MM, or with seconds when they matter."""
    if not isinstance(value, datetime):
        return value.isoformat()
    return value.strftime("%Y-%m-%dT%H:%M:%S" if value.second else "%Y-%m-%dT%H:%M")


def _updated(vevent: Component) -> str:
    """LAST-MODIFIED, else DTSTAMP, as UTC; times without a zone are taken as UTC, as RFC 5545 requires."""
    for prop in ("LAST-MODIFIED", "DTSTAMP"):
        value = getattr(_one(vevent, prop), "dt", None)
        if isinstance(value, datetime):
            value = value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
            return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return FALLBACK_UPDATED


def _add_text(record: dict, name: str, prop, language: str) -> None:
    """A text field in the property's LANGUAGE (or the given one), left out when empty."""
    wording = str(prop or "").strip()
    if wording:
        tag = str(prop.params.get("LANGUAGE", "")) if hasattr(prop, "params") else ""
        record[name] = {tag if LANGUAGE_TAG.match(tag) else language: wording}


def _end(vevent: Component, start: date | datetime, zone: str) -> date | datetime | None:
    """The exclusive end from DTEND or DURATION in the type of the (wall-clock) start; None when neither says."""
    if "DTEND" in vevent:
        value = _one(vevent, "DTEND").dt
        if not isinstance(start, datetime) and isinstance(value, datetime):
            # An all-day start with a time as end: the day it falls on counts, unless it is that day's midnight.
            return value.date() + timedelta(days=0 if value.time() == datetime.min.time() else 1)
        return like_start(_in_zone(value, zone), start)
    if "DURATION" in vevent:
        return start + _one(vevent, "DURATION").dt
    return None


def _add_end(item: _Vevent, end: date | datetime) -> None:
    """The record's end: the last day (inclusive) for all-day events, else the wall-clock end."""
    start, record = item.start, item.record
    if end < start:
        item.problems.append(_problem(item.source, "end", "DTEND", f"The event ends ({_written(end)}) before it "
                                      f"starts ({_written(start)}), so the end is left out.",
                                      "Check the start and end dates.", "ical-end-before-start"))
        item.duration = None
        return
    if isinstance(start, datetime) or end - start > timedelta(days=1):
        record["end"] = _end_text(start, end)


def _end_text(start: date | datetime, end: date | datetime) -> str:
    """The end as records write it: the wall-clock end, or for all-day events the last day (inclusive)."""
    return _written(end if isinstance(start, datetime) else max(start, end - timedelta(days=1)))


def _add_recurrence(item: _Vevent, vevent: Component, zone: str) -> None:
    """RRULE (as written, UNTIL made unambiguous), RDATE and EXDATE, or a warning when the rule is broken."""
    start, source = item.start, item.source
    all_day = not isinstance(start, datetime)
    rules = list(dict.fromkeys(rule for rule in source.rrules if rule))
    if len(rules) > 1:
        item.problems.append(_problem(source, "recurrence", "RRULE", f"The event has {len(rules)} different repeat "
                                      "rules (RRULE); only the first is used.",
                                      "Split the event into one event per rule.", "ical-several-rrules"))
    rule = normalised_rrule(rules[0], all_day, ZoneInfo(zone)) if rules else RDATE_ONLY_RULE
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # COUNT with UNTIL is reported below, in words for publishers
            rrulestr(rule, dtstart=datetime.combine(start, datetime.min.time()) if all_day
                     else start.replace(tzinfo=ZoneInfo(zone)))
    except (ValueError, TypeError) as exc:
        item.problems.append(_problem(source, "recurrence", "RRULE", f"The repeat rule {rule!r} cannot be read "
                                      f"({exc}), so only the first date is kept.",
                                      "Check the rule in the calendar program, or enter the dates one by one.",
                                      "ical-broken-rrule"))
        return
    if re.search(r"(^|;)COUNT=", rule, re.IGNORECASE) and re.search(r"(^|;)UNTIL=", rule, re.IGNORECASE):
        item.problems.append(_problem(source, "recurrence", "RRULE", f"The repeat rule {rule!r} gives both a number "
                                      "of dates (COUNT) and a last date (UNTIL); calendar programs may show "
                                      "different dates.", "Keep only one of them.", "ical-count-and-until"))
    recurrence = {"rrule": rule}
    for name in ("RDATE", "EXDATE"):
        values = [_written(like_start(_in_zone(value, zone), start)) for value in _date_list(vevent, name)]
        if values:
            recurrence[name.lower()] = list(dict.fromkeys(values))
    item.record["recurrence"] = recurrence


def _date_list(vevent: Component, name: str) -> list[date | datetime]:
    """Every value of a possibly repeated, possibly comma-separated date list; a PERIOD counts by its start."""
    props = vevent.get(name, [])
    values = []
    for prop in props if isinstance(props, list) else [props]:
        for entry in [] if isinstance(prop, vBroken) else prop.dts:
            value = entry.dt
            values.append(value[0] if isinstance(value, tuple) else value)
    return values


def _add_status(record: dict, vevent: Component) -> None:
    """cancelled for STATUS:CANCELLED, postponed where this toolkit marked it; scheduled is left implied."""
    if str(_one(vevent, "STATUS", "")).strip().upper() == "CANCELLED":
        record["status"] = "cancelled"
    elif str(_one(vevent, "X-WEGWEISER-STATUS", "")).strip().lower() == "postponed":
        record["status"] = "postponed"


def _add_location(item: _Vevent, vevent: Component, language: str) -> None:
    """An online address as a virtual location, "name, street, postcode town" as a physical one."""
    place = str(_one(vevent, "LOCATION", "")).strip()
    if not place:
        return
    if URL.match(place):
        item.record["location"] = {"location_type": "virtual", "url": place}
        return
    match = ADDRESS.match(place)
    if not match:
        item.problems.append(_problem(item.source, "location", "LOCATION", f"The place {place!r} has no street and "
                                      "postcode, so it is left out.",
                                      "Write the place as: name, street and number, postcode town.",
                                      "ical-location-without-address"))
        return
    location = {"location_type": "physical"}
    if match["name"]:
        location["name"] = {language: match["name"].strip()}
    location["address"] = {"address_1": match["street"].strip(), "postal_code": match["postal"],
                           "city": match["city"].strip()}
    geo = _one(vevent, "GEO")
    if geo is not None:
        location["latitude"], location["longitude"] = float(geo.latitude), float(geo.longitude)
    item.record["location"] = location


def _categories(vevent: Component) -> list[str]:
    """CATEGORIES that name a topic of the vocabulary, by id or by label in any language.

    Other words (Google's "other", "PERSONAL") are left out rather than guessed; an event with none gets no
    ``categories`` at all, which the validator reports as a warning for iCal sources.
    """
    props = vevent.get("CATEGORIES", [])
    words = [word for prop in (props if isinstance(props, list) else [props]) for word in getattr(prop, "cats", [])]
    terms = _category_terms()
    return list(dict.fromkeys(terms[key] for key in (str(word).strip().lower() for word in words) if key in terms))


@cache
def _category_terms() -> dict[str, str]:
    """Every id and label of the categories vocabulary, lower-cased, mapped to its term id."""
    terms = {}
    for term in wegweiser_schema.vocabulary("categories")["terms"]:
        terms[term["id"]] = term["id"]
        for label in term.get("label", {}).values():
            terms.setdefault(label.lower(), term["id"])
    return terms


def local_id(uid: str) -> str:
    """A local id for a UID: the UID itself when it fits the id pattern, else a cleaned prefix and a short hash."""
    if LOCAL_ID.match(uid):
        return uid
    digest = hashlib.sha256(uid.encode("utf-8")).hexdigest()[:10]
    cleaned = re.sub(r"[^A-Za-z0-9._:~-]+", "-", uid).lstrip("._:~-")[:117].rstrip("._:~-")
    return f"{cleaned or 'event'}~{digest}"


def _fallback_uid(item: _Vevent) -> str:
    """A stand-in for a missing UID, from what identifies the event: start, end and title."""
    record = item.record
    return "|".join([record["start"], record.get("end", ""), *record.get("title", {}).values()])


def _join(items: list[_Vevent], problems: list[Problem]) -> tuple[list[dict], dict[str, int]]:
    """Series with their changed occurrences, duplicates resolved; returns the records and their lines."""
    masters: dict[str, list[_Vevent]] = {}
    changes: dict[str, list[_Vevent]] = {}
    order: list[str] = []
    for item in items:
        key = item.uid or _fallback_uid(item)
        group = changes if item.recurrence_id is not None else masters
        if key not in masters and key not in changes:
            order.append(key)
        group.setdefault(key, []).append(item)
    events: list[dict] = []
    lines: dict[str, int] = {}
    for key in order:
        overrides = _latest_each(changes.get(key, []), lambda item: item.recurrence_id, problems)
        if key in masters:
            master = _latest_each(masters[key], lambda item: "", problems)[0]
            _emit(master, overrides, key, events, lines, problems)
        else:
            for orphan in overrides:
                # A changed occurrence without its series stands alone, under an id of its own.
                orphan.record.pop("recurrence", None)
                orphan.record["id"] = None
                _emit(orphan, [], f"{key}-{_written(orphan.recurrence_id)}", events, lines, problems)
    return events, lines


def _latest_each(items: list[_Vevent], identity, problems: list[Problem]) -> list[_Vevent]:
    """One copy per identity, the highest SEQUENCE and latest change winning; older copies are reported."""
    chosen: dict = {}
    for item in items:
        known = chosen.get(identity(item))
        if known is None:
            chosen[identity(item)] = item
            continue
        newer, older = (item, known) if item.version >= known.version else (known, item)
        chosen[identity(item)] = newer
        occasion = f" on {_written(older.recurrence_id)}" if older.recurrence_id is not None else ""
        problems.append(warning("", f"An older copy of the event {_title(older)!r}{occasion} with the same UID is "
                                    "left out.", "Remove the duplicate from the calendar.", "ical-duplicate-uid")
                        .at(older.source.begin, None))
    return list(chosen.values())


def _title(item: _Vevent) -> str:
    """The event's title in whatever language it has, for messages."""
    return next(iter(item.record.get("title", {}).values()), "")


def _emit(master: _Vevent, overrides: list[_Vevent], key: str, events: list[dict], lines: dict[str, int],
          problems: list[Problem]) -> None:
    """Append one finished record, with its overrides, lines and problems placed under its pointer."""
    record = master.record
    pointer = f"/events/{len(events)}"
    # X-WEGWEISER-ID repeats when a directory's calendar merges publishers; the UID then tells them apart.
    if record["id"] is None or any(event["id"] == record["id"] for event in events):
        record["id"] = local_id(key)
    record["updated"] = max([record["updated"], *(item.record["updated"] for item in overrides)])
    _locate(pointer, master.source, record, lines)
    problems.extend(problem.under(pointer) for problem in master.problems)
    if overrides:
        record["overrides"] = []
    for index, item in enumerate(overrides):
        override_pointer = f"{pointer}/overrides/{index}"
        override = _override(item, master)
        record["overrides"].append(override)
        _locate(override_pointer, item.source, override, lines)
        problems.extend(problem.under(override_pointer) for problem in item.problems)
    events.append(_ordered(record))


def _override(item: _Vevent, master: _Vevent) -> dict:
    """The override for a changed occurrence: only what differs from the series."""
    changed, series = item.record, master.record
    recurrence_id = _written(like_start(item.recurrence_id, master.start))
    override = {"recurrence_id": recurrence_id}
    status = changed.get("status", "scheduled")
    if status != series.get("status", "scheduled"):
        override["status"] = status
    if changed["start"] != recurrence_id:
        override["start"] = changed["start"]
    series_end = master.start + master.duration if master.duration is not None else None
    end = item.start + item.duration if item.duration is not None else None
    if end is not None and end != default_override_end(item.start, master.start, series_end):
        override["end"] = _end_text(item.start, end)
    for name in ("title", "description", "location"):
        if name in changed and changed[name] != series.get(name):
            override[name] = changed[name]
    return override


def _locate(pointer: str, source: _Source, record: dict, lines: dict[str, int]) -> None:
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
