"""One harvest of one source, the only place that chains the stages:
fetch → detect → parse → validate → merge and store → record the source's health.

The scheduler, the CLI and the web app's "harvest now" all call ``harvest_source``. A feed that
cannot be fetched or read leaves the source's last good data in place and says why on the source.
"""
import hashlib
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from urllib.parse import urlsplit

from aggregator import fetch, parse
from aggregator.backends import DATABASE_ERRORS
from aggregator.health import SourceState, utc_now, stamp
from aggregator.merge import original_global_id
from aggregator.parsed import Parsed
from aggregator.sources import Source
from aggregator.store import AcceptedRecord, HarvestBatch, HarvestCounts, Rejection, Store
from feeds import validate
from feeds.feed import RECORD_LISTS

MAX_PAGES = 100
MAX_FEED_BYTES = 100 * 1024 * 1024  # all pages of one feed together: memory stays bounded
MAX_ALTERNATES = 3
DATABASE_PATIENCE = 60  # seconds to wait for the database to come back to record that storing failed


class HarvestFailure(Exception):
    """A source could not be harvested this time; carries the class used for backoff."""

    def __init__(self, error_class: str, message: str, retry_after: float | None = None, http_status: int | None = None):
        super().__init__(message)
        self.error_class, self.retry_after, self.http_status = error_class, retry_after, http_status


@dataclass
class Outcome:
    """What became of one source in a run, for the summary table."""

    source_id: str
    status: str                      # ok | unchanged | failed
    counts: HarvestCounts = field(default_factory=HarvestCounts)
    message: str = ""
    error_class: str | None = None


@dataclass
class _Fetched:
    pages: list[tuple[str, bytes, str]]      # (url, body, content type) in order
    http_status: int | None
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False

    @property
    def size(self) -> int:
        return sum(len(body) for _, body, _ in self.pages)

    @property
    def body_hash(self) -> str:
        digest = hashlib.sha256()
        for _, body, _ in self.pages:
            digest.update(hashlib.sha256(body).digest())
        return digest.hexdigest()


def harvest_source(store: Store, source: Source, fetcher: fetch.Fetcher, *, now: datetime | None = None,
                   today: date | None = None, holder: str | None = None) -> Outcome:
    """Harvest one source once and record what happened on it; never raises for the feed's faults.
    ``holder``: the harvester process leasing the source; what it found is stored only while it
    still holds the lease (else ``LeaseLost`` is raised and nothing is written). When the database
    fails (a restart), that is recorded on the source once it answers again."""
    now = now or utc_now()
    started = time.monotonic()
    try:
        return _harvest(store, source, fetcher, now, today, holder, started)
    except DATABASE_ERRORS as exc:
        return _record_unstored(store, source, exc, now, time.monotonic() - started, holder)


def _harvest(store: Store, source: Source, fetcher: fetch.Fetcher, now: datetime, today: date | None,
             holder: str | None, started: float) -> Outcome:
    state = store.source_state(source.id)
    try:
        fetched = _fetch_first(source, fetcher, state)
        pages = [] if fetched.not_modified else _parse_pages(source, fetched, fetcher)
        unchanged = fetched.not_modified or fetched.body_hash == state.body_hash
        batch = None if unchanged else _batch(source, pages, fetched.pages[0][0], today or now.date())
        if batch:
            _check_owner(store, source, batch.publisher_id)
            _leave_out_echoes(store, source, batch)
    except HarvestFailure as failure:
        return _record_failure(store, source, state, failure, now, time.monotonic() - started, holder)
    except DATABASE_ERRORS:
        raise  # not the feed's fault nor a bug: harvest_source records it
    except Exception as exc:  # a fault of ours must not stop the run or go unrecorded on the source
        failure = HarvestFailure("internal", f"{source.url}: the harvest failed unexpectedly ({type(exc).__name__}: {exc}); "
                                             "please report this to the maintainers of Wegweiser")
        return _record_failure(store, source, state, failure, now, time.monotonic() - started, holder)
    state.attempted(now, fetched.http_status, fetched.size, time.monotonic() - started)
    if batch is None:
        _keep_validators(state, fetched)
        state.succeeded(now, source.interval, unchanged=True)
        store.save_state(state, "unchanged", holder=holder)
        return Outcome(source.id, "unchanged")
    _keep_validators(state, fetched)
    state.succeeded(now, source.interval)
    counts = store.apply_harvest(state, batch, source.town, stamp(now), holder=holder)
    return Outcome(source.id, "ok", counts, state.notice or "")


def _keep_validators(state: SourceState, fetched: "_Fetched") -> None:
    """Remember what tells the next fetch "unchanged" (a 304 may bring fresh validators too)."""
    state.etag, state.last_modified = fetched.etag or state.etag, fetched.last_modified or state.last_modified
    state.body_hash = fetched.body_hash if fetched.pages else state.body_hash


def harvest_all(store: Store, sources: list[Source], fetcher: fetch.Fetcher, *, workers: int = 8,
                now: datetime | None = None, on_done=None) -> list[Outcome]:
    """Harvest many sources at once (``workers`` at a time; the fetcher keeps one request per host)."""
    store.register_sources(sources)

    def one(source: Source) -> Outcome:
        outcome = harvest_source(store, source, fetcher, now=now)
        if on_done:
            on_done(outcome)
        return outcome

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return list(pool.map(one, sources))


def feed_publisher_id(url: str) -> str:
    """The publisher id of a feed that names none: its address, unique across regions, written
    the same whether registered with http or https, upper-case host, default port or fragment,
    so ids and calendar UIDs stay while the feed stays at its address."""
    parts = urlsplit(url)
    port = "" if parts.port in (None, 80, 443) else f":{parts.port}"
    query = f"?{parts.query}" if parts.query else ""
    return f"https://{(parts.hostname or '').lower()}{port}{parts.path or '/'}{query}"


def _check_owner(store: Store, source: Source, publisher_id: str) -> None:
    """A feed may not publish under a publisher id another source already publishes under: its
    records would join, and could take over, that publisher's entries."""
    owner = store.publisher_owner(publisher_id)
    if owner and owner != source.id:
        raise HarvestFailure("invalid", f"{source.url}: the feed names the publisher id {publisher_id!r}, which the source "
                                        f"{owner!r} already publishes under; each publisher needs its own id (publisher.id)")


def _leave_out_echoes(store: Store, source: Source, batch: HarvestBatch) -> None:
    """Leave out re-published records that came from a publisher another source here harvests
    directly: that source speaks for them, and a copy coming back through another directory (this
    one harvests a directory that harvests this one) would keep alive a record its publisher withdrew."""
    publishers = {p for accepted in batch.records for p in _origins(accepted.record)}
    elsewhere = {p for p in publishers if store.publisher_owner(p) not in (None, source.id)}
    batch.records = [a for a in batch.records if not _origins(a.record) & elsewhere]


def _origins(record: dict) -> set[str]:
    """The publishers a re-published record came from, by its provenance."""
    provenance = record.get("provenance") if isinstance(record.get("provenance"), list) else []
    return {p["publisher"] for p in provenance if isinstance(p, dict) and isinstance(p.get("publisher"), str)}


def _record_failure(store: Store, source: Source, state: SourceState, failure: HarvestFailure,
                    now: datetime, duration: float, holder: str | None) -> Outcome:
    state.attempted(now, failure.http_status, None, duration)
    state.failed(now, source.interval, failure.error_class, str(failure), failure.retry_after)
    store.save_state(state, holder=holder)
    return Outcome(source.id, "failed", message=str(failure), error_class=failure.error_class)


def _record_unstored(store: Store, source: Source, exc: Exception, now: datetime, duration: float,
                     holder: str | None) -> Outcome:
    """The database failed during the harvest (a restart, a lost connection): say so on the source
    once the database answers again. The state is read afresh, so the validators of a feed that was
    not stored are not kept and the next harvest reads it in full."""
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    failure = HarvestFailure("database", f"{source.url}: the harvest could not be finished because the directory's database "
                                         f"{store.describe()} did not answer ({reason}); the last good data stays, "
                                         "and the harvest is tried again within minutes")
    waited = 0.0
    while True:  # a restart takes seconds: wait that long to say what happened on the source
        try:
            return _record_failure(store, source, store.source_state(source.id), failure, now, duration, holder)
        except DATABASE_ERRORS:
            if waited >= DATABASE_PATIENCE:
                raise
            time.sleep(1.0)
            waited += 1.0


# --- fetch -------------------------------------------------------------------------------

def _failure(exc: fetch.FetchError) -> HarvestFailure:
    """A fetch error as a harvest failure of the same class."""
    if isinstance(exc, fetch.HTTPStatusError):
        return HarvestFailure(exc.error_class, str(exc), exc.retry_after, exc.status)
    return HarvestFailure(exc.error_class, str(exc))


def _fetch_first(source: Source, fetcher: fetch.Fetcher, state: SourceState) -> _Fetched:
    """The first page, conditionally where the last harvest left validators (single-page feeds)."""
    if source.is_local:
        return _read_local(source, fetcher)
    try:
        first = fetcher.get(source.url, allow_private=source.allow_private, etag=state.etag, last_modified=state.last_modified)
    except fetch.FetchError as exc:
        raise _failure(exc) from exc
    if first.not_modified:
        return _Fetched([], 304, first.etag, first.last_modified, not_modified=True)
    return _Fetched([(first.url, first.body, first.headers.get("Content-Type", ""))], first.status, first.etag, first.last_modified)


def _read_local(source: Source, fetcher: fetch.Fetcher) -> _Fetched:
    return _Fetched([_read_file(source, source.url, fetcher.max_bytes)], None)


def _read_file(source: Source, path: str, max_bytes: int) -> tuple[str, bytes, str]:
    """A local feed file, or a page it links to in the same folder (a feed's links must not
    lead anywhere else on this machine), within the size cap of fetched feeds."""
    folder = Path(source.url).resolve().parent
    target = Path(path).resolve()
    if not target.is_relative_to(folder):
        raise HarvestFailure("blocked", f"{path}: a local feed may link only to files in its own folder, {folder}")
    try:
        if target.stat().st_size > max_bytes:
            raise HarvestFailure("too-large", f"{path}: the file is larger than {max_bytes // (1024 * 1024)} MB; split the feed into pages")
        return str(target), target.read_bytes(), ""
    except OSError as exc:
        raise HarvestFailure("not-found", f"{path}: cannot read the file ({exc.strerror})") from exc


def _get_page(source: Source, fetcher: fetch.Fetcher, url: str) -> tuple[str, bytes, str]:
    if source.is_local:
        return _read_file(source, url, fetcher.max_bytes)
    response = fetcher.get(url, allow_private=source.allow_private)
    return response.url, response.body, response.headers.get("Content-Type", "")


# --- parse and validate ----------------------------------------------------------------------

def _batch(source: Source, pages: list[Parsed], feed_url: str, today: date) -> HarvestBatch:
    """Validate every record of every page and sort them into accepted and rejected."""
    first = pages[0]
    publisher = first.publisher or _publisher_of(source)
    publisher_id = publisher.get("id")
    if not isinstance(publisher_id, str) or not publisher_id:
        raise HarvestFailure("invalid", f"{source.url}: the feed names no publisher id, so its records cannot be told apart "
                                        "from other publishers' (add publisher.id)")
    document = {"publisher": publisher, "default_language": first.default_language or "de",
                "timezone": first.timezone or "Europe/Berlin"}
    for list_name in RECORD_LISTS:
        document[list_name] = [record for page in pages for record in getattr(page, list_name)]
    context = validate.context_for(document, today=today)
    batch = HarvestBatch(feed_url, publisher_id, document["timezone"],
                         posts=[post for page in pages for post in page.posts])
    lenient = first.publisher is None  # not a Wegweiser JSON feed
    for finding in validate.check_records(document, context):
        if lenient:
            finding = replace(finding, problems=[validate.without_category_is_a_warning(p) for p in finding.problems])
        _sort(finding, publisher_id, batch)
    batch.rejections += [Rejection("", None, [p.as_json(source.url)]) for page in pages for p in page.problems if p.is_error]
    return batch


def _sort(finding: validate.RecordFinding, publisher_id: str, batch: HarvestBatch) -> None:
    record, kind = finding.record, RECORD_LISTS[finding.list_name]
    local_id = record.get("id") if isinstance(record, dict) and isinstance(record.get("id"), str) else None
    if not finding.is_valid:
        problems = [p.under(finding.pointer).as_json(batch.feed_url) for p in finding.problems]
        batch.rejections.append(Rejection(finding.pointer, local_id, problems))
        if local_id:
            batch.kept.append(original_global_id(record, publisher_id))
    elif record.get("deleted") is True:
        batch.tombstones.append(original_global_id(record, publisher_id))
    else:
        batch.records.append(AcceptedRecord(kind, record, original_global_id(record, publisher_id)))


def _parse_pages(source: Source, fetched: _Fetched, fetcher: fetch.Fetcher) -> list[Parsed]:
    """Parse the first page, discover a feed behind a homepage, and follow ``next`` links."""
    url, body, content_type = fetched.pages[0]
    page = _parse_one(source, url, body, content_type)
    if page.record_count == 0 and page.alternates:
        url, page = _discover(source, fetcher, page.alternates, fetched)
    pages, seen = [page], {url}
    while page.next_url and page.next_url not in seen and len(pages) < MAX_PAGES:
        seen.add(page.next_url)
        url, body, content_type = _follow(source, fetcher, page.next_url, fetched)
        page = _parse_one(source, url, body, content_type)
        pages.append(page)
    if len(fetched.pages) > 1:
        fetched.etag = fetched.last_modified = None  # a later page may change while the first stays the same
    return pages


def _discover(source: Source, fetcher: fetch.Fetcher, alternates: list[str], fetched: _Fetched) -> tuple[str, Parsed]:
    """The first feed a homepage links to that reads as one; a page often links several
    (a WordPress site also links its REST API, which is JSON but no feed)."""
    reasons = []
    for link in alternates[:MAX_ALTERNATES]:
        try:
            url, body, content_type = _follow(source, fetcher, link, fetched)
            page = _parse_one(source, url, body, content_type)
        except HarvestFailure as failure:
            reasons.append(str(failure))
        else:
            if page.record_count or page.next_url:
                return url, page
            reasons.append(f"{url}: no records")
        fetched.pages = fetched.pages[:1]
    raise HarvestFailure("parse", f"{source.url}: the page links to feeds, but none could be read: {'; '.join(reasons)}")


def _follow(source: Source, fetcher: fetch.Fetcher, url: str, fetched: _Fetched) -> tuple[str, bytes, str]:
    try:
        page = _get_page(source, fetcher, url)
    except fetch.FetchError as exc:
        raise _failure(exc) from exc
    if fetched.size + len(page[1]) > MAX_FEED_BYTES:
        raise HarvestFailure("too-large", f"{url}: the pages of this feed add up to more than "
                                          f"{MAX_FEED_BYTES // (1024 * 1024)} MB; publish fewer or smaller pages")
    fetched.pages.append(page)
    return page


def _parse_one(source: Source, url: str, body: bytes, content_type: str) -> Parsed:
    try:
        fmt = source.format or parse.detect(body, content_type, url)
        return parse.parse(body, fmt, url=url, publisher=_publisher_of(source))
    except parse.ParseError as exc:
        raise HarvestFailure("parse", f"{url}: {exc}") from exc


def _publisher_of(source: Source) -> dict:
    """The publisher of a feed that names none (iCal, RSS, HTML, CSV), made from its registry entry."""
    publisher_id = f"local.{source.id.replace('_', '--')}" if source.is_local else feed_publisher_id(source.url)
    town = {"name": source.town, **({"ags": source.ags} if source.ags else {})}
    return {"id": publisher_id, "name": {"de": source.name}, "kind": source.kind, "town": town}
