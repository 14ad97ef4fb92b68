"""The address guard: which addresses a fetch may reach, checked on every connection, redirect hops
included, against real servers on loopback addresses."""
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from aggregator.fetch import BlockedAddress, Fetcher
from aggregator.guard import is_blocked, only_link_local_blocked
from tests.hostile_server import HostileServer, answer, redirect, redirect_chain

FEED = b'{"wegweiser": "1.0", "organisations": []}'


def second_loopback_is_private(address: str) -> bool:
    """An address policy for loopback tests: 127.0.0.1 counts as public, 127.0.0.2 as private."""
    return address == "127.0.0.2"


class _FeedHandler(BaseHTTPRequestHandler):
    """Answers every GET with FEED."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(FEED)))
        self.end_headers()
        self.wfile.write(FEED)

    def log_message(self, *args) -> None:
        pass


class FeedServer(ThreadingHTTPServer):
    """An HTTP server on any local address (HostileServer listens on 127.0.0.1 only) that serves
    FEED while in a with block and counts the connections it accepted."""

    daemon_threads = True

    def __init__(self, address: str, port: int = 0):
        self.address_family = socket.AF_INET6 if ":" in address else socket.AF_INET
        super().__init__((address, port), _FeedHandler)
        self.connections = 0

    def url(self, path: str = "/") -> str:
        """The address of ``path`` on this server."""
        host = self.server_address[0]
        return f"http://{f'[{host}]' if ':' in host else host}:{self.server_port}{path}"

    def process_request(self, request, client_address) -> None:
        self.connections += 1
        super().process_request(request, client_address)

    def __enter__(self) -> "FeedServer":
        threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.shutdown()
        self.server_close()


@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.178.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
    "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255", "::1", "::", "fd00::1", "fe80::1",
    "fe80::1%1", "fec0::1", "ff02::1", "::ffff:10.0.0.1", "::ffff:127.0.0.1", "::ffff:169.254.169.254",
    "64:ff9b::7f00:1", "2002:a00:1::", "::127.0.0.1",
])
def test_non_public_addresses_are_blocked(address):
    assert is_blocked(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "194.25.2.129", "2001:4860:4860::8888", "::ffff:8.8.8.8",
                                     "64:ff9b::808:808", "2a00:1450:4001:80b::200e"])
def test_public_addresses_are_allowed(address):
    assert not is_blocked(address)


def test_private_address_is_refused_before_connecting():
    with HostileServer({"/feed.json": answer(200, FEED)}) as server:
        with pytest.raises(BlockedAddress) as caught:
            Fetcher().get(server.url("/feed.json", host="localhost"))
    assert server.connections == 0
    assert caught.value.error_class == "blocked"
    assert str(caught.value).startswith(server.url("/feed.json", host="localhost") + ": localhost leads to ")
    assert "allow_private = true" in str(caught.value)


def test_connection_kept_for_a_private_source_is_not_reused_for_a_public_one():
    with HostileServer({"/": answer(200, FEED, keep_alive=True)}) as server:
        url = server.url(host="localhost")
        fetcher = Fetcher()
        fetcher.get(url, allow_private=True)
        with pytest.raises(BlockedAddress):
            fetcher.get(url)
        fetcher.get(url, allow_private=True)
    assert server.connections == 1  # kept alive and reused, but never for the request without allow_private


def test_a_later_redirect_hop_to_a_private_address_is_refused_before_connecting():
    with FeedServer("127.0.0.2") as private, \
            HostileServer(redirect_chain(2, private.url("/feed.json"))) as public:
        with pytest.raises(BlockedAddress) as caught:
            Fetcher(blocked=second_loopback_is_private).get(public.url("/hop1"))
    assert [request.path for request in public.requests] == ["/hop1", "/hop2"]
    assert private.connections == 0
    assert str(caught.value).startswith(private.url("/feed.json") + ": 127.0.0.2 is an address on a local")


def test_a_redirect_to_an_allowed_second_address_is_followed():
    with FeedServer("127.0.0.2") as other, HostileServer({"/": redirect(other.url("/feed.json"))}) as first:
        response = Fetcher(blocked=only_link_local_blocked).get(first.url())
    assert (response.body, response.url, other.connections) == (FEED, other.url("/feed.json"), 1)


def test_the_policy_is_asked_again_on_every_new_connection():
    asked = []

    def repointed_after_first_fetch(address: str) -> bool:
        """Allows the address once, then blocks it, as if the name now led to a private network."""
        asked.append(address)
        return len(asked) > 1

    with HostileServer({"/": answer(200, FEED)}) as server:
        fetcher = Fetcher(blocked=repointed_after_first_fetch)
        assert fetcher.get(server.url()).body == FEED
        with pytest.raises(BlockedAddress):
            fetcher.get(server.url())
    assert asked == ["127.0.0.1", "127.0.0.1"]
    assert server.connections == 1


@pytest.mark.parametrize("address, blocked", [
    ("127.0.0.1", False), ("10.1.2.3", False), ("192.168.0.10", False), ("fd00::1", False),
    ("169.254.169.254", True), ("::ffff:169.254.169.254", True), ("fe80::1", True),
])
def test_allow_private_still_never_reaches_link_local_metadata(address, blocked):
    assert only_link_local_blocked(address) is blocked
