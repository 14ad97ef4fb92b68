"""The directory as data: JSON lists and entries under /api/v1 with paging, facet counts and changes,
every list also as CSV at the same path with ``.csv``, and the OpenAPI document describing them.

The lists are read through the same functions as the pages and the calendar (webapp/directory.py),
so one filter gives the same records as HTML, JSON, CSV and iCal. Everything here is public and
read-only: open to every origin, and answered with 304 while the directory is unchanged.
"""
from dataclasses import dataclass
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, jsonify, request, stream_with_context, url_for

from aggregator.occurrences import Occurrence
from aggregator.query import Filters
from webapp import directory, http_cache, openapi, spreadsheet
from webapp.errors import BadRequest, NotFound, WebError

blueprint = Blueprint("api", __name__)

PLURAL = {kind: plural for kind, plural, _ in openapi.KINDS}
LIST_PARAMETERS = (*openapi.FILTERS, *openapi.PAGING, "lang")
CSV_PARAMETERS = (*openapi.FILTERS, "lang")
ITEM_PARAMETERS = {"offer": ("lang",), "organisation": ("lang",), "event": ("from", "to", "lang")}
MAX_AGE = 300  # seconds a client may reuse an answer without asking


class Gone(WebError):
    """The entry existed but its publishers withdrew it."""

    status = 410


@dataclass(frozen=True)
class Alternate:
    """The same list or entry in another format, for ``<link rel="alternate">`` and the Link header."""

    href: str
    type: str
    title: str

    @property
    def link(self) -> str:
        return f'<{self.href}>; rel="alternate"; type="{self.type}"; title="{self.title}"'


def alternates(kind: str, entry_id: str | None = None) -> list[Alternate]:
    """The JSON (and for lists the CSV) of what the current page shows: a list of a kind
    (organisation, offer, event) under the page's filters, or one entry."""
    if entry_id is not None:
        return [Alternate(url_for(f"api.{kind}", entry_id=entry_id, _external=True), "application/json", "JSON")]
    args = [(k, v) for k, v in request.args.items(multi=True) if k in LIST_PARAMETERS and k != "lang"]
    rows = [(k, v) for k, v in args if k not in openapi.PAGING]
    return [Alternate(_absolute(f"api.{PLURAL[kind]}", args), "application/json", "JSON"),
            Alternate(_absolute(f"api.{PLURAL[kind]}_csv", rows), "text/csv", "CSV")]


def link_header(kind: str, entry_id: str | None = None) -> str:
    """A ``Link`` header value naming the alternates, as Datasette sends with its pages."""
    return ", ".join(a.link for a in alternates(kind, entry_id))


@blueprint.app_context_processor
def alternates_in_templates() -> dict:
    return {"alternates": alternates}


@blueprint.after_request
def open_to_every_origin(response: Response) -> Response:
    # Public, read-only data without cookies that matter: any web page may read it.
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response


def list_json(kind: str):
    """One page of a kind's list as JSON, with totals, links to other pages and facet counts."""
    _check_parameters(LIST_PARAMETERS)
    filters = _list_filters(kind)
    page, per_page = directory.request_page()
    if (current := http_cache.not_modified()) is not None:
        return current
    found = directory.found(kind, filters, page, per_page)
    links = _page_links(found.pages, page)
    body = {"total": found.total, "page": page, "per_page": per_page, "pages": found.pages, "links": links,
            "facets": found.facets, "items": [_item(entry, filters) for entry in found.entries]}
    response = jsonify(body)
    response.headers["Link"] = ", ".join(f'<{href}>; rel="{rel}"' for rel, href in links.items() if href)
    return http_cache.cached(response, MAX_AGE)


def list_csv(kind: str):
    """Every entry of a kind's list as CSV (an event once per date in the range), streamed."""
    _check_parameters(CSV_PARAMETERS)
    filters = _list_filters(kind)
    if (current := http_cache.not_modified()) is not None:
        return current
    rows = _event_rows(filters) if kind == "event" else _entry_rows(kind, filters)
    response = Response(stream_with_context(spreadsheet.csv_text(spreadsheet.header(kind), rows)),
                        content_type="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="wegweiser-{PLURAL[kind]}-{directory.today()}.csv"'
    return http_cache.cached(response, MAX_AGE)


def item_json(kind: str, entry_id: str):
    """One entry as JSON: 404 if there is none of this kind, 410 if it was withdrawn."""
    _check_parameters(ITEM_PARAMETERS[kind])
    filters = _list_filters(kind)
    if (current := http_cache.not_modified()) is not None:
        return current
    entry = directory.store().entry(entry_id)
    if entry is None or entry["kind"] != kind:
        raise NotFound(f"There is no {kind} with the id {entry_id} in the directory. "
                       f"The list at {url_for(f'api.{PLURAL[kind]}', _external=True)} gives the current ids.")
    if entry["withdrawn_at"]:
        raise Gone(f"The {kind} {entry_id} was withdrawn by its publishers on {entry['withdrawn_at'][:10]}.")
    return http_cache.cached(jsonify(_item(entry, filters)), MAX_AGE)


@blueprint.get("/api/openapi.json", endpoint="openapi")
def openapi_document():
    if (current := http_cache.not_modified()) is not None:
        return current
    return http_cache.cached(jsonify(openapi.document(request.url_root.rstrip("/"))), MAX_AGE)


# Three addresses per kind (endpoints api.offers, api.offers_csv, api.offer, ...): the list, the list as CSV, one entry.
for _kind, _plural in PLURAL.items():
    blueprint.add_url_rule(f"/api/v1/{_plural}", _plural, list_json, defaults={"kind": _kind})
    blueprint.add_url_rule(f"/api/v1/{_plural}.csv", f"{_plural}_csv", list_csv, defaults={"kind": _kind})
    blueprint.add_url_rule(f"/api/v1/{_plural}/<entry_id>", _kind, item_json, defaults={"kind": _kind})


def _check_parameters(allowed: tuple[str, ...]) -> None:
    """A 400 naming a parameter the address does not take (a misspelt filter would otherwise be ignored)."""
    for name in request.args:
        if name not in allowed:
            raise BadRequest(f"{name}: this address takes no such parameter; it takes {', '.join(allowed)}")


def _list_filters(kind: str) -> Filters:
    """The request's filters; for events with the range filled in as the event pages fill it
    (a year from today by default), so JSON, CSV, HTML and iCal list the same events."""
    filters = directory.request_filters()
    return directory.with_event_range(filters) if kind == "event" else filters


def _absolute(endpoint: str, args: list[tuple[str, str]], **view_args) -> str:
    base = url_for(endpoint, _external=True, **view_args)
    return f"{base}?{urlencode(args)}" if args else base


def _page_links(pages: int, page: int) -> dict[str, str | None]:
    """Absolute addresses of this, the first, last, next and previous page, keeping the filters."""
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "page"]

    def at(number: int) -> str:
        return _absolute(request.endpoint, [*args, ("page", str(number))])
    return {"self": at(page), "first": at(1), "last": at(pages),
            "next": at(page + 1) if page < pages else None, "prev": at(min(page - 1, pages)) if page > 1 else None}


def _item(entry: dict, filters: Filters) -> dict:
    """An entry as the API gives it: ids, its page, when it changed, where it came from, the
    record, and for events its dates in the range; a withdrawn one only as withdrawn."""
    if entry["withdrawn_at"]:
        return {"id": entry["entry_id"], "kind": entry["kind"], "deleted": True, "updated": entry["updated"]}
    item = {
        "id": entry["entry_id"], "kind": entry["kind"],
        "url": url_for(f"pages.{entry['kind']}", entry_id=entry["entry_id"], _external=True),
        "updated": entry["updated"], "sequence": entry["sequence"],
        "sources": [{"source": s["source_id"], "global_id": s["global_id"], "fetched": s["fetched_at"], "first_seen": s["first_seen"]}
                    for s in directory.store().entry_sources(entry["entry_id"])],
        "record": entry["data"],
    }
    if entry["kind"] == "event":
        zone = ZoneInfo(entry["timezone"] or filters.timezone)
        item["dates"] = [_date(o, zone) for o in _dates_in_range(entry["entry_id"], filters)]
    return item


def _dates_in_range(entry_id: str, filters: Filters) -> list[Occurrence]:
    """An event's stored dates overlapping the filters' days: those ``occurrences_in`` gives for it."""
    return directory.store().dates_between(entry_id, filters.from_, filters.to, filters.timezone)


def _date(occurrence: Occurrence, zone: ZoneInfo) -> dict:
    """A date of an event: an all-day one by its first and last day, else its times in the event's zone."""
    start, end = occurrence.in_zone(zone)
    found = {"start": start.isoformat(), "end": end.isoformat() if end else None, "all_day": occurrence.all_day, "status": occurrence.status,
             "recurrence_id": occurrence.recurrence_id}
    return found | ({"changes": occurrence.changes} if occurrence.changes else {})


def _entry_rows(kind: str, filters: Filters):
    """The CSV rows of every matching entry."""
    entries = directory.all_found(kind, filters)
    names = _organisation_names(entries)
    return (spreadsheet.row(entry, names) for entry in entries)


def _event_rows(filters: Filters):
    """The CSV rows of every date of the matching events in the range, in order."""
    dated = directory.event_dates(filters, directory.today())
    names = _organisation_names([d.entry for d in dated])
    return (spreadsheet.row(d.entry, names, d.occurrence) for d in dated)


def _organisation_names(entries: list[dict]) -> dict[str, str]:
    """The names of the organisations behind entries, by entry id."""
    wanted = sorted({o for entry in entries for o in spreadsheet.organisations_of(entry)})
    return directory.store().titles(wanted) if wanted else {}
