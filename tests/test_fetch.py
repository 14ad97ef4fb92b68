"""The guarded fetcher against real servers on 127.0.0.1, well-behaved and hostile."""
import datetime
import ssl
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import pytest

from aggregator import fetch
from aggregator.fetch import (BlockedAddress, FetchError, Fetcher, FetchTimeout, HTTPStatusError, TooLarge,
                              TooManyRedirects, parse_retry_after)
from tests.hostile_server import (HostileServer, Slow, answer, conditional, drip, endless, gzip_body, gzip_bomb,
                                  gzip_zeros, head, header_drip, http_date, redirect, redirect_chain, retry_after,
                                  silence, truncated, unaccepting_port)

FEED = b'{"wegweiser": "1.0", "organisations": []}'
MB = 1024 * 1024


@pytest.fixture
def serve():
    """Start a HostileServer (routes, on_connect, tls) that runs until the test ends; returns it."""
    with ExitStack() as servers:
        yield lambda routes=None, **options: servers.enter_context(HostileServer(routes, **options))


@pytest.fixture(scope="module")
def fetcher():
    """A Fetcher with the default limits, shared like the harvester shares one."""
    return Fetcher()


def peak_memory(action) -> tuple[int, FetchError | None]:
    """The most memory Python held at once while ``action`` ran, and the FetchError it raised."""
    tracemalloc.start()
    try:
        action()
        error = None
    except FetchError as exc:
        error = exc
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak, error


def test_feed_arrives_with_headers_and_timing(fetcher, serve):
    server = serve({"/feed.json": answer(200, FEED, {"Content-Type": "application/feed+json"})})
    response = fetcher.get(server.url("/feed.json"), allow_private=True)
    assert (response.status, response.body, response.not_modified) == (200, FEED, False)
    assert response.url == server.url("/feed.json")
    assert response.headers["content-type"] == "application/feed+json"
    assert response.etag is None and response.last_modified is None
    assert 0 < response.elapsed < 5


def test_user_agent_names_wegweiser_and_the_regions_contact(serve):
    server = serve({"/": answer(200, FEED)})
    Fetcher(contact="https://integration.lindenau.example/kontakt").get(server.url(), allow_private=True)
    agent = server.requests[0].headers["user-agent"]
    assert agent.startswith("Wegweiser/") and "https://integration.lindenau.example/kontakt" in agent


def test_gzip_body_is_decoded(fetcher, serve):
    server = serve({"/": gzip_body(FEED)})
    assert fetcher.get(server.url(), allow_private=True).body == FEED


def test_module_level_fetch_for_checking_by_hand(serve):
    server = serve({"/": answer(200, FEED)})
    assert fetch.fetch(server.url(), allow_private=True).body == FEED


def test_unchanged_feed_by_etag_is_a_304(fetcher, serve):
    server = serve({"/": conditional(FEED, etag='"v7"')})
    first = fetcher.get(server.url(), allow_private=True)
    again = fetcher.get(server.url(), allow_private=True, etag=first.etag)
    assert (first.status, first.etag) == (200, '"v7"')
    assert server.requests[1].headers["if-none-match"] == '"v7"'
    assert (again.status, again.not_modified, again.body, again.etag) == (304, True, b"", '"v7"')


def test_unchanged_feed_by_date_is_a_304(fetcher, serve):
    stamp = "Sat, 21 Nov 2026 08:00:00 GMT"
    server = serve({"/": conditional(FEED, last_modified=stamp)})
    first = fetcher.get(server.url(), allow_private=True)
    again = fetcher.get(server.url(), allow_private=True, last_modified=first.last_modified)
    assert first.last_modified == stamp and not first.not_modified
    assert server.requests[1].headers["if-modified-since"] == stamp
    assert again.not_modified and again.last_modified == stamp and again.body == b""


def test_a_200_carrying_the_etag_sent_counts_as_unchanged(fetcher, serve):
    server = serve({"/": answer(200, FEED, {"ETag": 'W/"v7"'})})
    response = fetcher.get(server.url(), allow_private=True, etag='"v7"')
    assert response.not_modified and response.body == b""


def test_a_200_with_another_etag_is_a_new_version(fetcher, serve):
    server = serve({"/": answer(200, FEED, {"ETag": '"v8"'})})
    response = fetcher.get(server.url(), allow_private=True, etag='"v7"')
    assert not response.not_modified and response.body == FEED and response.etag == '"v8"'


@pytest.mark.parametrize("status, error_class, words", [
    (404, "not-found", "HTTP 404 Not Found: the feed is not at this address (has it moved?)"),
    (410, "not-found", "HTTP 410 Gone: the publisher has removed the feed"),
    (403, "client-error", "HTTP 403 Forbidden: the feed is not public"),
    (500, "server-error", "HTTP 500 Internal Server Error: the server has a problem of its own"),
    (503, "server-error", "HTTP 503 Service Unavailable"),
])
def test_error_statuses_say_what_happened(fetcher, serve, status, error_class, words):
    server = serve({"/feed.json": answer(status, b"<html>oops</html>")})
    with pytest.raises(HTTPStatusError) as caught:
        fetcher.get(server.url("/feed.json"), allow_private=True)
    assert (caught.value.status, caught.value.error_class, caught.value.retry_after) == (status, error_class, None)
    assert str(caught.value).startswith(server.url("/feed.json") + ": the server answered " + words)


def test_503_with_retry_after_is_rate_limited(fetcher, serve):
    server = serve({"/": retry_after(503, "120")})
    with pytest.raises(HTTPStatusError) as caught:
        fetcher.get(server.url(), allow_private=True)
    assert (caught.value.error_class, caught.value.retry_after) == ("rate-limited", 120.0)
    assert "it asks to wait 2 minutes before trying again" in str(caught.value)


def test_429_with_retry_after_as_a_date(fetcher, serve):
    server = serve({"/": retry_after(429, http_date(90))})
    with pytest.raises(HTTPStatusError) as caught:
        fetcher.get(server.url(), allow_private=True)
    assert caught.value.error_class == "rate-limited"
    assert 80 <= caught.value.retry_after <= 90


@pytest.mark.parametrize("value, seconds", [
    ("120", 120.0), (" 0 ", 0.0), ("Sun, 22 Nov 2026 10:01:30 GMT", 90.0),
    ("Sun, 22 Nov 2026 09:00:00 GMT", 0.0), ("soon", None), ("-5", None), ("", None), (None, None),
])
def test_retry_after_is_read_as_seconds_or_date(value, seconds):
    now = datetime.datetime(2026, 11, 22, 10, 0, tzinfo=datetime.timezone.utc)
    assert parse_retry_after(value, now) == seconds


def test_connect_timeout():
    # The listener's queue is full and it never accepts, so the kernel drops our SYN: the connect
    # hangs on loopback exactly as towards a server that is down.
    fetcher = Fetcher(connect_timeout=0.3, total_timeout=5)
    with unaccepting_port() as port:
        started = time.monotonic()
        with pytest.raises(FetchTimeout) as caught:
            fetcher.get(f"http://127.0.0.1:{port}/feed.json", allow_private=True)
    assert time.monotonic() - started < 3
    assert "did not accept a connection within 0.3 seconds" in str(caught.value)
    assert caught.value.error_class == "timeout"


def test_refused_connection(fetcher):
    with HostileServer() as closed:
        port = closed.port
    with pytest.raises(FetchError) as caught:
        fetcher.get(f"http://127.0.0.1:{port}/", allow_private=True)
    assert "refused the connection" in str(caught.value) and caught.value.error_class == "network"


@pytest.mark.parametrize("route", [silence(), header_drip(interval=0.05), drip(interval=0.05)],
                         ids=["never-answers", "drips-headers", "drips-body"])
def test_slow_servers_stop_at_the_deadline(serve, scheme, route):
    name, tls = scheme
    server = serve({"/": route}, tls=tls)
    started = time.monotonic()
    with pytest.raises(FetchTimeout) as caught:
        Fetcher(total_timeout=0.6).get(server.url(host="localhost", scheme=name), allow_private=True)
    # The deadline is the behaviour under test: not before it, and not long after it (a loaded machine may lag).
    assert 0.5 < time.monotonic() - started < 3
    assert "did not send the whole answer within 0.6 seconds" in str(caught.value)


def test_endless_body_stops_at_the_cap(serve):
    server = serve({"/": endless()})
    with pytest.raises(TooLarge) as caught:
        Fetcher(max_bytes=MB).get(server.url(), allow_private=True)
    assert "the answer is larger than the 1 MB the aggregator reads from one address" in str(caught.value)
    assert caught.value.error_class == "too-large"


def test_endless_body_at_the_default_cap_holds_memory_to_the_cap(fetcher, serve):
    server = serve({"/": endless()})
    peak, error = peak_memory(lambda: fetcher.get(server.url(), allow_private=True))
    assert isinstance(error, TooLarge)
    assert 20 * MB < peak < 21 * MB  # the body up to the cap, one chunk more, and little else


def test_announced_size_over_the_cap_is_refused_before_reading(fetcher, serve):
    def huge(exchange):
        exchange.send(head(200, {"Content-Length": str(1 << 30), "Connection": "close"}) + bytes(1000))
    server = serve({"/": huge})
    with pytest.raises(TooLarge) as caught:
        fetcher.get(server.url(), allow_private=True)
    assert "the server announces 1024 MB, more than the 20 MB the aggregator reads" in str(caught.value)


def test_gzip_bomb_stops_at_the_cap_with_bounded_memory(serve):
    gzip_zeros()  # 1 GB of zeros in about 1 MB, made before measuring
    server = serve({"/": gzip_bomb()})
    fetcher = Fetcher(max_bytes=5 * MB)
    peak, error = peak_memory(lambda: fetcher.get(server.url(), allow_private=True))
    assert isinstance(error, TooLarge)
    # A decoder inflating a whole 64 KB read of this body at once would need about 64 MB.
    assert peak < 8 * MB


def test_truncated_body_is_an_error(fetcher, serve):
    server = serve({"/": truncated(declared=10_000, sent=100)})
    with pytest.raises(FetchError) as caught:
        fetcher.get(server.url(), allow_private=True)
    assert "the connection broke off before the whole answer arrived" in str(caught.value)


def test_five_redirects_are_followed(fetcher, serve):
    server = serve({**redirect_chain(5, "/feed.json"), "/feed.json": answer(200, FEED)})
    response = fetcher.get(server.url("/hop1"), allow_private=True)
    assert (response.body, response.url) == (FEED, server.url("/feed.json"))


def test_six_redirects_are_too_many(fetcher, serve):
    server = serve({**redirect_chain(6, "/feed.json"), "/feed.json": answer(200, FEED)})
    with pytest.raises(TooManyRedirects) as caught:
        fetcher.get(server.url("/hop1"), allow_private=True)
    assert "redirects more than 5 times" in str(caught.value)
    assert not any(request.path == "/feed.json" for request in server.requests)


def test_redirect_loop_is_detected(fetcher, serve):
    server = serve({"/a": redirect("/b", 301), "/b": redirect("/a", 307)})
    with pytest.raises(TooManyRedirects) as caught:
        fetcher.get(server.url("/a"), allow_private=True)
    assert "go round in a circle" in str(caught.value) and caught.value.error_class == "redirects"
    assert len(server.requests) == 2


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/feed.json", "/etc/passwd"])
def test_only_http_and_https_are_fetched(fetcher, url):
    with pytest.raises(BlockedAddress) as caught:
        fetcher.get(url, allow_private=True)
    assert "only http and https addresses are fetched" in str(caught.value)


def test_redirect_to_a_file_is_refused(fetcher, serve):
    server = serve({"/": redirect("file:///etc/passwd")})
    with pytest.raises(BlockedAddress) as caught:
        fetcher.get(server.url(), allow_private=True)
    assert str(caught.value).startswith(server.url() + ": the server redirects to file:///etc/passwd: only http")


@pytest.mark.parametrize("per_host, held_at_once", [(1, 1), (2, 2)])
def test_requests_to_one_host_take_turns(serve, per_host, held_at_once):
    slow = Slow(seconds=0.3)
    server = serve({"/": slow})
    fetcher = Fetcher(per_host=per_host)
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(lambda _: fetcher.get(server.url(), allow_private=True), range(2)))
    assert [response.status for response in answers] == [200, 200]
    assert slow.peak == held_at_once


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    """A test CA (to trust through SSL_CERT_FILE) and a server certificate it signed for 'localhost'."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def certificate(subject, key, signer, is_ca, names=()):
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
                   .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Wegweiser Test CA")]))
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(days=1))
                   .not_valid_after(now + datetime.timedelta(days=2))
                   .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True))
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]),
                                            critical=False)
        return builder.sign(signer, hashes.SHA256())

    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = certificate("Wegweiser Test CA", ca_key, ca_key, True)
    leaf = certificate("localhost", server_key, ca_key, False, ["localhost"])
    folder = tmp_path_factory.mktemp("tls")
    pem = serialization.Encoding.PEM
    (folder / "ca.pem").write_bytes(ca.public_bytes(pem))
    (folder / "server.pem").write_bytes(leaf.public_bytes(pem) + server_key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return folder


@pytest.fixture
def server_tls(certificates, monkeypatch):
    """A server-side TLS context for 'localhost', whose CA the fetchers made in the test trust."""
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates / "ca.pem"))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificates / "server.pem")
    return context


@pytest.fixture(params=["http", "https"])
def scheme(request):
    """Each scheme with the server-side TLS context it needs (None for http)."""
    return request.param, request.getfixturevalue("server_tls") if request.param == "https" else None


def test_dripping_tls_handshake_stops_in_time(serve):
    def drip_handshake(exchange):
        exchange.sock.recv(4096)                      # the client's hello
        exchange.send(b"\x16\x03\x03\x40\x00")        # a 16 KB handshake record announced ...
        while True:                                   # ... and sent one byte at a time
            exchange.pause(0.05)
            exchange.send(b"\x00")
    server = serve(on_connect=drip_handshake)
    started = time.monotonic()
    with pytest.raises(FetchTimeout) as caught:
        Fetcher(connect_timeout=0.5, total_timeout=5).get(server.url(scheme="https"), allow_private=True)
    assert time.monotonic() - started < 3
    assert "127.0.0.1 did not accept a connection within 0.5 seconds" in str(caught.value)


def test_https_keeps_the_host_name_for_sni_and_host_header(serve, server_tls):
    names = []
    server_tls.sni_callback = lambda sock, name, context: names.append(name)
    server = serve({"/feed.json": answer(200, FEED)}, tls=server_tls)
    response = Fetcher().get(server.url("/feed.json", host="localhost", scheme="https"), allow_private=True)
    assert response.body == FEED
    assert names == ["localhost"]
    assert server.requests[0].headers["host"] == f"localhost:{server.port}"


def test_https_certificate_for_another_name_is_refused(serve, server_tls):
    server = serve({"/feed.json": answer(200, FEED)}, tls=server_tls)
    with pytest.raises(FetchError) as caught:
        Fetcher().get(server.url("/feed.json", scheme="https"), allow_private=True)
    assert "the secure connection failed" in str(caught.value)
    assert server.requests == []
