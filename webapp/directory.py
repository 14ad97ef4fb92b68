"""What every view reads: the store, the filters of the request, and the lists they select.

One data function per list, shared by the HTML page, the JSON and CSV API and the iCal feed, so the
same filter gives the same records in every format.
"""
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app, request

from aggregator.occurrences import Occurrence
from aggregator.query import MAX_PER_PAGE, REGION_TIMEZONE, Filters, Found
from aggregator.store import Store
from webapp.errors import BadRequest

KINDS = {"offers": "offer", "events": "event", "organisations": "organisation"}
# Without a range, event lists start today and reach this far (the store keeps about two years).
DEFAULT_EVENT_SPAN = timedelta(days=365)


def store() -> Store:
    return current_app.extensions["wegweiser_store"]


def today() -> date:
    """Today in the region (the ``TODAY`` setting fixes it, for tests and demonstrations)."""
    return current_app.config.get("TODAY") or datetime.now(ZoneInfo(REGION_TIMEZONE)).date()


def request_filters() -> Filters:
    """The filters of the current request's query string; a wrong value is a 400 naming it."""
    try:
        return Filters.from_args(request.args)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None


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
    if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
        raise BadRequest(f"page must be 1 or more and per_page 1 to {MAX_PER_PAGE} (given page={page}, per_page={per_page})")
    return page, per_page


def found(kind: str, filters: Filters, page: int = 1, per_page: int = 20, facets: bool = True) -> Found:
    """One page of entries of a kind (organisation, offer, event) under the filters, with the
    facet counts unless ``facets`` is false."""
    return store().find(kind, filters, page=page, per_page=per_page, facets=facets)


def all_found(kind: str, filters: Filters) -> list[dict]:
    """Every entry of a kind under the filters, unpaged; events are those with a date in the list's
    range (``event_range``), in the order of their first date there."""
    if kind == "event":
        start, end = event_range(filters, today())
        filters = replace(filters, from_=start, to=end)
    return store().all_found(kind, filters)


def event_range(filters: Filters, today: date) -> tuple[date, date]:
    """The days an event list covers: the filter's range, else from today for a year."""
    start = filters.from_ or (today if not filters.to else filters.to - DEFAULT_EVENT_SPAN)
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
