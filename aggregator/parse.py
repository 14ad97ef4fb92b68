"""Detect a fetched body's format and read it into records: every format becomes the same records."""
import json
from urllib.parse import urljoin

from aggregator.parsed import Parsed
from feeds import convert, ical
from feeds.problems import Problem

FORMATS = ("json", "ical", "rss", "html", "csv")


class ParseError(ValueError):
    """The body cannot be read as a feed at all; the message says why in one line."""


def detect(body: bytes, content_type: str = "", url: str = "") -> str:
    """The format of a body, by its first bytes, then its content type, then its name."""
    head = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:512].lower()
    if head.startswith(b"{"):
        return "json"
    if head.startswith(b"begin:vcalendar"):
        return "ical"
    if head.startswith((b"<!doctype html", b"<html")):
        return "html"
    # Feed roots before a stray "<html" in the first bytes (a CDATA description may carry one).
    if head.startswith(b"<") and (b"<rss" in head or b"<feed" in head or b"<rdf" in head):
        return "rss"
    if b"<html" in head:
        return "html"
    if head.startswith(b"<?xml"):
        return "rss"
    kind = content_type.split(";")[0].strip().lower()
    by_type = {"application/json": "json", "application/feed+json": "json", "text/calendar": "ical",
               "application/rss+xml": "rss", "application/atom+xml": "rss", "text/html": "html", "text/csv": "csv"}
    if kind in by_type:
        return by_type[kind]
    name = url.lower().split("?")[0]
    for ending, fmt in ((".json", "json"), (".ics", "ical"), (".csv", "csv"), (".rss", "rss"), (".xml", "rss"), (".html", "html")):
        if name.endswith(ending):
            return fmt
    raise ParseError(f"the body is neither a JSON feed, iCalendar, RSS/Atom, an HTML page nor a CSV sheet "
                     f"(content type {content_type or 'not given'}); if it is one of them, set format = … in the registry")


def parse(body: bytes, fmt: str, *, url: str, publisher: dict, language: str = "de",
          timezone: str = "Europe/Berlin") -> Parsed:
    """Read a body of a known format; raises ParseError when nothing can be read from it."""
    try:
        if fmt == "json":
            return parse_json_feed(body, url)
        if fmt == "ical":
            return _parse_ical(body, language, timezone)
        if fmt == "csv":
            return _parse_csv(body, url, publisher, language, timezone)
        if fmt == "rss":
            from aggregator.parse_rss import parse_rss
            return parse_rss(body, url=url, language=language, timezone=timezone)
        if fmt == "html":
            from aggregator.parse_html import parse_html
            return parse_html(body, url=url, language=language, timezone=timezone)
    except ParseError:
        raise
    except ValueError as exc:
        raise ParseError(str(exc)) from exc
    except (OverflowError, RecursionError) as exc:
        # Dates beyond what Python can hold, nesting deeper than the interpreter allows.
        raise ParseError(f"the feed holds a value too large or nested too deeply to read ({type(exc).__name__})") from exc
    raise ParseError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")


def parse_json_feed(body: bytes, url: str) -> Parsed:
    """A page of the shared JSON feed; records keep their shape for the validator to judge."""
    try:
        document = json.loads(body.decode("utf-8-sig"), parse_constant=_refuse_constant)
    except UnicodeDecodeError as exc:
        raise ParseError(f"the feed is not UTF-8 text (byte {exc.start})") from exc
    except json.JSONDecodeError as exc:
        raise ParseError(f"the feed is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    if not isinstance(document, dict):
        raise ParseError(f"the feed is a JSON {type(document).__name__}, not an object with publisher and records")
    if "schema_version" not in document and "publisher" not in document:
        raise ParseError("this JSON is not a Wegweiser feed: it has neither schema_version nor publisher")
    lists = {name: document.get(name) if isinstance(document.get(name), list) else [] for name in ("organisations", "offers", "events")}
    link = document.get("next")
    return Parsed(
        **lists,
        publisher=document.get("publisher") if isinstance(document.get("publisher"), dict) else None,
        default_language=document.get("default_language") if isinstance(document.get("default_language"), str) else None,
        timezone=document.get("timezone") if isinstance(document.get("timezone"), str) else None,
        next_url=urljoin(url, link) if isinstance(link, str) else None,
    )


def _refuse_constant(name: str):
    """NaN and Infinity are not JSON: stored, they would break every API client downstream."""
    raise ParseError(f"the feed contains {name}, which is not a JSON number; write a number or leave the field out")


def _parse_ical(body: bytes, language: str, timezone: str) -> Parsed:
    calendar = ical.read_calendar(body, timezone=timezone, language=language)
    problems = [_at_line(p, calendar.lines) for p in calendar.problems]
    return Parsed(events=calendar.events, problems=problems, timezone=calendar.timezone, default_language=language)


def _at_line(problem: Problem, lines: dict[str, int]) -> Problem:
    return problem if problem.line else problem.at(lines.get(problem.pointer, 1), 1)


def _parse_csv(body: bytes, url: str, publisher: dict, language: str, timezone: str) -> Parsed:
    result = convert.convert_csv(body, publisher=publisher, default_language=language, timezone=timezone, filename=url)
    if not result.encoding:
        raise ParseError(result.problems[0].message if result.problems else "the sheet cannot be read")
    document = result.feed.document
    # Problems inside records come again from the validator; keep those of the sheet and its rows.
    problems = [p for p in result.problems if not p.pointer]
    return Parsed(offers=document.get("offers", []), events=document.get("events", []), problems=problems,
                  default_language=language, timezone=timezone)
