"""``/events.ics``: the events of a filter as a calendar subscription, and the links every page offers
to subscribe to it.

The file holds each event whole (its rule, added and excluded dates, changed and cancelled dates) as the
publisher wrote it, so calendar apps expand it themselves and see later changes by UID and SEQUENCE.
"""
import threading
from dataclasses import replace
import unicodedata
from collections import OrderedDict
from collections.abc import Callable
from typing import NamedTuple
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, request, url_for
from flask_babel import format_date, gettext

from aggregator.query import FACETS, REGION_TIMEZONE, Filters
from feeds.ical_write import calendar_header, vevents_with, vtimezone, zones_with_times
from webapp import directory, http_cache
from webapp.i18n import pick, visitor_language
from webapp.links import safe_href
from webapp.present import facet_label

blueprint = Blueprint("calendar", __name__)

# A hint only (Google polls every 8 to 24 hours whatever it says); conditional GETs keep short intervals cheap.
REFRESH_MINUTES = 180
# Events kept written (about half a kilobyte each): a large district's events in a few languages.
KEPT_EVENTS = 50_000
CALENDAR_END = b"END:VCALENDAR\r\n"


class Subscription(NamedTuple):
    """The two addresses of one calendar: ``webcal`` opens a calendar app, ``https`` is for pasting
    into one (it has the site's own scheme, https in production)."""

    webcal: str
    https: str


@blueprint.get("/events.ics")
def events_ics():
    """The events under the request's filter, in the visitor's language."""
    unchanged = http_cache.not_modified()
    if unchanged is not None:
        return unchanged
    filters = directory.request_filters(calendar=True)
    response = Response(calendar_of(filters, visitor_language()), content_type="text/calendar; charset=utf-8")
    response.headers["Content-Disposition"] = f'inline; filename="{file_name(current_app.config["REGION_NAME"])}"'
    return http_cache.cached(response)


@blueprint.app_template_global()
def subscribe_links(filters: Filters | None = None, **chosen: str) -> Subscription:
    """The addresses of ``/events.ics`` for a filter (by default the current page's, with the facet
    values in ``chosen`` set instead), keeping the visitor's language, since calendar apps do not send
    the browser's."""
    filters = replace(filters or _page_filters(), **{facet: (value,) for facet, value in chosen.items()})
    query = urlencode([*filter_query(filters), ("lang", visitor_language())])
    https = f"{url_for('calendar.events_ics', _external=True)}?{query}"
    return Subscription(webcal="webcal://" + https.split("://", 1)[1], https=https)


def _page_filters() -> Filters:
    """The current page's filters; none when the query is wrong, so the page explaining what is wrong
    still offers the whole calendar."""
    try:
        return Filters.from_args(request.args)
    except ValueError:
        return Filters()


def calendar_of(filters: Filters, language: str) -> bytes:
    """The .ics of every event with a date in the filter's range: VTIMEZONEs first, then each event
    and its changed dates."""
    entries = directory.all_found("event", filters)  # each event with a date in the range, by its first date
    calendar = calendar_header(calendar_name(filters), calendar_description(filters, language),
                               filters.timezone, REFRESH_MINUTES)
    first_day, _ = directory.event_range(filters, directory.today())
    for zone in zones_with_times([entry["data"] | {"timezone": zone_of(entry)} for entry in entries], filters.timezone):
        calendar.add_component(vtimezone(zone, first_day.year))
    head = calendar.to_ical(sorted=False)
    written = _written_events()
    events = [written.get((entry["entry_id"], entry["sequence"], entry["updated"], language, request.host_url),
                          lambda entry=entry: _vevent_bytes(entry, language))
              for entry in entries]
    # The events go in before the calendar's last line, as written out one by one.
    return head.removesuffix(CALENDAR_END) + b"".join(events) + CALENDAR_END


def _vevent_bytes(entry: dict, language: str) -> bytes:
    """One event's VEVENTs (the series and its changed dates) as they appear in the file."""
    return b"".join(component.to_ical() for component in vevents_with(
        published(entry, language), uid=entry["uid"], sequence=entry["sequence"], language=language,
        zone_name=zone_of(entry)))


def zone_of(entry: dict) -> str:
    """The zone an event's times are in (its own, else its feed's; the store keeps which)."""
    return entry["timezone"] or REGION_TIMEZONE


class WrittenEvents:
    """The bytes of the events last written, by entry, change and language: writing an event takes
    icalendar about a millisecond, so a calendar rebuilt after a harvest or for another filter writes
    only what changed. The least recently used go first once ``size`` are kept."""

    def __init__(self, size: int):
        self.size = size
        self._kept: OrderedDict[tuple, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple, write: Callable[[], bytes]) -> bytes:
        """The bytes kept under the key, else those ``write`` gives, kept from now on."""
        with self._lock:
            if key in self._kept:
                self._kept.move_to_end(key)
                return self._kept[key]
        data = write()
        with self._lock:
            self._kept[key] = data
            if len(self._kept) > self.size:
                self._kept.popitem(last=False)
        return data


def _written_events() -> WrittenEvents:
    """The app's store of written events (one per app, as each app has its own directory)."""
    return current_app.extensions.setdefault("wegweiser_written_events", WrittenEvents(KEPT_EVENTS))


def published(entry: dict, language: str) -> dict:
    """The entry's event as this directory publishes it: texts in the visitor's language, its page here
    as URL, the organiser's own link in the description, and the entry's last change as ``updated``."""
    record = _in_language(entry["data"], language)
    overrides = [_in_language(override, language) for override in record.get("overrides", [])]
    link = safe_href(record.get("url"))
    if link:
        note = gettext("The organiser's page for this event: %(url)s", url=link)
        record["description"] = _with_note(record.get("description"), note, language)
        overrides = [override | {"description": _with_note(override["description"], note, language)}
                     if override.get("description") else override for override in overrides]
    return record | {
        "overrides": overrides,
        "updated": entry["updated"],
        "timezone": zone_of(entry),
        "url": url_for("pages.event", entry_id=entry["entry_id"], lang=language, _external=True),
    }


def _in_language(part: dict, language: str) -> dict:
    """A record or override with its title, description and place name each in one language."""
    changed = {field: dict([pick(part[field], language)]) for field in ("title", "description") if part.get(field)}
    location = part.get("location")
    if location and location.get("name"):
        changed["location"] = location | {"name": dict([pick(location["name"], language)])}
    return part | changed


def _with_note(text: dict | None, note: str, language: str) -> dict:
    """A one-language description with a paragraph added below, or the paragraph alone."""
    if not text:
        return {language: note}
    [(tag, wording)] = text.items()
    return {tag: f"{wording.strip()}\n\n{note}"}


def filter_query(filters: Filters) -> list[tuple[str, str]]:
    """The query parameters that give the filter back; ``changed_since`` is left out, because a
    calendar always holds every event of its range."""
    pairs = [("q", filters.q)] if filters.q else []
    pairs += [(facet, value) for facet in FACETS for value in filters.facet_values(facet)]
    pairs += [(name, day.isoformat()) for name, day in (("from", filters.from_), ("to", filters.to)) if day]
    return pairs


def calendar_name(filters: Filters) -> str:
    """The region's name and the filter in words: "Wegweiser Auenland: Beratung, Lindenau"."""
    region = current_app.config["REGION_NAME"]
    words = filter_in_words(filters)
    return f"{region}: {words}" if words else region


def filter_in_words(filters: Filters) -> str:
    """The search, each facet's values (joined by " / ", as either one is enough) and the dates, in words."""
    names = _organisation_names(filters.organisation)
    parts = [f"\u201c{filters.q}\u201d"] if filters.q else []
    parts += [" / ".join(facet_label(facet, value, names) for value in filters.facet_values(facet))
              for facet in FACETS if filters.facet_values(facet)]
    if filters.from_ and filters.to:
        parts.append(f"{format_date(filters.from_, 'medium')} – {format_date(filters.to, 'medium')}")
    elif filters.from_:
        parts.append(gettext("from %(day)s", day=format_date(filters.from_, "medium")))
    elif filters.to:
        parts.append(gettext("until %(day)s", day=format_date(filters.to, "medium")))
    return ", ".join(parts)


def _organisation_names(entry_ids: tuple[str, ...]) -> dict[str, str]:
    """The names of the organisations a filter names, in the visitor's language."""
    names = {}
    for entry_id in entry_ids:
        entry = directory.store().entry(entry_id)
        if entry and entry["data"]:
            names[entry_id] = pick(entry["data"].get("name"))[1] or entry_id
    return names


def calendar_description(filters: Filters, language: str) -> str:
    """What the calendar is and where the same list is on the web."""
    query = urlencode([*filter_query(filters), ("lang", language)])
    page = f"{url_for('pages.events', _external=True)}?{query}"
    return gettext("Events listed in the directory %(region)s. The same list on the web: %(url)s",
                   region=current_app.config["REGION_NAME"], url=page)


def file_name(region: str) -> str:
    """The file name a saved calendar gets: the region's name in plain ASCII letters and hyphens."""
    ascii_name = unicodedata.normalize("NFKD", region).encode("ascii", "ignore").decode().lower()
    slug = "-".join("".join(c if c.isalnum() else " " for c in ascii_name).split())
    return f"{slug or 'events'}.ics"
