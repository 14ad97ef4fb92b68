"""A raw-socket HTTP server on 127.0.0.1 for hostile behaviour: each route writes whatever bytes it
likes (slow, endless, truncated, compressed into a bomb), and the server counts what happened.

    with HostileServer({"/feed.json": answer(200, b"{}"), "/slow": drip(interval=0.1)}) as server:
        fetcher.get(server.url("/slow"), allow_private=True)
"""
import gzip
import socket
import ssl
import struct
import threading
import time
import zlib
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import formatdate
from functools import cache
from http import HTTPStatus
from typing import Callable
from urllib.parse import urlsplit

HEAD_LIMIT = 64 * 1024


class ClientGone(Exception):
    """The client closed the connection, or the server is stopping."""


@dataclass
class Request:
    """A request as the server read it."""

    method: str
    path: str
    headers: dict[str, str]   # names in lower case


@dataclass
class Exchange:
    """One connection: the request read on it, and the means to answer at any pace."""

    sock: socket.socket
    stopping: threading.Event
    request: Request | None = None
    keep_alive: bool = False   # a route sets it after a complete answer to serve the next request
    sent: int = 0

    def send(self, data: bytes) -> None:
        """Write bytes; raises ClientGone when the client left or the server stops."""
        if self.stopping.is_set():
            raise ClientGone()
        try:
            self.sock.sendall(data)
        except OSError as exc:
            raise ClientGone() from exc
        self.sent += len(data)

    def pause(self, seconds: float) -> None:
        """Wait; raises ClientGone when the server stops meanwhile."""
        if self.stopping.wait(seconds):
            raise ClientGone()


Route = Callable[[Exchange], None]


class HostileServer:
    """Serve ``routes`` (path → route, query ignored; others get 404) on 127.0.0.1, one thread per
    connection, over TLS when given a server-side ``tls`` context. ``on_connect`` instead takes
    every connection before any request is read (for misbehaviour below HTTP, such as a dripping
    TLS handshake)."""

    def __init__(self, routes: dict[str, Route] | None = None, *, on_connect: Route | None = None,
                 tls: ssl.SSLContext | None = None):
        self.routes = routes or {}
        self.on_connect = on_connect
        self.tls = tls
        self.requests: list[Request] = []
        self.connections = 0
        self.bytes_sent = 0
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=64)
        self._listener.settimeout(0.05)  # so that the accept loop notices when the server stops
        self.port = self._listener.getsockname()[1]

    def url(self, path: str = "/", host: str = "127.0.0.1", scheme: str = "http") -> str:
        """The address of ``path`` on this server, under the given host name."""
        return f"{scheme}://{host}:{self.port}{path}"

    def __enter__(self) -> "HostileServer":
        self._start(self._accept_loop)
        return self

    def __exit__(self, *exc_info) -> None:
        self._stopping.set()
        self._listener.close()
        with self._lock:
            for sock in self._open:
                _shut(sock)
        for thread in list(self._threads):
            thread.join(timeout=5)

    def _start(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self._open.add(sock)
            self._start(self._serve, sock)

    def _serve(self, sock: socket.socket) -> None:
        exchange = Exchange(sock, self._stopping)
        try:
            if self.tls:
                exchange.sock = self._wrap(sock)
            if self.on_connect:
                self.on_connect(exchange)
                return
            while request := _read_request(exchange.sock):
                with self._lock:
                    self.requests.append(request)
                exchange.request, exchange.keep_alive = request, False
                self.routes.get(urlsplit(request.path).path, answer(404, b"not here"))(exchange)
                if not exchange.keep_alive:
                    return
        except (ClientGone, OSError):
            pass
        finally:
            with self._lock:
                self.bytes_sent += exchange.sent
                self._open.discard(exchange.sock)
            _shut(exchange.sock)

    def _wrap(self, sock: socket.socket) -> ssl.SSLSocket:
        """The connection with TLS set up, in place of the plain one among the open sockets."""
        sock.settimeout(5)
        wrapped = self.tls.wrap_socket(sock, server_side=True)
        with self._lock:
            self._open.discard(sock)
            self._open.add(wrapped)
        return wrapped


def _read_request(sock: socket.socket) -> Request | None:
    """The request head on ``sock``; None when the client closed or sent no proper request."""
    sock.settimeout(5)
    received = b""
    while b"\r\n\r\n" not in received:
        data = sock.recv(4096)
        if not data or len(received) > HEAD_LIMIT:
            return None
        received += data
    lines = received.split(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers = dict(line.split(":", 1) for line in lines[1:] if ":" in line)
    return Request(method, path, {name.strip().lower(): value.strip() for name, value in headers.items()})


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


def head(status: int, headers: dict[str, str] | None = None) -> bytes:
    """A status line and headers, ready to send."""
    lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def answer(status: int, body: bytes = b"", headers: dict[str, str] | None = None, keep_alive: bool = False) -> Route:
    """A route answering with a fixed status, headers and body."""
    def route(exchange: Exchange) -> None:
        connection = {"Connection": "keep-alive" if keep_alive else "close", "Content-Length": str(len(body))}
        exchange.send(head(status, {**connection, **(headers or {})}) + body)
        exchange.keep_alive = keep_alive
    return route


def retry_after(status: int, value: str) -> Route:
    """A 429 or 503 asking the client to come back later (seconds or an HTTP date)."""
    return answer(status, b"later", {"Retry-After": value})


def conditional(body: bytes, etag: str | None = None, last_modified: str | None = None) -> Route:
    """A route honouring If-None-Match and If-Modified-Since with 304, else sending ``body``."""
    validators = {"ETag": etag, "Last-Modified": last_modified}
    validators = {name: value for name, value in validators.items() if value}

    def route(exchange: Exchange) -> None:
        asked = exchange.request.headers
        unchanged = (etag and asked.get("if-none-match") == etag) or (
            last_modified and asked.get("if-modified-since") == last_modified)
        respond = answer(304, b"", validators) if unchanged else answer(200, body, validators)
        respond(exchange)
    return route


def http_date(seconds_from_now: float) -> str:
    """The HTTP date ``seconds_from_now`` seconds from now."""
    return formatdate(time.time() + seconds_from_now, usegmt=True)


def drip(size: int = 100, interval: float = 0.05) -> Route:
    """A body of ``size`` bytes, sent one byte per ``interval`` (5 seconds by default)."""
    def route(exchange: Exchange) -> None:
        exchange.send(head(200, {"Content-Length": str(size), "Connection": "close"}))
        for _ in range(size):
            exchange.pause(interval)
            exchange.send(b"x")
    return route


def header_drip(size: int = 100, interval: float = 0.05) -> Route:
    """A status line, then a header of ``size`` bytes sent one byte per ``interval``, then a body."""
    def route(exchange: Exchange) -> None:
        exchange.send(b"HTTP/1.1 200 OK\r\nConnection: close\r\nX-Slow: ")
        for _ in range(size):
            exchange.pause(interval)
            exchange.send(b"x")
        exchange.send(b"\r\nContent-Length: 2\r\n\r\n{}")
    return route


def silence() -> Route:
    """Read the request, then never answer."""
    def route(exchange: Exchange) -> None:
        exchange.pause(3600)
    return route


def endless(chunk: int = 64 * 1024) -> Route:
    """A body without a length that never ends (zeros, until the client goes away)."""
    def route(exchange: Exchange) -> None:
        exchange.send(head(200, {"Content-Type": "application/json", "Connection": "close"}))
        zeros = bytes(chunk)
        while True:
            exchange.send(zeros)
    return route


def truncated(declared: int = 10_000, sent: int = 100) -> Route:
    """A body announced at ``declared`` bytes, cut off after ``sent``."""
    def route(exchange: Exchange) -> None:
        exchange.send(head(200, {"Content-Length": str(declared), "Connection": "close"}) + b"{" * sent)
    return route


@cache
def gzip_zeros(megabytes: int = 1024) -> bytes:
    """``megabytes`` MB of zero bytes, gzip-compressed (1 GB → about 1 MB), made once per test
    session. One compressed MB is repeated: a full flush empties the compressor's history, so
    every repetition is the same bytes and only one MB needs compressing."""
    zeros = bytes(1 << 20)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    piece = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(megabytes):
        crc = zlib.crc32(zeros, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    trailer = compressor.flush() + struct.pack("<II", crc, (megabytes << 20) & 0xFFFFFFFF)
    return header + piece * megabytes + trailer


def gzip_bomb(megabytes: int = 1024) -> Route:
    """A gzip body of about a thousandth of its size that decompresses to ``megabytes`` MB of zeros."""
    def route(exchange: Exchange) -> None:
        body = gzip_zeros(megabytes)
        exchange.send(head(200, {"Content-Encoding": "gzip", "Content-Length": str(len(body)),
                                 "Connection": "close"}))
        view = memoryview(body)
        for start in range(0, len(body), 64 * 1024):
            exchange.send(view[start:start + 64 * 1024])
    return route


def gzip_body(data: bytes) -> Route:
    """A well-formed gzip-compressed answer."""
    return answer(200, gzip.compress(data), {"Content-Encoding": "gzip"})


def redirect(location: str, status: int = 302) -> Route:
    """A redirect to ``location`` (a path or a whole address, file:/// included)."""
    return answer(status, b"", {"Location": location})


def redirect_chain(count: int, final: str, prefix: str = "/hop") -> dict[str, Route]:
    """Routes /hop1 → /hop2 → … → /hop<count> → ``final``: ``count`` redirects from /hop1."""
    return {f"{prefix}{n}": redirect(f"{prefix}{n + 1}" if n < count else final) for n in range(1, count + 1)}


@dataclass
class Slow:
    """A route that answers after ``seconds`` and remembers how many requests it held at once."""

    seconds: float
    body: bytes = b"{}"
    peak: int = 0
    _current: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, exchange: Exchange) -> None:
        with self._lock:
            self._current += 1
            self.peak = max(self.peak, self._current)
        try:
            exchange.pause(self.seconds)
        finally:
            # Counted down before answering: the client cannot start its next request earlier.
            with self._lock:
                self._current -= 1
        answer(200, self.body)(exchange)


@contextmanager
def unaccepting_port():
    """A port on 127.0.0.1 where connecting hangs: the listener never accepts and its queue is
    full, so the kernel drops further connection attempts instead of answering them."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=0)
    fillers = []
    try:
        for _ in range(64):
            filler = socket.socket()
            filler.settimeout(0.2)
            try:
                filler.connect(listener.getsockname())
            except TimeoutError:
                filler.close()
                break
            fillers.append(filler)
        else:
            raise RuntimeError("the listen queue never filled up: connect timeouts cannot be tested here")
        yield listener.getsockname()[1]
    finally:
        for sock in fillers:
            sock.close()
        listener.close()
