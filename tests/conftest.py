"""Shared fixtures: a real HTTP server on 127.0.0.1 serving files or canned answers."""
import functools
import threading
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parents[1]
TODAY = __import__("datetime").date(2026, 11, 22)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


class _QuietWSGIHandler(WSGIRequestHandler):
    def log_request(self, *args) -> None:
        pass


@contextmanager
def serving(app):
    """A WSGI app (the web app) on a free port of 127.0.0.1, in a thread; yields its base URL without a trailing slash."""
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietWSGIHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()


@pytest.fixture
def serve_directory():
    """Serve a directory over HTTP on 127.0.0.1; returns the base URL ending in '/'."""
    servers = []

    def start(directory: Path) -> str:
        handler = functools.partial(_QuietHandler, directory=str(directory))
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}/"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def example_directory(tmp_path_factory) -> Path:
    """The bundled example district harvested into a real SQLite file as of TODAY; its path."""
    from datetime import datetime, timezone

    from aggregator.fetch import Fetcher
    from aggregator.harvest import harvest_all
    from aggregator.sources import load_registry
    from aggregator.store import Store

    path = tmp_path_factory.mktemp("web") / "directory.sqlite"
    store = Store(path)
    now = datetime(2026, 11, 22, 10, 0, tzinfo=timezone.utc)
    outcomes = harvest_all(store, load_registry(REPO / "feeds" / "examples" / "sources.toml"), Fetcher(), now=now)
    assert {o.status for o in outcomes} == {"ok"}
    store.close()
    return path


@pytest.fixture(scope="session")
def app(example_directory):
    """The web app over the example directory, with today fixed to TODAY."""
    from webapp import create_app

    return create_app(f"sqlite:///{example_directory}", {"TESTING": True, "TODAY": TODAY, "REGION_NAME": "Wegweiser Auenland"})


@pytest.fixture
def client(app):
    return app.test_client()
