"""For the regional office and publishers: the health of every source, and a feed checker.

``/sources`` (and ``/sources.json``, ``/sources/<id>``, ``/sources/<id>.json``) shows what the
aggregator recorded on each source, broken sources first, with every record it left out and why,
so the office can call the publisher with the exact problem.

``/sources.json`` is ``{"region", "generated", "summary", "sources"}``: ``summary`` is
``{sources, failing, attention, waiting, ok, retired}``, the number of sources in all and in each
condition; ``sources`` lists them in the page's order, each an object with the keys
``id, name, url, local, kind, town, condition, status, last_attempt, last_success, next_check,
http_status, bytes, duration_ms, counts {accepted, rejected, withdrawn}, failures_in_row,
failure_class, failure, last_error, notice, withdrawals_held_since, rejections, history, harvesting``.
``condition`` is failing | attention | waiting | ok | retired (the order of the list);
``failure`` says ``failure_class`` in words (in the visitor's language); times are UTC, ISO 8601
with Z; ``url`` of a feed file on the aggregator's machine is its file name (``local`` true). Each
rejection is
``{position, local_id, seen_at, problems}``, a problem ``{severity, pointer, line, column,
message, hint, code}``; ``history`` lists the last harvests, newest first, as
``{at, status, http_status, new, updated, withdrawn, rejected, failure_class, message, harvester}``
(``harvester``: the harvester process, host:pid:tag, that made the attempt); ``harvesting`` is
``{by, until}`` while a harvester holds the source's lease, else null.
``/sources/<id>.json`` is one such source.

``/validate`` checks a feed as ``wegweiser validate`` does: by address (fetched only through the
harvester's guarded fetcher, never on a private network), as an uploaded file, or as pasted text.
Checks are limited per client and minute (Flask-Limiter); nothing here changes the directory.
"""
import math
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import PurePosixPath
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from babel.dates import format_datetime, format_timedelta
from flask import Blueprint, current_app, jsonify, make_response, render_template, request
from flask_babel import gettext as _
from flask_limiter import Limiter, RateLimitExceeded
from flask_limiter.util import get_remote_address

from aggregator import fetch
from aggregator.health import parse_stamp, stamp, utc_now
from aggregator.query import REGION_TIMEZONE
from feeds import validate as validator
from webapp import directory
from webapp.errors import NotFound, TooManyRequests
from webapp.i18n import visitor_language
from wegweiser import settings

blueprint = Blueprint("office", __name__)
limiter = Limiter(get_remote_address, strategy="moving-window")

CONDITIONS = ("failing", "attention", "waiting", "ok", "retired")
REJECTIONS_SHOWN = 10     # per source on /sources; the source's own page shows all
HISTORY_KEPT = 10         # harvests per source in the JSON and on the source's page
CHECK_PAGES = 10          # pages of one feed a check follows (the command line follows 200)
CHECK_SECONDS = 60        # for all pages of one check together; each page also has the fetcher's limit
MAX_URL_LENGTH = 2000
FETCHER = "wegweiser_validate_fetcher"   # app.extensions key of the checker's fetcher, made on first use


@blueprint.record_once
def _init_limiter(state) -> None:
    """Rate limits kept where RATELIMIT_STORAGE_URI says (create_app: in memory, per process)."""
    limiter.init_app(state.app)


# --- source health ----------------------------------------------------------------------

def failure_in_words(failure_class: str | None) -> str | None:
    """What a class of harvest failure means for the office, in the visitor's language."""
    words = {
        "timeout": _("The publisher's server was too slow to answer; the aggregator tries again with growing pauses."),
        "server-error": _("The publisher's web server reported an error of its own; the aggregator tries again with "
                          "growing pauses."),
        "rate-limited": _("The publisher's server asked the aggregator to come back later."),
        "network": _("The server could not be reached; the aggregator tries again with growing pauses."),
        "blocked": _("The address is not on the public internet (or is not http or https), so the aggregator does "
                     "not fetch it."),
        "too-large": _("The feed is larger than the aggregator reads; the publisher should split it into pages."),
        "redirects": _("The address forwards too often or in a circle; register the address the feed is really at."),
        "not-found": _("The feed is not at the registered address; ask the publisher where it moved."),
        "client-error": _("The publisher's server refused to hand out the feed."),
        "parse": _("The feed could not be read as a Wegweiser feed, iCalendar, RSS or Atom, or a web page with events."),
        "invalid": _("The feed is readable, but cannot be used as a whole."),
        "internal": _("The harvester failed on this feed; please report it to the maintainers of Wegweiser."),
        "database": _("The directory's own database did not answer during the harvest (a restart, say); the last "
                      "good data stays and the harvest is tried again within minutes."),
    }
    return words.get(failure_class) if failure_class else None


def condition(row: dict) -> str:
    """How a source is doing: failing, attention (records left out or a notice), waiting, ok, retired."""
    if row["status"] == "retired":
        return "retired"
    if row["status"] == "failed":
        return "failing"
    if row["rejected"] or row["notice"]:
        return "attention"
    return "waiting" if row["status"] == "new" else "ok"


def _shown_url(url: str) -> tuple[str, bool]:
    """The feed's address, or only the file name of a feed file on the aggregator's machine."""
    if urlsplit(url).scheme.lower() in ("http", "https"):
        return url, False
    return PurePosixPath(url).name, True


def _without_path(message: str | None, address: str, local: bool) -> str | None:
    """A stored message with the folders of a feed file on the aggregator's machine left out: the
    page is public, the machine's layout is not."""
    if not message or not local:
        return message
    return message.replace(str(PurePosixPath(address).parent) + "/", "")


PROBLEM_KEYS = ("severity", "pointer", "line", "column", "message", "hint", "code")
HISTORY_KEYS = ("at", "status", "http_status", "new", "updated", "withdrawn", "rejected", "failure_class", "message", "harvester")


def _problem(problem: dict) -> dict:
    """A stored problem with the keys of the JSON (the stored one also names the feed's URL)."""
    return {key: problem.get(key) for key in PROBLEM_KEYS}


def source_health(row: dict) -> dict:
    """One source as /sources.json shows it: health, rejected records and recent harvests."""
    store = directory.store()
    url, local = _shown_url(row["url"])
    rejections = [{"position": r["position"], "local_id": r["local_id"], "seen_at": r["seen_at"],
                   "problems": [_problem(p) for p in r["problems"]]} for r in store.rejections(row["id"])]
    history = [{key: entry[key] for key in HISTORY_KEYS} | {"message": _without_path(entry["message"], row["url"], local)}
               for entry in store.harvest_log(row["id"], HISTORY_KEPT)]
    return {
        "id": row["id"], "name": row["name"], "url": url, "local": local, "kind": row["kind"], "town": row["town"],
        "condition": condition(row), "status": row["status"],
        "last_attempt": row["last_attempt"], "last_success": row["last_success"], "next_check": row["next_check"],
        "http_status": row["http_status"], "bytes": row["bytes"], "duration_ms": row["duration_ms"],
        "counts": {"accepted": row["accepted"], "rejected": row["rejected"], "withdrawn": row["withdrawn"]},
        "failures_in_row": row["failures_in_row"], "failure_class": row["failure_class"],
        "failure": failure_in_words(row["failure_class"]),
        "last_error": _without_path(row["last_error"], row["url"], local), "notice": row["notice"], "withdrawals_held_since": row["shrink_held_since"],
        "rejections": rejections, "history": history,
        "harvesting": _harvesting(row),
    }


def _harvesting(row: dict) -> dict | None:
    """Who harvests the source now, while its lease runs (a lease run out is a harvester gone)."""
    if not row["leased_by"] or row["lease_until"] <= stamp(utc_now()):
        return None
    return {"by": row["leased_by"], "until": row["lease_until"]}


def _order(row: dict) -> tuple:
    """Failing sources first (longest failing first), then those needing attention, then the rest by name."""
    return CONDITIONS.index(condition(row)), -row["failures_in_row"], -row["rejected"], row["name"].casefold()


def sources_health() -> dict:
    """Every source's health, broken sources first, with a count per condition."""
    sources = [source_health(row) for row in sorted(directory.store().sources(), key=_order)]
    summary = {name: sum(s["condition"] == name for s in sources) for name in CONDITIONS}
    return {"region": current_app.config["REGION_NAME"], "generated": stamp(utc_now()),
            "summary": {"sources": len(sources), **summary}, "sources": sources}


def _one_source(source_id: str) -> dict:
    """One source's health; 404 for an id the store does not know."""
    row = next((r for r in directory.store().sources() if r["id"] == source_id), None)
    if row is None:
        raise NotFound(_("There is no source with the id %(id)s.", id=source_id))
    return source_health(row)


@blueprint.get("/sources")
def sources():
    return render_template("sources.html", health=sources_health(), shown=REJECTIONS_SHOWN)


@blueprint.get("/sources.json")
def sources_json():
    return jsonify(sources_health())


@blueprint.get("/sources/<source_id>")
def source(source_id: str):
    return render_template("source.html", source=_one_source(source_id))


@blueprint.get("/sources/<source_id>.json")
def source_json(source_id: str):
    return jsonify(_one_source(source_id))


@blueprint.app_template_filter("local_time")
def local_time(stamp: str | None) -> str:
    """A stored UTC moment as the region's wall-clock time, in the visitor's language."""
    if not stamp:
        return ""
    return format_datetime(parse_stamp(stamp), "medium", tzinfo=ZoneInfo(REGION_TIMEZONE), locale=visitor_language())


@blueprint.app_template_filter("from_now")
def from_now(stamp: str | None) -> str:
    """How long ago or ahead a stored UTC moment is: "3 hours ago", "in 20 minutes"."""
    if not stamp:
        return ""
    return format_timedelta(parse_stamp(stamp) - datetime.now(timezone.utc), add_direction=True,
                            locale=visitor_language())


# --- the feed checker ---------------------------------------------------------------------

class UnusableInput(Exception):
    """The form gave nothing that can be checked; the message says what to give instead."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message, self.status = message, status


@dataclass
class Check:
    """What one check found: a report per page, and the text of each page for excerpts."""

    subject: str                                   # the address, file name or "pasted text"
    reports: list[validator.Report]
    texts: dict[str, list[str]] = field(default_factory=dict)   # page → its lines
    notes: list[str] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return sum(r.errors for r in self.reports) + sum(bool(r.unreadable) for r in self.reports)

    @property
    def warnings(self) -> int:
        return sum(r.warnings for r in self.reports)

    @property
    def records(self) -> int:
        return sum(r.records for r in self.reports)

    @property
    def unreadable(self) -> bool:
        return any(r.unreadable for r in self.reports)

    def excerpt(self, page: str, line: int | None, column: int | None) -> str:
        """The line a problem is on, cut around its column when long (a feed on one line)."""
        lines = self.texts.get(page, [])
        if not line or not 1 <= line <= len(lines):
            return ""
        text, width = lines[line - 1].rstrip(), 120
        if len(text) <= width:
            return text.lstrip()
        start = max(0, (column or 1) - 1 - width // 3)
        return ("…" if start else "") + text[start:start + width] + ("…" if start + width < len(text) else "")


def _per_minute() -> str:
    """The checker's rate limit, read from the app's settings when a check comes in."""
    return f"{current_app.config['VALIDATE_PER_MINUTE']} per minute"


@blueprint.route("/validate", methods=["GET", "POST"])
@limiter.limit(_per_minute, methods=["POST"])
def validate():
    if request.method == "GET":
        return _checker_page(url=request.args.get("url", "")[:MAX_URL_LENGTH])
    # Pasted text may be as large as an upload; Flask's default for form fields is far smaller.
    request.max_form_memory_size = current_app.config["MAX_CONTENT_LENGTH"]
    url = request.form.get("url", "").strip()
    try:
        check = _run_check(url)
    except UnusableInput as problem:
        return _checker_page(url=url, problem=problem.message), problem.status
    return _checker_page(url=url, check=check)


def _checker_page(url: str = "", check: Check | None = None, problem: str | None = None) -> str:
    """The checker's form, with the report of a check or the reason nothing was checked."""
    return render_template("validate.html", url=url, check=check, problem=problem,
                           max_size=_size(current_app.config["VALIDATE_MAX_BYTES"]))


@blueprint.errorhandler(RateLimitExceeded)
def _too_many_checks(_breach: RateLimitExceeded):
    """429 as a page like every other error, saying (and in Retry-After) how long to wait."""
    current = limiter.current_limit
    wait = max(1, math.ceil(current.reset_at - time.time())) if current else 60
    message = _("This page checks at most %(count)s feeds a minute from one address. Please try again in "
                "%(seconds)s seconds.", count=current_app.config["VALIDATE_PER_MINUTE"], seconds=wait)
    response = make_response(current_app.handle_user_exception(TooManyRequests(message)))
    response.headers["Retry-After"] = str(wait)
    return response


def _run_check(url: str) -> Check:
    """Check what the form gave: exactly one of an address, a file and a text."""
    upload = request.files.get("file")
    text = request.form.get("text", "")
    given = [name for name, present in (("url", url), ("file", upload and upload.filename), ("text", text.strip()))
             if present]
    if not given:
        raise UnusableInput(_("Nothing to check: give the address of a feed, choose a file, or paste the text of a feed."))
    if len(given) > 1:
        raise UnusableInput(_("Please give one thing to check at a time: an address, a file or a text."))
    if given == ["url"]:
        return _check_address(url)
    if given == ["file"]:
        name = PurePosixPath(upload.filename.replace("\\", "/")).name or _("uploaded file")
        return _check_data(name, _capped(upload.stream.read(current_app.config["VALIDATE_MAX_BYTES"] + 1)))
    return _check_data(_("pasted text"), _capped(text.encode("utf-8")))


def _capped(data: bytes) -> bytes:
    """The data, unless it passes the size an upload may have; an empty file is no feed either."""
    limit = current_app.config["VALIDATE_MAX_BYTES"]
    if len(data) > limit:
        raise UnusableInput(_("The feed is larger than %(size)s, the most this page checks. Split it into pages linked by "
                              "\"next\", or check it on your own computer with `wegweiser validate`.",
                              size=_size(limit)), 413)
    if not data.strip():
        raise UnusableInput(_("The file is empty: choose the feed file itself."))
    return data


def _size(count: int) -> str:
    """A byte count as people say it."""
    if count >= 1024 * 1024:
        return f"{count / (1024 * 1024):.3g} MB"
    return f"{count / 1024:.3g} KB"


def _check_data(name: str, data: bytes) -> Check:
    """Check one uploaded or pasted document; its ``next`` link is not followed."""
    reports = validator.validate_pages(name, lambda _source: data, today=directory.today(), follow=False)
    check = Check(name, reports, {name: _lines(data)})
    if reports[0].next_page:
        check.notes.append(_("This document links to a next page (%(link)s), which was not checked: references to "
                             "records on later pages show as errors here. Check the feed by its address to include "
                             "every page.", link=reports[0].next_page))
    return check


def _lines(data: bytes) -> list[str]:
    """The lines of a document as the validator counts them (only a line feed ends a line)."""
    return data.decode("utf-8-sig", errors="replace").split("\n")


def _check_address(url: str) -> Check:
    """Fetch a feed and the pages its ``next`` links lead to, within the page and time budget."""
    if len(url) > MAX_URL_LENGTH:
        raise UnusableInput(_("The address is longer than %(count)s characters.", count=MAX_URL_LENGTH))
    try:
        if not urlsplit(url).scheme:
            url = "https://" + url  # people often copy an address without it
        urlsplit(url).hostname
    except ValueError:
        raise UnusableInput(_("This is not a valid web address: write it as the browser shows it, e.g. https://www.example.de/feed.json")) from None
    texts: dict[str, list[str]] = {}
    started = time.monotonic()

    def load(page: str) -> bytes:
        if len(texts) >= CHECK_PAGES:
            raise ValueError(_("this page follows at most %(count)s pages of a feed; check all of them "
                               "with `wegweiser validate` on your own computer", count=CHECK_PAGES))
        if time.monotonic() - started > CHECK_SECONDS:
            raise ValueError(_("the earlier pages took the %(seconds)s seconds a check may take",
                               seconds=CHECK_SECONDS))
        body = _fetch(page)
        texts[page] = _lines(body)
        return body

    reports = validator.validate_pages(url, load, today=directory.today())
    return Check(url, reports, texts)


def _fetch(url: str) -> bytes:
    """A page's body through the harvester's fetcher; a ValueError in the publisher's words if it fails."""
    try:
        return _fetcher().get(url).body
    except fetch.BlockedAddress as exc:
        reason = exc.reason.split(";")[0]
        raise ValueError(_("%(reason)s. This page fetches feeds only from the public internet: upload the file instead, "
                           "or check it on your own computer with `wegweiser validate`.", reason=reason)) from exc
    except fetch.FetchError as exc:
        raise ValueError(exc.reason) from exc


def _fetcher() -> fetch.Fetcher:
    """The app's fetcher for checks: the harvester's address guard, size and time limits."""
    if FETCHER not in current_app.extensions:
        current_app.extensions[FETCHER] = fetch.Fetcher(contact=settings.value("contact") or None)
    return current_app.extensions[FETCHER]
