"""Values found in a harvested feed or page as fields of the shared format's records.

Every reader of a foreign format (RSS and Atom, schema.org on web pages) needs the same steps: ids from
guids and links, plain text from markup, ISO 8601 times as wall-clock times in the feed's zone, an event's
inclusive end, places and web addresses; and, last, the validator's word on each record, which leaves out
what it rejects instead of losing the whole record.
"""
import html
import re
from datetime import date, datetime, timedelta
from urllib.parse import urljoin, urlsplit
from zoneinfo import ZoneInfo

import nh3

import wegweiser_schema
from feeds.checks import FeedContext
from feeds.ical_read import local_id
from feeds.ical_vevent import ADDRESS, LANGUAGE_TAG, written
from feeds.problems import Problem, in_sentence, warning
from feeds.validate import check_record, is_missing_category

WEB_ADDRESS = re.compile(r"^https?://[^\s]+$")
LINE_ENDS = re.compile(r"<br\s*/?>|</(?:li|tr|dt|dd)\s*>", re.IGNORECASE)
PARAGRAPH_ENDS = re.compile(r"</(?:p|div|h[1-6]|blockquote|ul|ol|table)\s*>", re.IGNORECASE)
DAY = re.compile(r"\d{4}-?\d{2}-?\d{2}")
ENTITY_REFERENCE = re.compile(r"&(?:#[0-9]+|#x[0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);")


def set_if_given(record: dict, name: str, value) -> None:
    """Set a field only when there is something in it: no empty texts, lists or addresses."""
    if value and (not isinstance(value, dict) or any(value.values())):
        record[name] = value


def record_id(key: str) -> str:
    """A local id from a guid, link or @id; web addresses lose their scheme, which says nothing."""
    return local_id(re.sub(r"^https?://", "", key.strip(), flags=re.IGNORECASE) or key)


def language_tag(tag: str | None) -> str | None:
    """A BCP 47 tag as published (de, de-DE), or None when there is none or it is malformed."""
    tag = (tag or "").strip()
    return tag if LANGUAGE_TAG.match(tag) else None


def plain_text(markup: str) -> str:
    """Text without markup: tags stripped by nh3 (scripts and styles with their content), entities unescaped."""
    text = markup or ""
    for _ in range(2):  # feeds sometimes escape their HTML twice; a second pass removes the inner markup
        text = html.unescape(nh3.clean(PARAGRAPH_ENDS.sub("\n\n", LINE_ENDS.sub("\n", text)), tags=set()))
        if not (nh3.is_html(text) or ENTITY_REFERENCE.search(text)):
            break
    lines = (" ".join(line.split()) for line in text.splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def moment(text: str, zone: str) -> date | datetime | None:
    """An ISO 8601 date or time as the records hold it: a date, or the wall-clock time in ``zone``.

    Times with an offset are converted into the zone; times without one are taken as already in it.
    None when the text is no ISO 8601 date or time.
    """
    text = str(text).strip()
    try:
        if DAY.fullmatch(text):
            return date.fromisoformat(text)
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo is None else value.astimezone(ZoneInfo(zone)).replace(tzinfo=None)


def event_end(start: date | datetime, end: date | datetime | None, exclusive: bool,
              problems: list[Problem]) -> str | None:
    """The record's end: the last day (inclusive) of an all-day event, the wall-clock end of a timed one.

    A one-day event needs no end; an end before the start is reported and left out, and so is a day
    given as the end of a timed event, which says nothing about the time.
    """
    if end is None or (isinstance(start, datetime) and not isinstance(end, datetime)):
        return None
    if not isinstance(start, datetime):
        end = (end.date() if isinstance(end, datetime) else end) - timedelta(days=1 if exclusive else 0)
    if end < start:
        problems.append(warning("/end", f"the event ends ({written(end)}) before it starts ({written(start)}), so "
                                        "the end is left out", "check the start and end dates", "end-before-start"))
        return None
    return None if end == start and not isinstance(start, datetime) else written(end)


def place_location(place: str, language: str) -> dict | None:
    """A web address as an online location, "name, street, postcode town" as a physical one, else None."""
    place = " ".join(place.split())
    if WEB_ADDRESS.match(place):
        return {"location_type": "virtual", "url": place}
    match = ADDRESS.match(place)
    if not match:
        return None
    location = {"location_type": "physical"}
    if match["name"]:
        location["name"] = {language: match["name"].strip()}
    location["address"] = {"address_1": match["street"].strip(), "postal_code": match["postal"],
                           "city": match["city"].strip()}
    return location


def unplaced(place: str) -> Problem:
    """The warning for a place that cannot become a location."""
    return warning("/location", f"the place {place[:120]!r} lacks a street, postcode or town, so it is left out",
                   "give the address as: name, street and number, postcode town", "location-without-address")


def web_address(link: str, base: str) -> str | None:
    """An http(s) address, relative ones joined with ``base``; None for anything else (javascript:, mailto:)."""
    link = (link or "").strip()
    try:
        joined = urljoin(base, link) if link else ""
        host = urlsplit(joined).hostname
    except ValueError:  # a broken IPv6 host such as http://[::1
        return None
    return joined if WEB_ADDRESS.match(joined) and host and len(joined) <= 2000 else None


def keep_valid(kind: str, record: dict, context: FeedContext, problems: list[Problem]) -> dict | None:
    """The record with each optional field the validator rejects left out (with a warning); None, with a
    warning, when a required field is wrong. A missing category stays for the validator to report."""
    required = set(wegweiser_schema.schema(kind)["required"])
    for problem in check_record(kind, record, context):
        if not problem.is_error or is_missing_category(problem):
            continue
        name = problem.pointer.split("/")[1] if problem.pointer.count("/") else ""
        if not name or name in required:
            label = next(iter(record.get("title", record.get("name", {})).values()), record.get("id", ""))
            problems.append(warning(problem.pointer, f"{label!r} is left out: {in_sentence(problem.message)}",
                                    in_sentence(problem.hint), problem.code))
            return None
        if name in record:
            record.pop(name)
            problems.append(warning(problem.pointer, f"`{name}` is left out: {in_sentence(problem.message)}",
                                    in_sentence(problem.hint), problem.code))
    return record
