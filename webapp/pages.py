"""The pages people read: search with facets, lists by day, detail pages."""
from flask import Blueprint, render_template

from webapp import directory
from webapp.errors import NotFound

blueprint = Blueprint("pages", __name__)


@blueprint.get("/")
def home():
    filters = directory.request_filters()
    page, per_page = directory.request_page()
    return render_template("home.html", found=directory.found("offer", filters, page, per_page), filters=filters)


@blueprint.get("/events")
def events():
    filters = directory.request_filters()
    return render_template("events.html", dates=directory.event_dates(filters, directory.today(), limit=500), filters=filters)


@blueprint.get("/organisations")
def organisations():
    filters = directory.request_filters()
    page, per_page = directory.request_page()
    return render_template("home.html", found=directory.found("organisation", filters, page, per_page), filters=filters)


def _entry(kind: str, entry_id: str) -> dict:
    entry = directory.store().entry(entry_id)
    if entry is None or entry["kind"] != kind or entry["withdrawn_at"]:
        raise NotFound(f"There is no {kind} with the id {entry_id} in the directory (it may have been withdrawn by its publisher).")
    return entry


@blueprint.get("/offers/<entry_id>")
def offer(entry_id: str):
    return render_template("detail.html", entry=_entry("offer", entry_id))


@blueprint.get("/events/<entry_id>")
def event(entry_id: str):
    return render_template("detail.html", entry=_entry("event", entry_id))


@blueprint.get("/organisations/<entry_id>")
def organisation(entry_id: str):
    return render_template("detail.html", entry=_entry("organisation", entry_id))
