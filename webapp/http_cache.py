"""Validators for documents that many clients poll (calendar subscriptions, feeds, API lists).

The ETag is derived from what the document depends on (address as asked, language, the directory's
last change, the day) rather than from the body, so a client whose copy is current gets its 304 before
the document is built: thousands of calendars polling cost a few index lookups.
"""
import hashlib
from datetime import datetime, time
from zoneinfo import ZoneInfo

from flask import Response, g, request

from aggregator.query import REGION_TIMEZONE
from webapp import directory


def _validators() -> tuple[str, datetime]:
    """The ETag, and the Last-Modified, read once per request before the document is built: read
    after it, a harvest committing in between would label the old document with the new version,
    and clients would keep the old one as current."""
    if "validators" not in g:
        g.validators = _read_validators()
    return g.validators


def _read_validators() -> tuple[str, datetime]:
    """The ETag, and the Last-Modified: the directory's last change, or the start of today when later,
    since lists start today."""
    last_change = directory.store().last_change()
    today = directory.today()
    parts = [request.host_url, request.path, request.query_string.decode("latin-1"), str(request.accept_languages),
             request.cookies.get("lang", ""), str(directory.store().version()), today.isoformat()]
    etag = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]
    day_began = datetime.combine(today, time(), ZoneInfo(REGION_TIMEZONE))
    changed = datetime.fromisoformat(last_change) if last_change else day_began
    return etag, max(changed, day_began)


def not_modified() -> Response | None:
    """A 304 if the client's copy (If-None-Match, else If-Modified-Since) is current, else None."""
    response = cached(Response(status=200))
    response.make_conditional(request)
    return response if response.status_code == 304 else None


def cached(response: Response, max_age: int = 300) -> Response:
    """The response with the ETag and Last-Modified that ``not_modified`` checks, and Cache-Control."""
    etag, last_modified = _validators()
    response.set_etag(etag)
    response.last_modified = last_modified
    response.cache_control.public = True
    response.cache_control.max_age = max_age
    response.vary.update(("Accept-Language", "Cookie"))
    return response
