"""The pages people read: the search with facets, events by day and by year, and detail pages.

Each view gathers its data with the functions of webapp/directory.py (the same ones the API, CSV
and iCal use) and renders one template.
"""
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from itertools import groupby
from zoneinfo import ZoneInfo

from flask import Blueprint, render_template, request, url_for

from aggregator.query import FACETS, REGION_TIMEZONE, Filters
from webapp import api, directory, present, structured
from webapp.errors import BadRequest, NotFound
from webapp.i18n import pick

blueprint = Blueprint("pages", __name__)

LIST_KINDS = {"pages.home": "offer", "pages.events": "event", "pages.organisations": "organisation"}

FACET_VALUES_SHOWN = 12      # per facet; the values chosen are always shown
EVENT_DATES_SHOWN = 200      # per page of /events; later days are one link away
NEXT_DATES_SHOWN = 12        # on an event's page


def _facet_names(facets: dict[str, dict[str, int]]) -> dict[str, str]:
    """Names of the organisations among the facet values (their ids), for the labels."""
    return {entry_id: pick(name)[1] for entry_id, name in
            directory.store().names(list(facets.get("organisation", {}))).items()}


def _facets(facets: dict[str, dict[str, int]], filters: Filters) -> list[dict]:
    """Each facet with its most frequent values and every chosen one, with counts and labels."""
    names = _facet_names(facets)
    shown = []
    for facet in FACETS:
        counts = facets.get(facet, {})
        chosen = filters.facet_values(facet)
        values = list(counts)[:FACET_VALUES_SHOWN]
        values += [v for v in chosen if v not in values]
        shown.append({"name": facet, "values": [
            {"value": v, "count": counts.get(v, 0), "chosen": v in chosen, "label": present.facet_label(facet, v, names)}
            for v in values]})
    return shown


@blueprint.get("/")
def home():
    filters = directory.request_filters()
    page, per_page = directory.request_page()
    found = directory.found("offer", filters, page, per_page)
    others = {"event": directory.store().count("event", directory.with_event_range(filters)),
              "organisation": directory.store().count("organisation", filters)}
    return render_template("home.html", found=found, filters=filters, facets=_facets(found.facets, filters), others=others,
                           names=directory.store().names(_providers(found.entries)))


@blueprint.get("/organisations")
def organisations():
    filters = directory.request_filters()
    page, per_page = directory.request_page()
    found = directory.found("organisation", filters, page, per_page)
    return render_template("organisations.html", found=found, filters=filters, facets=_facets(found.facets, filters))


def _providers(entries: list[dict]) -> list[str]:
    """The organisation entry ids the entries on a page belong to, for their names."""
    return [found for found in map(present.provider_of, entries) if found]


@blueprint.get("/events")
def events():
    filters = directory.request_filters(calendar=True)
    start, end = directory.event_range(filters, directory.today())
    dates = directory.event_dates(filters, directory.today(), limit=EVENT_DATES_SHOWN + 1)
    later = None
    if len(dates) > EVENT_DATES_SHOWN:
        # Show whole days only: the last day is cut and the link to later dates starts with it.
        last_day = _local_day(dates[EVENT_DATES_SHOWN])
        kept = [d for d in dates[:EVENT_DATES_SHOWN] if _local_day(d) < last_day]
        dates = kept or dates[:EVENT_DATES_SHOWN]
        later = last_day if kept else _local_day(dates[-1]) + timedelta(days=1)
    # By the day and time in each event's own zone, so an event elsewhere never splits a day in two.
    dates.sort(key=lambda d: (d.occurrence.start_local, d.occurrence.start_utc))
    days = [(day, list(items)) for day, items in groupby(dates, key=_local_day)]
    # Only the counts: a page of events in order of their first date would sort every match first.
    counts = directory.store().facet_counts("event", replace(filters, from_=start, to=end))
    return render_template("events.html", days=days, filters=filters, start=start, end=end, later=later,
                           facets=_facets(counts, filters))


@blueprint.get("/events/year")
def year():
    filters = directory.request_filters(calendar=True)
    raw = request.args.get("year", str(directory.today().year))
    if not raw.isdigit() or not 2000 <= int(raw) <= 2100:
        raise BadRequest(f"year: '{raw}' is not a year, write e.g. year={directory.today().year}")
    chosen = int(raw)
    first_day = date(chosen, 1, 1)
    dated = directory.store().occurrences_in(filters, first_day, date(chosen, 12, 31))
    # Dates running on from the year before are listed under January.
    months = [(month, list(items)) for month, items in groupby(
        (directory.Dated(o, e) for o, e in dated), key=lambda d: max(_local_day(d), first_day).month)]
    return render_template("year.html", months=months, year=chosen, filters=filters)


def _local_day(dated: directory.Dated) -> date:
    """The day a date of an event starts on, in the event's own zone."""
    return date.fromisoformat(dated.occurrence.start_local[:10])


def _entry(kind: str, entry_id: str) -> dict:
    entry = directory.store().entry(entry_id)
    if entry is None or entry["kind"] != kind:
        raise NotFound(f"There is no {kind} with the id {entry_id} in the directory. Search for it on the start page.")
    if entry["withdrawn_at"]:
        raise NotFound(f"This {kind} was withdrawn by its publisher on {entry['withdrawn_at'][:10]} and is no longer in the directory.")
    return entry


def _detail(entry: dict, **extra):
    """A detail page: the record, where it came from, and its schema.org description."""
    store = directory.store()
    source_names = {s["id"]: s["name"] for s in store.sources()}
    sources = [s | {"name": source_names.get(s["source_id"], s["source_id"])} for s in store.entry_sources(entry["entry_id"])]
    record = entry["data"]
    organisation_id = present.provider_of(entry)
    organisation = store.entry(organisation_id) if organisation_id else None
    if organisation and organisation["withdrawn_at"]:
        organisation = None
    page_url = url_for(f"pages.{entry['kind']}", entry_id=entry["entry_id"], _external=True)
    organisation_url = url_for("pages.organisation", entry_id=organisation["entry_id"], _external=True) if organisation else None
    next_dates = extra.get("next_dates", [])
    return render_template(f"{entry['kind']}.html", entry=entry, record=record, sources=sources, organisation=organisation,
                           json_ld=structured.json_ld(entry, page_url, next_dates, organisation_url), **extra)


@blueprint.get("/offers/<entry_id>")
def offer(entry_id: str):
    return _detail(_entry("offer", entry_id))


@blueprint.get("/events/<entry_id>")
def event(entry_id: str):
    entry = _entry("event", entry_id)
    now = datetime.combine(directory.today(), time(), ZoneInfo(entry.get("timezone") or REGION_TIMEZONE))
    return _detail(entry, next_dates=directory.store().dates_of(entry_id, now, NEXT_DATES_SHOWN))


@blueprint.get("/organisations/<entry_id>")
def organisation(entry_id: str):
    entry = _entry("organisation", entry_id)
    mine = Filters(organisation=(entry_id,))
    offers = directory.found("offer", mine, 1, 100).entries
    dates = directory.event_dates(mine, directory.today(), limit=20)
    return _detail(entry, offers=offers, dates=dates)


@blueprint.after_request
def link_alternates(response):
    """Each list and entry names its JSON (and CSV) in a Link header, as Datasette's pages do."""
    entry_id = (request.view_args or {}).get("entry_id")
    kind = LIST_KINDS.get(request.endpoint) or (request.endpoint.split(".")[1] if entry_id else None)
    if response.status_code == 200 and kind:
        response.headers["Link"] = api.link_header(kind, entry_id)
    return response
