"""RSS and Atom feeds as records: items that carry event dates become events, the others the latest posts.

Event dates come from the RSS event module (``ev:startdate``, ``ev:enddate``, ``ev:location``), from xCal
elements (``xcal:dtstart``, ``xcal:dtend``, ``xcal:location``), or from the feeds of two WordPress plugins
that write an event's start into ``pubDate``: The Events Calendar (its guids read
``?post_type=tribe_events&p=…``) and Events Manager (its own feed template: ``<docs>`` pointing at the RSS
2.0 spec, no ``<generator>``, each guid equal to the item's link).

The bytes pass ``check_xml`` before feedparser sees them, and feedparser gets them as a stream: handed a
string it fetches URLs and opens files itself, and handed bytes that read like a path it opens that file.
"""
import io
import re
import time
from dataclasses import dataclass
from datetime import date, datetime
from datetime import timezone as utc

import feedparser

from aggregator.parsed import Parsed
from aggregator.record_values import (event_end, keep_valid, language_tag, moment, place_location, plain_text,
                                      record_id, set_if_given, unplaced, web_address)
from aggregator.xmlsafe import check_xml, count_start_tags
from feeds.checks import FeedContext
from feeds.feed import UNKNOWN_UPDATED, utc_timestamp
from feeds.ical_vevent import written
from feeds.problems import Problem, warning
from feeds.vocabulary import terms_named

XCAL_NAMESPACE = "urn:ietf:params:xml:ns:xcal"
TRIBE_EVENT_GUID = re.compile(r"[?&]post_type=tribe_events(?:&|$)")
RSS_SPEC_DOCS = frozenset({"http://blogs.law.harvard.edu/tech/rss", "https://blogs.law.harvard.edu/tech/rss"})
# feedparser needs about a millisecond per item: 20 MB of tiny items would hold a harvester for many minutes.
MAX_ITEMS = 5000


def parse_rss(data: bytes, *, url: str, language: str = "de", timezone: str = "Europe/Berlin") -> Parsed:
    """Read an RSS or Atom feed fetched from ``url``; times land as wall-clock times in ``timezone``.

    Raises UnsafeXML for entity declarations and ValueError, with a one-line reason, when the bytes hold
    no feed at all.
    """
    check_xml(data)
    items = count_start_tags(data, ("item", "entry"))
    if items > MAX_ITEMS:
        raise ValueError(f"the feed has {items:,} items, more than the {MAX_ITEMS:,} read from one feed: publish "
                         "only upcoming events and recent posts, or split the feed into pages")
    document = feedparser.parse(io.BytesIO(data))
    if document.bozo and not document.entries:
        raise ValueError(f"not a readable RSS or Atom feed: {_fault(document.bozo_exception)}")
    if not document.get("version") and not document.entries:
        raise ValueError("not an RSS or Atom feed: the XML has neither a <rss>, <feed> nor <rdf:RDF> root")
    texts_language = language_tag(document.feed.get("language")) or language
    parsed = Parsed(default_language=texts_language, timezone=timezone, next_url=_next_page(document, url))
    if document.bozo:
        parsed.problems.append(warning("", f"the feed has a fault ({_fault(document.bozo_exception)}), so its "
                                           "items were read leniently and may be incomplete",
                                       "check the feed at https://validator.w3.org/feed/", "rss-not-well-formed"))
    reader = _ItemReader(document, url, texts_language, timezone)
    for number, entry in enumerate(document.entries, start=1):
        try:
            reader.read(entry, parsed)
        except (ValueError, OverflowError) as exc:  # one unreadable item, e.g. a date in year 0, not the feed
            parsed.problems.append(warning("", f"item {number} ({entry.get('title', 'without title')!r}) cannot be read "
                                               f"and is left out: {exc}", "check the item's dates in the feed",
                                           "rss-unreadable-item"))
    return parsed


def _fault(exc: Exception | None) -> str:
    """The parser's complaint on one line, with its line number when it knows one."""
    line = getattr(exc, "getLineNumber", lambda: None)()
    message = getattr(exc, "getMessage", lambda: str(exc))()
    first = (str(message).strip().splitlines() or ["unknown fault"])[0]
    return f"line {line}: {first}" if line else first


def _next_page(document, url: str) -> str | None:
    """The next page of a paged feed (RFC 5005 ``<link rel="next">``), absolute."""
    for link in document.feed.get("links", []):
        if link.get("rel") == "next" and link.get("href"):
            return web_address(link["href"], url)
    return None


def _xcal_prefixes(document) -> list[str]:
    """The prefixes the document binds to xCal: feedparser names unknown elements by the document's prefix."""
    return [prefix.lower() for prefix, uri in document.get("namespaces", {}).items() if uri == XCAL_NAMESPACE]


def _made_by_events_manager(document) -> bool:
    """True for the feed template of Events Manager, whose pubDates are the events' starts."""
    feed, entries = document.feed, document.entries
    return bool(feed.get("docs") in RSS_SPEC_DOCS and not feed.get("generator") and entries
                and all(entry.get("id") and entry.get("id") == entry.get("link") for entry in entries))


class _ItemReader:
    """Turns a feed's items into events and posts, each id used once."""

    def __init__(self, document, url: str, language: str, zone: str):
        self.url, self.language, self.zone = url, language, zone
        self.xcal_prefixes = _xcal_prefixes(document)
        self.events_manager = _made_by_events_manager(document)
        self.context = FeedContext(today=date.today(), default_language=language, timezone=zone)
        self.seen: set[str] = set()

    def pubdate_is_start(self, entry) -> bool:
        """True where a WordPress event plugin wrote the event's start into the item's pubDate."""
        return self.events_manager or bool(TRIBE_EVENT_GUID.search(entry.get("id", "")))

    def read(self, entry, parsed: Parsed) -> None:
        """Add one item as an event when it carries a readable start, else as a post."""
        title = plain_text(entry.get("title", ""))
        own_id = record_id(entry.get("id") or entry.get("link") or f"{title}|{entry.get('published', '')}")
        if own_id in self.seen:
            parsed.problems.append(warning("", f"the item {title!r} repeats the guid of an earlier item, so it is "
                                               "left out", "give every item its own guid", "rss-duplicate-guid"))
            return
        self.seen.add(own_id)
        dates = self._event_dates(entry)
        start = moment(dates.start, self.zone) if dates else None
        if dates and start is None:
            parsed.problems.append(warning("", f"the item {title!r} gives its start as {dates.start!r}, which cannot "
                                               "be read, so it is kept as a news post",
                                           "write dates like 2026-12-05T18:00:00+01:00", "rss-unreadable-date"))
        if start is None:
            parsed.posts.append(self._post(entry, own_id, title))
            return
        problems: list[Problem] = []
        event = keep_valid("event", self._event(entry, own_id, title, start, dates, problems), self.context, problems)
        parsed.problems.extend(problem.under(f"/events/{len(parsed.events)}") for problem in problems)
        if event:
            parsed.events.append(event)

    def _event_dates(self, entry) -> "_Dates | None":
        """What an item says about its event, or None for an item that is no event."""
        if entry.get("ev_startdate"):
            return _Dates(entry["ev_startdate"], entry.get("ev_enddate", ""), entry.get("ev_location", ""))
        for prefix in self.xcal_prefixes:
            if entry.get(f"{prefix}_dtstart"):
                return _Dates(entry[f"{prefix}_dtstart"], entry.get(f"{prefix}_dtend", ""),
                              entry.get(f"{prefix}_location", ""), exclusive_end=True)
        if entry.get("published_parsed") and self.pubdate_is_start(entry):
            return _Dates(_utc(entry.published_parsed).isoformat())
        return None

    def _post(self, entry, own_id: str, title: str) -> dict:
        """A news item: title, link, publication time and a plain-text summary."""
        published = entry.get("published_parsed") or dict.get(entry, "updated_parsed")
        return {"id": own_id, "title": title, "url": web_address(entry.get("link", ""), self.url),
                "published": _timestamp(published) if published else None,
                "summary": plain_text(entry.get("summary", ""))}

    def _event(self, entry, own_id: str, title: str, start: date | datetime, dates: "_Dates",
               problems: list[Problem]) -> dict:
        """The event record of an item with a readable start."""
        language = language_tag(entry.get("title_detail", {}).get("language")) or self.language
        record = {"id": own_id, "updated": self._updated(entry), "title": {language: title}}
        set_if_given(record, "description", {language: plain_text(entry.get("summary", "") or _content(entry))})
        record["start"] = written(start)
        set_if_given(record, "end", event_end(start, moment(dates.end, self.zone), dates.exclusive_end, problems))
        if dates.place.strip():
            location = place_location(dates.place, language)
            set_if_given(record, "location", location)
            problems.extend([] if location else [unplaced(dates.place)])
        set_if_given(record, "categories", terms_named(_tag_words(entry), "categories"))
        set_if_given(record, "url", web_address(entry.get("link", ""), self.url))
        return record

    def _updated(self, entry) -> str:
        """When the item last changed, in UTC; a pubDate that holds the event's start does not count."""
        # dict.get: feedparser's own get answers updated_parsed with published_parsed when the item has none.
        changed = dict.get(entry, "updated_parsed")
        if changed is None and not self.pubdate_is_start(entry):
            changed = entry.get("published_parsed")
        return _timestamp(changed) if changed else UNKNOWN_UPDATED


@dataclass(frozen=True)
class _Dates:
    """An item's event as written: start, end and place, and whether an all-day end is exclusive (as in xCal)."""

    start: str
    end: str = ""
    place: str = ""
    exclusive_end: bool = False


def _content(entry) -> str:
    """The item's full content (content:encoded, Atom content) where it has no summary."""
    return next((part.get("value", "") for part in entry.get("content", []) if part.get("value")), "")


def _tag_words(entry) -> list[str]:
    """Every word an item is tagged with: RSS categories, Atom terms and labels, the event module's type."""
    words = [word for tag in entry.get("tags", []) for word in (tag.get("term"), tag.get("label")) if word]
    return words + [entry["ev_type"]] if entry.get("ev_type") else words


def _utc(parsed_time: time.struct_time) -> datetime:
    """feedparser's parsed times, which are UTC, as an aware datetime."""
    return datetime(*parsed_time[:6], tzinfo=utc.utc)


def _timestamp(parsed_time: time.struct_time) -> str:
    """A feedparser time as the records' RFC 3339 timestamp in UTC."""
    return utc_timestamp(_utc(parsed_time))
