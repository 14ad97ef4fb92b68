"""Fetch a feed from an untrusted server: http(s) only, every address checked after DNS resolution
on every redirect hop (by the connections of ``aggregator.guard``), a deadline for the whole request,
a cap on the decoded body enforced while streaming (gzip bombs and endless bodies stop early),
conditional GET, and never more than a few requests to one host at the same moment."""
import email.utils
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cache
from http import HTTPStatus
from urllib.parse import urljoin, urlsplit

import urllib3
from urllib3.exceptions import (ConnectTimeoutError, DecodeError, NameResolutionError, NewConnectionError,
                                ProtocolError, ReadTimeoutError, SSLError)

from aggregator.guard import (DEADLINE, AddressPolicy, CheckedPoolManager, NonPublicHost, is_blocked, only_link_local_blocked,
                              tls_context)
from wegweiser import __version__

USER_AGENT = f"Wegweiser/{__version__}"
MAX_BYTES = 20 * 1024 * 1024
MAX_REDIRECTS = 5
CONNECT_TIMEOUT = 10.0
TOTAL_TIMEOUT = 20.0
CHUNK = 64 * 1024
HOST_POOLS = 64   # connection pools kept at once, one per host
DEFAULT_PORTS = {"http": 80, "https": 443}
REDIRECTS = (301, 302, 303, 307, 308)
# Only what urllib3 decodes with a bounded output per read; anything else would arrive undecoded.
ACCEPT_ENCODING = "gzip, deflate"


class FetchError(Exception):
    """The feed could not be fetched; the message names the URL and says why, for the publisher."""

    error_class = "network"

    def __init__(self, url: str, reason: str):
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


class BlockedAddress(FetchError):
    """The URL is not http(s), or leads to a loopback, private, link-local, CGNAT or metadata address."""

    error_class = "blocked"


class TooLarge(FetchError):
    """The decoded body passed the size cap."""

    error_class = "too-large"


class TooManyRedirects(FetchError):
    """The redirects went on for more hops than allowed, or in a circle."""

    error_class = "redirects"


class FetchTimeout(FetchError):
    """The server did not accept the connection, or did not send the whole answer, in time."""

    error_class = "timeout"


class HTTPStatusError(FetchError):
    """The server answered with a status other than 200 or 304."""

    def __init__(self, url: str, status: int, retry_after: float | None = None):
        super().__init__(url, _explain_status(status, retry_after))
        self.status = status
        self.retry_after = retry_after

    @property
    def error_class(self) -> str:
        """not-found, rate-limited, client-error or server-error: what the harvester backs off by."""
        if self.status in (404, 410):
            return "not-found"
        if self.status == 429 or (self.status == 503 and self.retry_after is not None):
            return "rate-limited"
        return "client-error" if 400 <= self.status < 500 else "server-error"


@dataclass(frozen=True)
class Response:
    """A feed as fetched, or the news that it is unchanged since the ETag or date sent."""

    url: str                  # final URL, after redirects
    status: int               # 200, or 304 when unchanged (also for a 200 carrying the ETag sent)
    headers: dict[str, str]   # names in lower case
    body: bytes               # b"" when unchanged
    etag: str | None          # the server's, or the one sent when a 304 did not repeat it
    last_modified: str | None
    elapsed: float            # seconds

    @property
    def not_modified(self) -> bool:
        """True when the feed has not changed since the last fetch."""
        return self.status == 304


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date); None if absent or unreadable."""
    value = (value or "").strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


class Fetcher:
    """Fetches feeds for many threads at once over shared connection pools, never more than
    ``per_host`` requests to one host at the same moment. ``blocked`` is the address policy for
    sources without allow_private: true for a resolved address that must not be reached."""

    def __init__(self, *, user_agent: str = USER_AGENT, contact: str | None = None, max_bytes: int = MAX_BYTES,
                 connect_timeout: float = CONNECT_TIMEOUT, total_timeout: float = TOTAL_TIMEOUT,
                 max_redirects: int = MAX_REDIRECTS, per_host: int = 1, blocked: AddressPolicy = is_blocked):
        self.user_agent = f"{user_agent} (+{contact})" if contact else user_agent
        self.max_bytes = max_bytes
        self.connect_timeout = connect_timeout
        self.total_timeout = total_timeout
        self.max_redirects = max_redirects
        self.per_host = per_host
        tls = tls_context()
        # Two sets of pools, so that a connection opened for a source allowed on a private
        # network is never reused for one that is not.
        self._managers = {allowed: CheckedPoolManager(blocked=only_link_local_blocked if allowed else blocked,
                                                      num_pools=HOST_POOLS, maxsize=per_host, block=False,
                                                      ssl_context=tls)
                          for allowed in (False, True)}
        self._host_slots: dict[str, threading.Semaphore] = {}
        self._host_slots_lock = threading.Lock()

    def get(self, url: str, *, allow_private: bool = False, etag: str | None = None,
            last_modified: str | None = None) -> Response:
        """GET ``url``, following redirects; raises a FetchError that says what went wrong."""
        _require_http(url)
        headers = self._request_headers(etag, last_modified)
        visited = [url]
        deadline = None
        try:
            while True:
                with self._host_slot(url, deadline):
                    deadline = deadline or self._start_deadline()
                    try:
                        raw = self._send(self._managers[allow_private], url, headers, deadline)
                        location = raw.headers.get("Location") if raw.status in REDIRECTS else None
                        if not location:
                            return self._answer(raw, url, etag, last_modified, deadline)
                        _discard(raw)
                    except urllib3.exceptions.HTTPError as exc:
                        raise self._network_error(url, exc) from exc
                url = self._next_hop(visited, urljoin(url, location))
        finally:
            DEADLINE.at = None

    def _request_headers(self, etag: str | None, last_modified: str | None) -> dict[str, str]:
        """User-Agent, the encodings decoded under the cap, and the validators of a conditional GET."""
        headers = {"User-Agent": self.user_agent, "Accept-Encoding": ACCEPT_ENCODING}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        return headers

    @contextmanager
    def _host_slot(self, url: str, deadline: float | None):
        """Hold one of the host's ``per_host`` slots; a redirect hop waits for one only until the deadline."""
        parts = urlsplit(url)
        key = f"{parts.hostname}:{parts.port or DEFAULT_PORTS[parts.scheme.lower()]}"
        with self._host_slots_lock:
            slot = self._host_slots.setdefault(key, threading.Semaphore(self.per_host))
        wait = None if deadline is None else max(0.0, deadline - time.monotonic())
        if not slot.acquire(timeout=wait):
            raise FetchTimeout(url, f"other requests to {parts.hostname} took all of the "
                               f"{_duration(self.total_timeout)} this one may take")
        try:
            yield
        finally:
            slot.release()

    def _start_deadline(self) -> float:
        """Start the clock of the whole request; waiting for a host's turn does not count against it."""
        DEADLINE.at = time.monotonic() + self.total_timeout
        return DEADLINE.at

    def _send(self, manager: urllib3.PoolManager, url: str, headers: dict[str, str], deadline: float):
        """Send the request and read the answer's head, connecting only to allowed addresses."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise self._timed_out(url)
        timeout = urllib3.Timeout(connect=min(self.connect_timeout, left), read=left)
        try:
            return manager.urlopen("GET", url, headers=headers, redirect=False, retries=False,
                                   preload_content=False, timeout=timeout)
        except NonPublicHost as exc:
            leads_to = "is" if exc.addresses == [exc.host] else f"leads to {', '.join(exc.addresses)},"
            raise BlockedAddress(url, f"{exc.host} {leads_to} an address on a local or private network; the "
                                 "aggregator fetches only from the public internet (a source meant to be internal "
                                 "needs allow_private = true in the registry)") from None

    def _answer(self, raw, url: str, etag: str | None, last_modified: str | None, deadline: float) -> Response:
        """The Response for a final answer, or the HTTPStatusError it stands for."""
        headers = {name.lower(): value for name, value in raw.headers.items()}
        got_etag, got_last_modified = headers.get("etag"), headers.get("last-modified")
        conditional = bool(etag or last_modified)
        if (raw.status == 304 and conditional) or (raw.status == 200 and _same_etag(got_etag, etag)):
            _discard(raw)
            return Response(url, 304, headers, b"", got_etag or etag, got_last_modified or last_modified,
                            self._elapsed(deadline))
        if raw.status != 200:
            _discard(raw)
            raise HTTPStatusError(url, raw.status, parse_retry_after(headers.get("retry-after")))
        body = self._read_body(raw, url, deadline)
        return Response(url, 200, headers, body, got_etag, got_last_modified, self._elapsed(deadline))

    def _elapsed(self, deadline: float) -> float:
        """Seconds since the request's clock started."""
        return time.monotonic() - (deadline - self.total_timeout)

    def _read_body(self, raw, url: str, deadline: float) -> bytes:
        """The decoded body, read as it arrives and given up as soon as it passes the cap or the deadline."""
        chunks, size = [], 0
        try:
            declared = raw.length_remaining
            if declared and declared > self.max_bytes and not raw.headers.get("Content-Encoding"):
                raise self._too_large(url, f"the server announces {_size(declared)}, more than the "
                                      f"{_size(self.max_bytes)} the aggregator reads from one address")
            # read1 returns what has arrived (at most CHUNK decoded bytes), so neither a drip nor a
            # bomb keeps one read going past the checks below. Socket reads stop at the deadline by
            # themselves; the clock is checked here too for the time spent decoding what has arrived.
            while chunk := raw.read1(CHUNK):
                size += len(chunk)
                if size > self.max_bytes:
                    raise self._too_large(url, f"the answer is larger than the {_size(self.max_bytes)} the "
                                          "aggregator reads from one address (counted after decompression)")
                if time.monotonic() > deadline:
                    raise self._timed_out(url)
                chunks.append(chunk)
        except BaseException:
            _discard(raw)
            raise
        raw.release_conn()
        return b"".join(chunks)

    def _next_hop(self, visited: list[str], target: str) -> str:
        """The redirect's target, unless it is not http(s) or the redirects go in a circle or on for too long."""
        try:
            _require_http(target)
        except FetchError as exc:
            raise type(exc)(visited[-1], f"the server redirects to {target}: {exc.reason}") from None
        if target in visited:
            raise TooManyRedirects(visited[0], f"the redirects go round in a circle: {target} was already visited; "
                                   "the publisher's web server needs its forwarding fixed")
        if len(visited) > self.max_redirects:
            raise TooManyRedirects(visited[0], f"the server redirects more than {self.max_redirects} times "
                                   f"(last to {target}); register the address the redirects end at")
        visited.append(target)
        return target

    def _too_large(self, url: str, problem: str) -> TooLarge:
        return TooLarge(url, f"{problem}; the publisher should split the feed into pages linked by \"next\"")

    def _timed_out(self, url: str) -> FetchTimeout:
        return FetchTimeout(url, f"the server did not send the whole answer within {_duration(self.total_timeout)}; "
                            "it is very slow or overloaded")

    def _network_error(self, url: str, exc: urllib3.exceptions.HTTPError) -> FetchError:
        """The FetchError, in words for the publisher, for what went wrong on the network."""
        host = urlsplit(url).hostname
        if isinstance(exc, NameResolutionError):
            return FetchError(url, f"the server name {host} does not exist (is the address spelled right?)")
        if isinstance(exc, NewConnectionError):
            return FetchError(url, f"{host} refused the connection (is the web server running?)")
        if isinstance(exc, ConnectTimeoutError):
            return FetchTimeout(url, f"{host} did not accept a connection within {_duration(self.connect_timeout)}")
        if isinstance(exc, ReadTimeoutError):
            return self._timed_out(url)
        if isinstance(exc, SSLError):
            return FetchError(url, f"the secure connection failed ({exc.__context__ or exc}); the site's "
                              "certificate may have expired or belong to another address")
        if isinstance(exc, DecodeError):
            return FetchError(url, "the server sent a compressed body that cannot be decompressed")
        if isinstance(exc, ProtocolError):
            return FetchError(url, "the connection broke off before the whole answer arrived")
        return FetchError(url, f"the request failed ({exc})")


def _require_http(url: str) -> None:
    """Raise unless ``url`` is an http(s) address with a host (feedparser and others also read file: URLs)."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in DEFAULT_PORTS:
        raise BlockedAddress(url, f"only http and https addresses are fetched, not {parts.scheme or 'a local path'}")
    try:
        parts.port
    except ValueError:
        raise FetchError(url, "the port number in the address is not valid") from None
    if not parts.hostname:
        raise FetchError(url, "the address names no server")


def _same_etag(received: str | None, sent: str | None) -> bool:
    """Weak comparison, as for If-None-Match: W/"x" and "x" name the same version."""
    return bool(received and sent) and received.removeprefix("W/") == sent.removeprefix("W/")


def _discard(raw) -> None:
    """Close an answer whose body is not read to the end: draining it could take the whole deadline."""
    raw.close()
    raw.release_conn()


def _size(count: int) -> str:
    """A byte count as people say it."""
    if count >= 1024 * 1024:
        return f"{count / (1024 * 1024):.0f} MB"
    return f"{count / 1024:.0f} KB"


def _duration(seconds: float) -> str:
    """A span of time as people say it: seconds, minutes or hours."""
    for unit, length in (("hour", 3600), ("minute", 60)):
        if seconds >= 2 * length:
            return f"{seconds / length:.0f} {unit}s"
    return f"{seconds:g} second" + ("" if seconds == 1 else "s")


def _explain_status(status: int, retry_after: float | None) -> str:
    """What an HTTP status means for the feed, in words for the publisher."""
    try:
        answered = f"the server answered HTTP {status} {HTTPStatus(status).phrase}"
    except ValueError:
        answered = f"the server answered HTTP {status}"
    wait = "" if retry_after is None else f"; it asks to wait {_duration(retry_after)} before trying again"
    if status == 404:
        return f"{answered}: the feed is not at this address (has it moved?)"
    if status == 410:
        return f"{answered}: the publisher has removed the feed from this address"
    if status in (401, 403):
        return f"{answered}: the feed is not public; it must be readable without a login"
    if status == 429:
        return f"{answered}: the aggregator should come less often{wait}"
    if status >= 500:
        return (f"{answered}: the server has a problem of its own{wait}; if it lasts, the publisher's web host "
                "can fix it")
    if status >= 400:
        return f"{answered}: the server refused the request"
    return f"{answered} instead of the feed"


@cache
def _shared_fetcher() -> Fetcher:
    """One Fetcher with the default limits for the whole process."""
    return Fetcher()


def fetch(url: str, *, allow_private: bool = False) -> Response:
    """GET ``url`` with the default limits, for a one-off fetch such as checking a feed by hand."""
    return _shared_fetcher().get(url, allow_private=allow_private)
