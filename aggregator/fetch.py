"""Fetch a feed from an untrusted server: http(s) only, every redirect hop checked, private
addresses refused unless allowed, time limits, and a cap on the decoded body enforced while
streaming, so that gzip bombs and endless bodies stop early."""
import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import urllib3

USER_AGENT = "Wegweiser/0.1 (feed validator and aggregator)"
MAX_BYTES = 20 * 1024 * 1024
MAX_REDIRECTS = 5
CONNECT_TIMEOUT = 10.0
TOTAL_TIMEOUT = 20.0
CHUNK = 64 * 1024
# Besides private ranges: CGNAT (100.64/10) is not flagged private by ipaddress, and
# 169.254.169.254 (cloud metadata) sits in the link-local range.
_EXTRA_BLOCKED = (ipaddress.ip_network("100.64.0.0/10"),)


class FetchError(Exception):
    """A feed could not be fetched; the message says why in words for the publisher."""


class BlockedAddress(FetchError):
    """The URL resolves to a loopback, private, link-local, CGNAT or metadata address."""


class TooLarge(FetchError):
    """The decoded body passed the size cap."""


class TooManyRedirects(FetchError):
    """More than the allowed number of redirects, or a redirect loop."""


class FetchTimeout(FetchError):
    """The server did not connect or answer in time."""


@dataclass(frozen=True)
class Response:
    """A fetched body with the URL it finally came from."""

    url: str
    status: int
    headers: dict[str, str]
    body: bytes


def is_blocked(address: str) -> bool:
    """True for addresses a public fetcher must never reach."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return (not ip.is_global) or any(ip in net for net in _EXTRA_BLOCKED)


def _check_target(url: str, allow_private: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise FetchError(f"only http and https addresses can be fetched, not {parts.scheme or 'a path'}: {url}")
    if not parts.hostname:
        raise FetchError(f"the address has no host name: {url}")
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80), type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise FetchError(f"the host name {parts.hostname} does not resolve ({exc.strerror})") from exc
    for *_, sockaddr in infos:
        if is_blocked(sockaddr[0]):
            raise BlockedAddress(f"{parts.hostname} resolves to the non-public address {sockaddr[0]}, which is not fetched")


def fetch(url: str, *, allow_private: bool = False, max_bytes: int = MAX_BYTES,
          headers: dict[str, str] | None = None, pool: urllib3.PoolManager | None = None) -> Response:
    """GET ``url`` following at most MAX_REDIRECTS redirects, each hop checked before connecting."""
    pool = pool or urllib3.PoolManager()
    timeout = urllib3.Timeout(connect=CONNECT_TIMEOUT, read=TOTAL_TIMEOUT, total=TOTAL_TIMEOUT)
    seen = []
    for _ in range(MAX_REDIRECTS + 1):
        _check_target(url, allow_private)
        seen.append(url)
        try:
            raw = pool.request("GET", url, headers={"User-Agent": USER_AGENT, **(headers or {})},
                               redirect=False, preload_content=False, timeout=timeout, retries=False)
        except (urllib3.exceptions.TimeoutError, urllib3.exceptions.ProtocolError) as exc:
            raise FetchTimeout(f"{url}: the server did not answer in time or broke the connection ({type(exc).__name__})") from exc
        except urllib3.exceptions.HTTPError as exc:
            raise FetchError(f"{url}: cannot connect ({exc})") from exc
        location = raw.headers.get("Location")
        if raw.status in (301, 302, 303, 307, 308) and location:
            raw.release_conn()
            url = urljoin(url, location)
            if url in seen:
                raise TooManyRedirects(f"redirect loop: {url} was already visited")
            continue
        return Response(url, raw.status, dict(raw.headers), _read_capped(raw, max_bytes, url))
    raise TooManyRedirects(f"more than {MAX_REDIRECTS} redirects starting at {seen[0]}")


def _read_capped(raw, max_bytes: int, url: str) -> bytes:
    """Read the decoded body as it arrives, stopping as soon as it passes the size cap or the
    deadline: a read timeout alone never fires for a server that drips a byte a second."""
    chunks, size = [], 0
    deadline = time.monotonic() + TOTAL_TIMEOUT
    try:
        while chunk := raw.read1(CHUNK, decode_content=True):
            if time.monotonic() > deadline:
                raise FetchTimeout(f"{url}: the body did not arrive within {TOTAL_TIMEOUT:.0f} seconds")
            size += len(chunk)
            if size > max_bytes:
                raise TooLarge(f"{url}: the body is larger than {max_bytes // (1024 * 1024)} MB (after decompression); split the feed into pages")
            chunks.append(chunk)
    except urllib3.exceptions.TimeoutError as exc:
        raise FetchTimeout(f"{url}: the body did not arrive within {TOTAL_TIMEOUT:.0f} seconds") from exc
    except urllib3.exceptions.DecodeError as exc:
        raise FetchError(f"{url}: the compressed body is corrupt ({exc})") from exc
    finally:
        raw.release_conn()
    return b"".join(chunks)
