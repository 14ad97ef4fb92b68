"""One VEVENT as event record fields: times in the event's zone, all-day spans, repeat rules, status, place,
categories and texts.

What a single VEVENT says and nothing more: joining a series with its changed occurrences, and choosing
between copies, happens once all of a file's events are read (``ical_read``).
"""
import re
import warnings
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr
from icalendar import Component, vBroken

from feeds.ical_lines import Source
from feeds.ical_write import UTC_ZONES, like_start, normalised_rrule
from feeds.feed import UNKNOWN_UPDATED, utc_timestamp
from feeds.problems import Problem, error, warning
from feeds.vocabulary import terms_named


LOCAL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:~-]{0,127}$")
LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$")
URL = re.compile(r"^https?://\S+$")
# "Name, Street 1, 12345 Town[, Deutschland]"; German calendars also write "Name @ Street 1 12345 Town".
ADDRESS = re.compile(r"^(?:(?P<name>.+?)(?:,|\s@)\s*)?(?P<street>[^,@]+?),?\s+(?P<postal>[0-9]{5})\s+"
                     r"(?P<city>[^,]+?)(?:,\s*(?:Deutschland|Germany|DE))?$")
# A series given only by RDATEs: the format needs a rule, and COUNT=1 adds nothing beyond DTSTART.
RDATE_ONLY_RULE = "FREQ=DAILY;COUNT=1"


@dataclass
class Vevent:
    """One VEVENT read into record fields, before series and their changed occurrences are joined."""

    uid: str | None
    record: dict
    source: Source
    version: tuple
    recurrence_id: date | datetime | None = None
    start: date | datetime | None = None
    duration: timedelta | None = None
    problems: list[Problem] = field(default_factory=list)


def read_vevent(vevent: Component, source: Source, zone: str, language: str,
                problems: list[Problem]) -> Vevent | None:
    """One VEVENT as record fields; None (with an error problem) when it cannot become an event.

    An event left out has no place among the records, so its problem names it by title and UID instead.
    """
    name = event_name(str(_one(vevent, "SUMMARY", "")).strip(), str(_one(vevent, "UID", "")).strip())
    start = _one(vevent, "DTSTART")
    if start is None or not isinstance(getattr(start, "dt", None), date):
        problems.append(error("", f"{name} has no readable start date (DTSTART), so it is left out",
                              "give every event a start date and time", "ical-no-start")
                        .at(source.line("DTSTART"), None))
        return None
    try:
        return _vevent_fields(vevent, source, zone, language)
    except Exception as exc:
        problems.append(error("", f"{name} cannot be read ({exc}), so it is left out",
                              "open the event in the calendar program, check its entries and save it again",
                              "ical-unreadable-event").at(source.begin, None))
        return None


def event_name(title: str, uid: str | None) -> str:
    """The event as messages name it, by title and UID, for finding it in the calendar program."""
    if title and uid:
        return f"the event {title!r} (UID {uid!r})"
    if title:
        return f"the event {title!r} (without UID)"
    return f"an event without title (UID {uid!r})" if uid else "an event without title or UID"


def _vevent_fields(vevent: Component, source: Source, zone: str, language: str) -> Vevent:
    """The record fields of a VEVENT that has a readable start."""
    uid = str(_one(vevent, "UID", "")).strip() or None
    raw_start = _one(vevent, "DTSTART").dt
    event_zone = _event_zone(raw_start, zone)
    item = Vevent(uid, {}, source, _version(vevent), start=_in_zone(raw_start, event_zone))
    record = item.record
    own_id = str(_one(vevent, "X-WEGWEISER-ID", "")).strip()
    record["id"] = own_id if LOCAL_ID.match(own_id) else None
    record["updated"] = _updated(vevent)
    _add_text(record, "title", _one(vevent, "SUMMARY"), language)
    _add_text(record, "description", _one(vevent, "DESCRIPTION"), language)
    _add_times(item, vevent, zone, event_zone)
    _add_status(record, vevent)
    _add_location(item, vevent, language)
    url = str(_one(vevent, "URL", "")).strip()
    if URL.match(url):
        record["url"] = url
    categories = _categories(vevent)
    if categories:
        record["categories"] = categories
    _add_recurrence_id(item, vevent, event_zone)
    return item


def _add_times(item: Vevent, vevent: Component, zone: str, event_zone: str) -> None:
    """Start, end, the event's own zone where it differs from the calendar's, and the repeat rules."""
    dtstart = _one(vevent, "DTSTART")
    if isinstance(dtstart.dt, datetime) and dtstart.dt.tzinfo is None and "TZID" in dtstart.params:
        item.problems.append(_problem(item.source, "timezone", "DTSTART", f"the time zone {dtstart.params['TZID']!r} "
                                      f"is unknown, so the time is read in {zone}",
                                      "use an IANA zone name such as Europe/Berlin", "ical-unknown-timezone"))
    item.record["start"] = written(item.start)
    end = _end(vevent, item.start, event_zone)
    if end is not None:
        item.duration = end - item.start
        _add_end(item, end)
    elif "DTEND" in vevent or "DURATION" in vevent:
        given = "DTEND" if "DTEND" in vevent else "DURATION"
        item.problems.append(_problem(item.source, "end", given, f"the end ({given}) cannot be read, so the event "
                                      "has a start only", "check the end date and time in the calendar program",
                                      "ical-unreadable-end"))
    if event_zone != zone:
        item.record["timezone"] = event_zone
    if any(item.source.rrules) or "RDATE" in vevent:
        _add_recurrence(item, vevent, event_zone)


def _add_recurrence_id(item: Vevent, vevent: Component, zone: str) -> None:
    """The occurrence a changed copy replaces; a change meant for all later dates is kept for this one only."""
    if "RECURRENCE-ID" not in vevent:
        return
    recurrence_id = _one(vevent, "RECURRENCE-ID")
    item.recurrence_id = _in_zone(recurrence_id.dt, zone)
    if str(recurrence_id.params.get("RANGE", "")).upper() == "THISANDFUTURE":
        item.problems.append(_problem(item.source, "recurrence_id", "RECURRENCE-ID", "this change applies to all "
                                      "later dates too (RANGE=THISANDFUTURE), but is kept for this one date only",
                                      "change the series itself instead", "ical-range-ignored"))


def _one(vevent: Component, name: str, default=None):
    """A property meant to appear once; of a repeated one (two DTSTARTs) the first counts."""
    value = vevent.get(name, default)
    value = value[0] if isinstance(value, list) and value else value
    # A value the parser could not read counts as missing (a broken DTSTART is reported as no start).
    return default if isinstance(value, vBroken) else value


def _every(vevent: Component, name: str) -> list:
    """Every occurrence of a property that may repeat."""
    props = vevent.get(name, [])
    return props if isinstance(props, list) else [props]


def _problem(source: Source, pointer_field: str, prop: str, message: str, hint: str, code: str) -> Problem:
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


def written(value: date | datetime) -> str:
    """A record's date or wall-clock time: YYYY-MM-DD, YYYY-MM-DDTHH:MM, or with seconds when they matter."""
    if not isinstance(value, datetime):
        return value.isoformat()
    return value.strftime("%Y-%m-%dT%H:%M:%S" if value.second else "%Y-%m-%dT%H:%M")


def _updated(vevent: Component) -> str:
    """LAST-MODIFIED, else DTSTAMP, as UTC; times without a zone are taken as UTC, as RFC 5545 requires."""
    for prop in ("LAST-MODIFIED", "DTSTAMP"):
        value = getattr(_one(vevent, prop), "dt", None)
        if isinstance(value, datetime):
            return utc_timestamp(value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value)
    return UNKNOWN_UPDATED


def _add_text(record: dict, name: str, prop, language: str) -> None:
    """A text field in the property's LANGUAGE (or the given one), left out when empty."""
    wording = str(prop or "").strip()
    if wording:
        tag = str(prop.params.get("LANGUAGE", "")) if hasattr(prop, "params") else ""
        record[name] = {tag if LANGUAGE_TAG.match(tag) else language: wording}


def _end(vevent: Component, start: date | datetime, zone: str) -> date | datetime | None:
    """The exclusive end from DTEND or DURATION in the type of the (wall-clock) start; None when neither says."""
    value = getattr(_one(vevent, "DTEND"), "dt", None) if "DTEND" in vevent else None
    if isinstance(value, date):
        if not isinstance(start, datetime) and isinstance(value, datetime):
            # An all-day start with a time as end: the day it falls on counts, unless it is that day's midnight.
            return value.date() + timedelta(days=0 if value.time() == datetime.min.time() else 1)
        return like_start(_in_zone(value, zone), start)
    duration = getattr(_one(vevent, "DURATION"), "dt", None) if "DURATION" in vevent else None
    # An unreadable DTEND or DURATION counts as none given: the event keeps its start.
    return start + duration if isinstance(duration, timedelta) else None


def _add_end(item: Vevent, end: date | datetime) -> None:
    """The record's end: the last day (inclusive) for all-day events, else the wall-clock end."""
    start, record = item.start, item.record
    if end < start:
        item.problems.append(_problem(item.source, "end", "DTEND", f"the event ends ({written(end)}) before it "
                                      f"starts ({written(start)}), so the end is left out",
                                      "check the start and end dates", "ical-end-before-start"))
        item.duration = None
        return
    if isinstance(start, datetime) or end - start > timedelta(days=1):
        record["end"] = end_text(start, end)


def end_text(start: date | datetime, end: date | datetime) -> str:
    """The end as records write it: the wall-clock end, or for all-day events the last day (inclusive)."""
    return written(end if isinstance(start, datetime) else max(start, end - timedelta(days=1)))


def _add_recurrence(item: Vevent, vevent: Component, zone: str) -> None:
    """RRULE (as written, UNTIL made unambiguous), RDATE and EXDATE; nothing but a warning when the rule is broken."""
    rule = _checked_rule(item, zone)
    if rule is None:
        return
    recurrence = {"rrule": rule}
    for name in ("RDATE", "EXDATE"):
        values = [written(like_start(_in_zone(value, zone), item.start)) for value in _date_list(vevent, name)]
        if values:
            recurrence[name.lower()] = list(dict.fromkeys(values))
    item.record["recurrence"] = recurrence


def _checked_rule(item: Vevent, zone: str) -> str | None:
    """The first RRULE, UNTIL made unambiguous, with warnings where calendars differ; None when unreadable."""
    start, source = item.start, item.source
    all_day = not isinstance(start, datetime)
    rules = list(dict.fromkeys(rule for rule in source.rrules if rule))
    if len(rules) > 1:
        item.problems.append(_problem(source, "recurrence/rrule", "RRULE", f"the event has {len(rules)} different "
                                      "repeat rules (RRULE); only the first is used",
                                      "split the event into one event per rule", "ical-several-rrules"))
    rule = normalised_rrule(rules[0], all_day, ZoneInfo(zone)) if rules else RDATE_ONLY_RULE
    try:
        # COUNT with UNTIL is reported below, in words for publishers.
        with warnings.catch_warnings(action="ignore"):
            rrulestr(rule, dtstart=datetime.combine(start, datetime.min.time()) if all_day
                     else start.replace(tzinfo=ZoneInfo(zone)))
    except (ValueError, TypeError) as exc:
        # The whole recurrence is left out, its extra and excluded dates too, so the pointer names all of it.
        item.problems.append(_problem(source, "recurrence", "RRULE", f"the repeat rule {rule!r} cannot be read "
                                      f"({exc}), so only the first date is kept",
                                      "check the rule in the calendar program, or enter the dates one by one",
                                      "ical-broken-rrule"))
        return None
    if re.search(r"(^|;)COUNT=", rule, re.IGNORECASE) and re.search(r"(^|;)UNTIL=", rule, re.IGNORECASE):
        item.problems.append(_problem(source, "recurrence/rrule", "RRULE", f"the repeat rule {rule!r} gives both a "
                                      "number of dates (COUNT) and a last date (UNTIL); calendar programs may show "
                                      "different dates", "keep only one of them", "ical-count-and-until"))
    return rule


def _date_list(vevent: Component, name: str) -> list[date | datetime]:
    """Every value of a possibly repeated, possibly comma-separated date list; a PERIOD counts by its start."""
    values = []
    for prop in _every(vevent, name):
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


def _add_location(item: Vevent, vevent: Component, language: str) -> None:
    """An online address as a virtual location, "name, street, postcode town" as a physical one."""
    place = str(_one(vevent, "LOCATION", "")).strip()
    if not place:
        return
    if URL.match(place):
        item.record["location"] = {"location_type": "virtual", "url": place}
        return
    match = ADDRESS.match(place)
    if not match:
        item.problems.append(_problem(item.source, "location", "LOCATION", f"the place {place!r} has no street and "
                                      "postcode, so it is left out",
                                      "write the place as name, street and number, postcode town, e.g. "
                                      "Bürgerhaus, Hauptstraße 5, 04177 Lindenau", "ical-location-without-address"))
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
    words = [word for prop in _every(vevent, "CATEGORIES") for word in getattr(prop, "cats", [])]
    return terms_named(words, "categories")
