"""Connections to untrusted servers that reach only allowed addresses and keep the request's deadline.

What this guarantees: every connection a pool opens resolves the host itself, asks the address policy
about each address found, and connects only to one the policy allows, on the socket made from that very
address. The check therefore runs after DNS resolution and before connecting, for every connection: every
redirect hop, every new connection to a host already seen, and a name re-pointed at a private address
between two connections (DNS rebinding) is checked again. Reads on the socket, TLS handshake included,
never wait past the deadline the request set on ``DEADLINE``."""
import ipaddress
import socket
import ssl
import threading
import time
from typing import Callable

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util.connection import allowed_gai_family
from urllib3.util.ssl_ import create_urllib3_context

AddressPolicy = Callable[[str], bool]   # True for an address that must not be reached

# An IPv6 address that carries an IPv4 address reaches that IPv4 host (DNS64 resolvers hand these out).
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def is_blocked(address: str) -> bool:
    """True for addresses a fetch for a public source must never reach."""
    ip = ipaddress.ip_address(address)
    if ip.version == 6:
        embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF) if ip in _NAT64 else ip.ipv4_mapped or ip.sixtofour
        if embedded:
            return is_blocked(str(embedded))
        if ip.is_site_local:
            return True
    # is_global is False for loopback, RFC 1918, link-local (169.254.169.254 included), CGNAT,
    # unspecified and the special-purpose ranges, but True for some multicast and reserved ones.
    return not ip.is_global or ip.is_multicast or ip.is_reserved


def only_link_local_blocked(address: str) -> bool:
    """The policy for a source with allow_private: loopback and private networks may be reached,
    but never link-local addresses, where cloud metadata services answer (169.254.169.254)."""
    ip = ipaddress.ip_address(address)
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_link_local


class Deadline(threading.local):
    """When the request this thread is making must be over (monotonic clock); None between requests."""

    at: float | None = None

    def left(self, limit: float | None) -> float | None:
        """The shorter of ``limit`` and the time left; raises TimeoutError once the deadline has passed."""
        if self.at is None:
            return limit
        left = self.at - time.monotonic()
        if left <= 0:
            raise TimeoutError("the deadline of the request has passed")
        return left if limit is None else min(limit, left)


DEADLINE = Deadline()


class _DeadlineReads:
    """Socket reads that never wait past the request's deadline: a server dripping one byte a
    second resets a per-read timeout forever, in the headers as much as in the body."""

    def recv_into(self, *args, **kwargs) -> int:
        timeout = self.gettimeout()
        self.settimeout(DEADLINE.left(timeout))
        try:
            return super().recv_into(*args, **kwargs)
        finally:
            self.settimeout(timeout)


class _DeadlineSocket(_DeadlineReads, socket.socket):
    """A TCP socket that keeps the request's deadline."""


class _DeadlineSSLSocket(_DeadlineReads, ssl.SSLSocket):
    """A TLS socket that keeps the request's deadline (the handshake is bounded as a whole by the
    socket's timeout, which the connection sets to what is left of the connect time)."""


class NonPublicHost(Exception):
    """Raised inside a connection: every address the host resolves to is blocked."""

    def __init__(self, host: str, addresses: list[str]):
        super().__init__(host, addresses)
        self.host = host
        self.addresses = addresses


class _CheckedConnect:
    """Resolve the host, drop the addresses the policy blocks, connect to one that is left. Done
    here, inside the connection, every redirect hop is checked and a name re-pointed between a
    check and the connect cannot slip through; the host name stays for SNI, certificate and Host."""

    def __init__(self, *args, blocked: AddressPolicy, **kwargs):
        super().__init__(*args, **kwargs)
        self.blocked = blocked

    def _new_conn(self) -> socket.socket:
        try:
            found = socket.getaddrinfo(self._dns_host, self.port, allowed_gai_family(), socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc
        allowed = [info for info in found if not self.blocked(info[4][0])]
        if not allowed:
            raise NonPublicHost(self.host, sorted({info[4][0] for info in found}))
        return self._connect_first(allowed)

    def _connect_first(self, candidates: list) -> socket.socket:
        """A socket connected to the first candidate address that accepts in time."""
        failure: OSError | None = None
        for family, kind, proto, _, address in candidates:
            sock = _DeadlineSocket(family, kind, proto)
            try:
                for option in self.socket_options or ():
                    sock.setsockopt(*option)
                sock.settimeout(DEADLINE.left(self.timeout))
                sock.connect(address)
                return sock
            except OSError as exc:
                sock.close()
                failure = exc
        if isinstance(failure, TimeoutError):
            raise ConnectTimeoutError(self, f"connection to {self.host} timed out")
        raise NewConnectionError(self, f"failed to connect: {failure}")


class _CheckedHTTPConnection(_CheckedConnect, HTTPConnection):
    """A plain connection that connects only to allowed addresses."""


class _CheckedHTTPSConnection(_CheckedConnect, HTTPSConnection):
    """A TLS connection that connects only to allowed addresses."""

    def connect(self) -> None:
        try:
            super().connect()
        except TimeoutError as exc:
            # The TLS handshake ran out of the connect time; urllib3 would call it a read timeout.
            raise ConnectTimeoutError(self, f"the TLS handshake with {self.host} timed out") from exc


class _CheckedHTTPPool(HTTPConnectionPool):
    """A pool of plain connections to one host, each checked."""

    ConnectionCls = _CheckedHTTPConnection


class _CheckedHTTPSPool(HTTPSConnectionPool):
    """A pool of TLS connections to one host, each checked."""

    ConnectionCls = _CheckedHTTPSConnection


class CheckedPoolManager(urllib3.PoolManager):
    """Connection pools whose connections reach only the addresses ``blocked`` lets through; a
    connection to a host it blocks entirely raises NonPublicHost."""

    def __init__(self, *, blocked: AddressPolicy, **kwargs):
        super().__init__(**kwargs)
        self.blocked = blocked
        self.pool_classes_by_scheme = {"http": _CheckedHTTPPool, "https": _CheckedHTTPSPool}

    def _new_pool(self, scheme, host, port, request_context=None):
        # The policy goes to the pool here, not through connection_pool_kw: urllib3 makes pool keys
        # from those and knows no key for it.
        context = dict(request_context or self.connection_pool_kw, blocked=self.blocked)
        return super()._new_pool(scheme, host, port, context)


def tls_context() -> ssl.SSLContext:
    """Certificate-checking TLS (the system's CAs) whose sockets keep the request's deadline."""
    context = create_urllib3_context()
    context.load_default_certs()
    context.sslsocket_class = _DeadlineSSLSocket
    return context
