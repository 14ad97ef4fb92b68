"""The merged directory as a feed in the shared format (schema/README.md, section 8), so that another
Wegweiser instance, a state-wide one, harvests this region as it harvests a town.

Every record carries its provenance, whose first entry names the original publisher and id, so a
downstream directory keys it by its original global id; references to organisations name their
publisher; a withdrawn entry becomes a tombstone carrying the same provenance, which is how the
downstream directory finds the record it stored under that original global id and withdraws it.
"""
import re
from collections import Counter
from datetime import date, datetime, time, timedelta, timezone
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, current_app, request

import wegweiser_schema
from aggregator import merge
from aggregator.harvest import feed_publisher_id
from aggregator.query import FACETS, REGION_TIMEZONE, utc_text
from feeds import checks, validate
from feeds.feed import KIND_TO_LIST, RECORD_LISTS, now_timestamp
from webapp import directory, http_cache
from webapp.errors import BadRequest

blueprint = Blueprint("federation", __name__)

FEED_LANGUAGE = "de"
# A harvester follows at most 100 pages of a feed (aggregator/harvest.py), so 500 entries a page
# (about 1 MB) let a downstream directory take 50,000 entries; a harvester may ask for fewer.
PAGE_SIZE = 500
MAX_PAGE_SIZE = 1000
# The specification asks for at least 7 days (8.2); a month also reaches harvesters that missed a few runs.
TOMBSTONE_DAYS = 30
REFERENCES = ("provider", "organiser", "parent_organisation")
ENTRY_ID = re.compile(r"[0-9a-f]{1,64}")
# Parameters of the API's lists that would make the feed a part of the directory, not the whole.
REFUSED = ("q", "from", "to", "page", *FACETS)


@blueprint.get("/feed.json")
def feed():
    """One page of the merged directory as a feed document, with ``next`` to the page after it."""
    unchanged = http_cache.not_modified()
    if unchanged:
        return unchanged
    since, after, per_page = _request_paging()
    # Pages follow the entries' ids, and ``after`` names the last id of the page before. Unlike page
    # numbers, that place does not move while the directory changes during a harvester's walk: an
    # entry added or withdrawn meanwhile shifts no other entry onto another page, so none is skipped
    # (and then taken for withdrawn downstream) and none appears twice. Ids, not times of change as
    # in RPDE, because an entry changed during the walk would move to the end and appear twice.
    following = _following(after, per_page + 1, since, directory.today())
    page = following[:per_page]
    document = _document(page)
    if len(following) > per_page:
        document["next"] = _next_link(page[-1]["entry_id"])
    return http_cache.cached(current_app.json.response(document))


def _request_paging() -> tuple[datetime | None, str, int]:
    """``changed_since``, ``after`` and ``per_page`` of the query string, checked."""
    given = [name for name in REFUSED if name in request.args]
    if given:
        raise BadRequest(f"{given[0]}: the feed always holds the whole directory and takes only changed_since, "
                         "after and per_page; follow its next links from page to page, and filter with "
                         "/api/v1/offers, /api/v1/events or /api/v1/organisations")
    since = directory.request_filters().changed_since
    after = request.args.get("after", "")
    if after and not ENTRY_ID.fullmatch(after):
        raise BadRequest(f"after: '{after}' is not a place in this feed; follow the feed's next links instead of writing it")
    raw = request.args.get("per_page", str(PAGE_SIZE))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE_SIZE:
        raise BadRequest(f"per_page: '{raw}' is not a number of records from 1 to {MAX_PAGE_SIZE}")
    return since, after, int(raw)


def _following(after: str, limit: int, since: datetime | None, today: date) -> list[dict]:
    """Up to ``limit`` of the entries the feed holds, in the order of their ids from just after
    ``after``: current ones, and withdrawn ones as tombstones for TOMBSTONE_DAYS; with ``since``,
    only those changed or withdrawn after it."""
    if since:
        return directory.store().entries_after(after, limit, changed_since=utc_text(since))
    oldest = utc_text(datetime.combine(today - timedelta(days=TOMBSTONE_DAYS), time(), timezone.utc))
    return directory.store().entries_after(after, limit, withdrawn_since=oldest)


def _document(entries: list[dict]) -> dict:
    """A feed document holding the records and tombstones of these entries."""
    document = {
        "schema_version": wegweiser_schema.SCHEMA_VERSION,
        "publisher": _publisher(),
        "default_language": FEED_LANGUAGE,
        "timezone": REGION_TIMEZONE,
        "updated": directory.store().last_change() or now_timestamp(),
    }
    lists = {name: [] for name in RECORD_LISTS}
    # References are all written with their publisher, so they need no organisation on this page.
    context = checks.FeedContext(today=directory.today(), default_language=FEED_LANGUAGE, timezone=REGION_TIMEZONE)
    for entry in entries:
        item = _tombstone(entry) if entry["withdrawn_at"] else _record(entry)
        # A record taken under another feed's rules (a calendar event without a category) or under an
        # older version of the checks would make a downstream directory reject it: it is left out here
        # and stays on this directory's own pages.
        if entry["withdrawn_at"] or not any(p.is_error for p in validate.check_record(entry["kind"], item, context)):
            lists[KIND_TO_LIST[entry["kind"]]].append(item)
    return document | {name: records for name, records in lists.items() if records}


def _publisher() -> dict:
    """The region as the publisher of the feed: its configured id, else its web address."""
    site = current_app.config["PUBLIC_URL"] or request.host_url
    return {
        "id": current_app.config["REGION_ID"] or feed_publisher_id(site),
        "name": {FEED_LANGUAGE: current_app.config["REGION_NAME"]},
        "kind": current_app.config["REGION_KIND"],
        "town": _region_town(),
        "homepage": site,
        "license": current_app.config["REGION_LICENSE"],
    }


def _region_town() -> dict:
    """The town most of the directory's sources work in, with its key where the registry gives one."""
    sources = [s for s in directory.store().sources() if s["status"] != "retired"]
    towns = Counter(s["town"] for s in sources)
    if not towns:
        return {"name": current_app.config["REGION_NAME"]}
    name = min(towns, key=lambda town: (-towns[town], town))
    ags = next((s["ags"] for s in sources if s["town"] == name and s["ags"]), None)
    return {"name": name, **({"ags": ags} if ags else {})}


def _record(entry: dict) -> dict:
    """An entry as a record of this feed: its content under its entry id, which is unique here
    (the publishers' own ids need not be) and stable, with where it came from."""
    data = entry["data"]
    record = {**data, "id": entry["entry_id"], "provenance": _provenance(entry)}
    original = data["provenance"][0]["publisher"]  # whose record the entry shows
    for name in REFERENCES:
        if name in record:
            record[name] = _with_publisher(record[name], original)
    if isinstance(record.get("co_organisers"), list):
        record["co_organisers"] = [_with_publisher(ref, original) for ref in record["co_organisers"]]
    if entry["kind"] == "event" and "timezone" not in record and entry["timezone"] not in (None, REGION_TIMEZONE):
        # Its times were meant in its own feed's zone, which this feed's zone would replace.
        record["timezone"] = entry["timezone"]
    return record


def _with_publisher(reference, publisher: str):
    """A reference by bare id means an organisation of the record's original feed; in this feed it
    must name that feed's publisher, or it would point at an organisation of the region."""
    return {"publisher": publisher, "id": reference} if isinstance(reference, str) else reference


def _tombstone(entry: dict) -> dict:
    """A withdrawn entry's tombstone; its provenance lets a downstream directory find the record
    it stored under the original global id (aggregator/merge.py, original_global_id)."""
    tombstone = {"id": entry["entry_id"], "deleted": True, "updated": entry["withdrawn_at"]}
    return tombstone | ({"provenance": _provenance(entry)} if (entry["data"] or {}).get("provenance") else {})


def _provenance(entry: dict) -> list[dict]:
    """Where an entry came from, the record it was founded by first: a downstream directory keys
    the record by the first, and so gives it the same entry id and calendar UID as this one. A feed
    read from this server's disk has no address others could use, so it is left out."""
    items = entry["data"]["provenance"]
    founding = [p for p in items if merge.entry_id_for(entry["kind"], merge.global_id(p["publisher"], p["id"])) == entry["entry_id"]]
    return [{key: value for key, value in item.items() if key != "feed_url" or _is_web_address(value)}
            for item in founding + [p for p in items if p not in founding]]


def _is_web_address(value) -> bool:
    """True for an http(s) address, false for a path on this server."""
    return isinstance(value, str) and urlsplit(value).scheme in ("http", "https")


def _next_link(last_id: str) -> str:
    """The next page's address, relative to this one, keeping the harvester's own choices."""
    kept = {name: request.args[name] for name in ("changed_since", "per_page") if name in request.args}
    return "?" + urlencode({**kept, "after": last_id})
