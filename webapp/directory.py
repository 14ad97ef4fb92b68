"""What every view reads: the store, the filters of the request, and the lists they select.

One data function per list, shared by the HTML page, the JSON and CSV API and the iCal feed, so the
same filter gives the same records in every format.
"""
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app, request

from aggregator.occurrences import Occurrence
from aggregator.query import REGION_TIMEZONE, Filters, Found, page_bounds
from aggregator.store import Store
from webapp.errors import BadRequest

# Without a range, event lists start today and reach this far (the store keeps about two years).
DEFAULT_EVENT_SPAN = timedelta(days=365)


def store() -> Store:
    return current_app.extensions["wegweiser_store"]


def today() -> date:
    """Today in the region (the ``TODAY`` setting fixes it, for tests and demonstrations)."""
    return current_app.config.get("TODAY") or datetime.now(ZoneInfo(REGION_TIMEZONE)).date()


def request_filters(calendar: bool = False) -> Filters:
    """The filters of the current request's query string; a wrong value is a 400 naming it. Lists
    by date (``calendar``) take no ``changed_since``: a calendar app would drop every other event."""
    try:
        filters = Filters.from_args(request.args)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    if calendar and filters.changed_since:
        raise BadRequest("changed_since: a calendar lists every upcoming event; to follow changes, "
                         "use /api/v1/events?changed_since=...")
    return filters


def request_page(default_per_page: int = 20) -> tuple[int, int]:
    """``page`` and ``per_page`` of the query string, checked."""
    values = []
    for name, default in (("page", 1), ("per_page", default_per_page)):
        raw = request.args.get(name, str(default))
        try:
            values.append(int(raw))
        except ValueError:
            raise BadRequest(f"{name}: '{raw}' is not a whole number") from None
    page, per_page = values
    try:
        page_bounds(page, per_page)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    return page, per_page


def found(kind: str, filters: Filters, page: int = 1, per_page: int = 20) -> Found:
    """One page of entries of a kind (organisation, offer, event) under the filters, with the facet counts."""
    return store().find(kind, filters, page=page, per_page=per_page)


def all_found(kind: str, filters: Filters) -> list[dict]:
    """Every entry of a kind under the filters, unpaged; events are those with a date in the list's
    range (``event_range``), in the order of their first date there."""
    return store().all_found(kind, with_event_range(filters) if kind == "event" else filters)


def with_event_range(filters: Filters) -> Filters:
    """The filters with the days an event list covers filled in (``event_range``)."""
    start, end = event_range(filters, today())
    return replace(filters, from_=start, to=end)


def event_range(filters: Filters, today: date) -> tuple[date, date]:
    """The days an event list covers: the filter's range, else from today for a year."""
    # Only an end given: from today to it, or the year before it when it has passed.
    start = filters.from_ or (today if not filters.to or filters.to >= today else filters.to - DEFAULT_EVENT_SPAN)
    end = filters.to or start + DEFAULT_EVENT_SPAN
    return start, end


@dataclass(frozen=True)
class Dated:
    """One date of an event in a list: the occurrence and the entry it belongs to."""

    occurrence: Occurrence
    entry: dict


def event_dates(filters: Filters, today: date, limit: int | None = None) -> list[Dated]:
    """The dates of matching events in the filter's range (default: a year from today), in order."""
    start, end = event_range(filters, today)
    return [Dated(o, e) for o, e in store().occurrences_in(filters, start, end, limit=limit)]
