"""Shared fixtures: a real HTTP server on 127.0.0.1 serving files or canned answers, and the
directory's database on each backend (a SQLite file; a database on a real PostgreSQL server that
the session starts)."""
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


BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL server for the whole session, run by an unprivileged user in a temporary folder."""
    from tests.postgres import started_server

    server = started_server()
    yield server
    server.remove()


def new_directory_url(backend: str, request, folder: Path) -> str:
    """The URL of a new, empty directory on a backend."""
    if backend == "sqlite":
        return f"sqlite:///{folder / 'directory.sqlite'}"
    return request.getfixturevalue("postgres").new_database()


@pytest.fixture(params=BACKENDS)
def new_db(request, tmp_path):
    """A maker of new, empty directories on one backend (the test runs once on each): their URLs."""
    def make(name: str = "directory") -> str:
        folder = tmp_path / name
        folder.mkdir()
        return new_directory_url(request.param, request, folder)
    return make


@pytest.fixture
def db_url(new_db) -> str:
    """A new, empty directory (the test runs once on each backend)."""
    return new_db()


@pytest.fixture(scope="session", params=BACKENDS)
def example_directory(request, tmp_path_factory) -> str:
    """The bundled example district harvested as of TODAY, once on each backend; its database URL."""
    from datetime import datetime, timezone

    from aggregator.fetch import Fetcher
    from aggregator.harvest import harvest_all
    from aggregator.sources import load_registry
    from aggregator.store import Store

    url = new_directory_url(request.param, request, tmp_path_factory.mktemp("web"))
    store = Store(url)
    now = datetime(2026, 11, 22, 10, 0, tzinfo=timezone.utc)
    outcomes = harvest_all(store, load_registry(REPO / "feeds" / "examples" / "sources.toml"), Fetcher(), now=now)
    assert {o.status for o in outcomes} == {"ok"}
    store.close()
    return url


@pytest.fixture(scope="session")
def app(example_directory):
    """The web app over the example directory, with today fixed to TODAY."""
    from webapp import create_app

    return create_app(example_directory, {"TESTING": True, "TODAY": TODAY, "REGION_NAME": "Wegweiser Auenland"})


@pytest.fixture
def client(app):
    return app.test_client()
