"""The regional office's pages: source health from a real harvest, and the feed checker with its
guarded fetching, size cap and rate limit."""
import io
import itertools
import re
from datetime import datetime, timezone

import pytest
from lxml import html

from aggregator.fetch import Fetcher
from aggregator.guard import only_link_local_blocked
from aggregator.harvest import harvest_all
from aggregator.sources import load_registry
from aggregator.store import Store
from tests.conftest import DATA, REPO, TODAY
from tests.hostile_server import HostileServer, answer
from webapp import create_app

EXAMPLES = REPO / "feeds" / "examples"
BROKEN = DATA / "broken"
_addresses = (f"198.51.100.{n}" for n in itertools.count(1))


def get(client, path: str, **options):
    """GET a page in English, the language the assertions are written in."""
    return client.get(path, headers={"Accept-Language": "en"}, **options)


def post(client, data: dict, address: str | None = None):
    """POST the checker's form in English from one client address (each test its own, so the rate
    limit of one test does not spill into another)."""
    return client.post("/validate", data=data, headers={"Accept-Language": "en"},
                       environ_base={"REMOTE_ADDR": address or next(_addresses)})


def upload(client, path, name: str | None = None, address: str | None = None):
    return post(client, {"file": (io.BytesIO(path.read_bytes()), name or path.name)}, address)


def xpath(selector: str) -> str:
    """A simple CSS selector (``tag.class#id`` steps joined by spaces or " > ") as XPath."""
    steps, axis = [], "//"
    for token in selector.split():
        if token == ">":
            axis = "/"
            continue
        tag, *classes = re.split(r"\.", re.sub(r"#([\w-]+)", r".#\1", token))
        tests = [f"@id='{c[1:]}'" if c.startswith("#") else f"contains(concat(' ', @class, ' '), ' {c} ')" for c in classes]
        steps.append(axis + (tag or "*") + "".join(f"[{t}]" for t in tests))
        axis = "//"
    return "".join(steps)


def elements(response, selector: str) -> list:
    return html.fromstring(response.text).xpath(xpath(selector))


def text_of(response, selector: str) -> list[str]:
    """The whitespace-normalised text of each element matching a simple CSS selector."""
    return [" ".join(element.text_content().split()) for element in elements(response, selector)]


def app_over(directory, **config):
    return create_app(str(directory), {"TESTING": True, "TODAY": TODAY, **config})


# --- source health ----------------------------------------------------------------------------

REGISTRY = """
[[source]]
id = "bruecke"
name = "Brücke e.V."
url = "{base}unknown-category.json"
kind = "migrant-self-organisation"
town = "Lindenau"
allow_private = true

[[source]]
id = "verein-ohne-feed"
name = "Verein ohne Feed"
url = "{base}moved-away.json"
kind = "volunteer-initiative"
town = "Espenrode"
allow_private = true
"""


@pytest.fixture
def health_client(tmp_path, serve_directory, db_url):
    """The app over a store where one source's feed is gone (404) and another has one invalid offer."""
    base = serve_directory(BROKEN)
    registry = tmp_path / "sources.toml"
    registry.write_text(REGISTRY.format(base=base), encoding="utf-8")
    store = Store(db_url)
    outcomes = harvest_all(store, load_registry(registry), Fetcher(), now=datetime(2026, 11, 22, 10, tzinfo=timezone.utc))
    store.close()
    assert sorted(o.status for o in outcomes) == ["failed", "ok"]
    return app_over(db_url).test_client()


def test_sources_lists_the_failing_source_first_with_its_error(health_client):
    response = get(health_client, "/sources")
    assert response.status_code == 200
    headings = text_of(response, "article.source h2")
    assert headings == ["Verein ohne Feed Failing", "Brücke e.V. Needs attention"]
    [failure] = text_of(response, "article.failing .failure")
    assert "HTTP 404 Not Found: the feed is not at this address" in failure
    assert "ask the publisher where it moved" in failure


def test_sources_shows_each_rejected_record_with_its_place_and_reason(health_client):
    response = get(health_client, "/sources")
    [rejection] = text_of(response, "article.attention .rejection")
    assert "/offers/0" in rejection and "id sprechstunde" in rejection
    assert "/offers/0/categories/0" in rejection
    assert "did you mean 'counselling'?" in rejection
    assert text_of(response, "article.attention h3") == ["1 record left out"]


def test_sources_json_has_the_same_facts(health_client):
    document = get(health_client, "/sources.json").get_json()
    assert document["summary"] == {"sources": 2, "failing": 1, "attention": 1, "waiting": 0, "ok": 0, "retired": 0}
    failing, attention = document["sources"]
    assert (failing["id"], failing["condition"], failing["status"]) == ("verein-ohne-feed", "failing", "failed")
    assert failing["failure_class"] == "not-found" and "ask the publisher" in failing["failure"]
    assert "HTTP 404" in failing["last_error"] and failing["last_success"] is None
    assert failing["last_attempt"] == "2026-11-22T10:00:00Z" and failing["next_check"] > failing["last_attempt"]
    assert attention["counts"] == {"accepted": 2, "rejected": 1, "withdrawn": 0}
    [rejection] = attention["rejections"]
    assert (rejection["position"], rejection["local_id"]) == ("/offers/0", "sprechstunde")
    problem = rejection["problems"][0]
    assert (problem["severity"], problem["pointer"], problem["code"]) == ("error", "/offers/0/categories/0", "unknown-term")
    assert "did you mean 'counselling'?" in problem["message"] + problem["hint"]
    assert attention["history"][0]["rejected"] == 1


def test_a_sources_page_shows_its_rejections_and_harvests(health_client):
    response = get(health_client, "/sources/bruecke")
    assert response.status_code == 200
    assert "did you mean 'counselling'?" in " ".join(text_of(response, ".rejection"))
    [when, result, new, updated, withdrawn, rejected, message] = text_of(response, "table.history tbody tr td")
    assert (result, new, updated, withdrawn, rejected) == ("ok (HTTP 200)", "2", "0", "0", "1")
    assert get(health_client, "/sources/bruecke.json").get_json()["rejections"][0]["local_id"] == "sprechstunde"


def test_an_unknown_source_is_not_found_as_a_page_and_as_json(health_client):
    assert get(health_client, "/sources/nobody").status_code == 404
    response = get(health_client, "/sources/nobody.json")
    assert response.status_code == 404 and "nobody" in response.get_json()["error"]


def test_source_health_does_not_change_state(health_client):
    before = get(health_client, "/sources.json").get_json()["sources"]
    assert health_client.post("/sources").status_code == 405
    assert get(health_client, "/sources.json").get_json()["sources"] == before


# --- the checker: the form ----------------------------------------------------------------------

def test_every_control_of_the_checker_has_a_label(client):
    page = get(client, "/validate")
    controls = elements(page, "form input") + elements(page, "form textarea")
    assert {c.get("name") for c in controls} == {"url", "file", "text"}
    labels = {label.get("for") for label in elements(page, "label")}
    assert all(control.get("id") in labels for control in controls)
    assert all(form.get("method") == "post" for form in elements(page, "form"))


def test_an_address_in_the_query_fills_the_form_but_is_not_fetched(client):
    with HostileServer({"/feed.json": answer(200, (EXAMPLES / "bruecke-lindenau.json").read_bytes())}) as server:
        for _ in range(12):  # more than a minute's checks: showing the form is not limited
            response = get(client, "/validate", query_string={"url": server.url("/feed.json")})
            assert response.status_code == 200
        assert server.connections == 0
    [field] = elements(response, "input#url")
    assert field.get("value") == server.url("/feed.json")
    assert not text_of(response, ".report")


def test_an_address_in_the_query_is_shown_as_text(client):
    response = get(client, "/validate", query_string={"url": '"><script>alert(1)</script>'})
    assert "<script>alert(1)" not in response.text
    assert elements(response, "input#url")[0].get("value") == '"><script>alert(1)</script>'


# --- the checker: reports -------------------------------------------------------------------

@pytest.mark.parametrize("name", ["bruecke-lindenau.json", "ukrainischer-verein-auenland.ics"])
def test_a_valid_example_feed_has_no_errors(client, name):
    response = upload(client, EXAMPLES / name)
    assert response.status_code == 200
    [summary] = text_of(response, ".report > .summary")
    assert summary.endswith("0 errors, 0 warnings.")
    assert "records checked" in summary and not summary.startswith("1 page, 0 records")
    assert text_of(response, ".problem") == []


# file, line, column, pointer, words of the message
BROKEN_CASES = [
    ("end-before-start", 107, 7, "/events/0/end", "is before the start"),
    ("unknown-category", 45, 9, "/offers/0/categories/0", "did you mean 'counselling'?"),
    ("missing-title", 99, 5, "/events/0", "the required field `title` is missing"),
]


@pytest.mark.parametrize("name, line, column, pointer, words", BROKEN_CASES, ids=[c[0] for c in BROKEN_CASES])
def test_a_broken_feed_shows_the_exact_place_and_problem(client, name, line, column, pointer, words):
    response = upload(client, BROKEN / f"{name}.json")
    [problem] = text_of(response, "ol.errors li.problem")
    assert problem.startswith(f"Line {line}, column {column} · {pointer} ")
    assert words in problem
    assert text_of(response, ".report > .summary")[0].endswith("1 error, 0 warnings.")


def test_warnings_are_listed_after_errors(client):
    response = upload(client, BROKEN / "rrule-weekly-forever.json")
    assert text_of(response, ".page-report h4") == ["Warnings"]
    assert "add UNTIL" in text_of(response, "ol.warnings li")[0]


def test_a_file_that_is_not_json_shows_where_reading_stopped(client):
    response = upload(client, BROKEN / "truncated.json")
    [problem] = text_of(response, ".page-report .problem")
    assert problem.startswith("Line 61, column 7: cannot be read: not valid JSON")


def test_pasted_text_with_a_script_is_shown_as_text(client):
    response = post(client, {"text": (BROKEN / "script-in-title.json").read_text(encoding="utf-8")})
    assert response.status_code == 200
    assert "<script>alert" not in response.text
    assert r"&lt;script&gt;alert(\&#34;x\&#34;)&lt;/script&gt;" in response.text  # the line shown under the problem
    [problem] = text_of(response, "ol.errors li")
    assert problem.startswith("Line 104, column 9 · /events/0/title/ar ") and "contains a script" in problem


def test_a_single_page_upload_says_its_next_page_was_not_checked(client):
    response = upload(client, EXAMPLES / "kreis-auenland-integrationszentrum.json")
    [note] = text_of(response, ".report .note")
    assert "kreis-auenland-integrationszentrum-2.json" in note and "by its address" in note


# --- the checker: what it refuses -------------------------------------------------------------

def test_an_address_on_this_machine_is_refused_as_private(client):
    with HostileServer({"/feed.json": answer(200, (EXAMPLES / "bruecke-lindenau.json").read_bytes())}) as server:
        response = post(client, {"url": server.url("/feed.json")})
        assert server.connections == 0
    assert response.status_code == 200
    [problem] = text_of(response, ".page-report .problem")
    assert "127.0.0.1 is an address on a local or private network" in problem
    assert "only from the public internet: upload the file instead" in problem


@pytest.fixture(scope="module")
def small_upload_app(example_directory):
    return app_over(example_directory, VALIDATE_MAX_BYTES=2048)


@pytest.mark.parametrize("field", ["file", "text"])
def test_a_feed_over_the_size_cap_gets_a_clear_message(small_upload_app, field):
    data = (EXAMPLES / "bruecke-lindenau.json").read_bytes()
    form = {"file": (io.BytesIO(data), "bruecke-lindenau.json")} if field == "file" else {"text": data.decode()}
    response = post(small_upload_app.test_client(), form)
    assert response.status_code == 413
    [message] = text_of(response, "p.problem")
    assert message.startswith("The feed is larger than 2 KB, the most this page checks.")
    assert "Split it into pages" in message
    assert not text_of(response, ".report")


def test_a_form_with_nothing_or_two_things_is_answered_with_what_to_give(client):
    empty = post(client, {"url": "", "text": "  "})
    assert empty.status_code == 400 and "Nothing to check" in text_of(empty, "p.problem")[0]
    both = post(client, {"url": "https://example.org/feed.json", "text": "{}"})
    assert both.status_code == 400 and "one thing to check at a time" in text_of(both, "p.problem")[0]


def test_the_eleventh_check_in_a_minute_is_refused_with_when_to_try_again(client):
    address = next(_addresses)
    for _ in range(10):
        assert post(client, {"text": "{}"}, address).status_code == 200
    refused = post(client, {"text": "{}"}, address)
    assert refused.status_code == 429
    wait = int(refused.headers["Retry-After"])
    assert 0 < wait <= 61  # the minute since the first check, less the time the checks took
    [message] = text_of(refused, "p.problem")
    assert f"Please try again in {wait} seconds" in message
    assert post(client, {"text": "{}"}).status_code == 200  # another client
    assert get(client, "/validate", environ_base={"REMOTE_ADDR": address}).status_code == 200


# --- the checker: feeds by address ----------------------------------------------------------

@pytest.fixture(scope="module")
def lan_checker(example_directory):
    """An app whose checker may reach this machine, standing in for a publisher's public server."""
    app = app_over(example_directory)
    app.extensions["wegweiser_validate_fetcher"] = Fetcher(blocked=only_link_local_blocked)
    return app.test_client()


def test_an_address_is_checked_with_every_page_its_next_links_lead_to(lan_checker, serve_directory):
    base = serve_directory(EXAMPLES)
    response = post(lan_checker, {"url": base + "kreis-auenland-integrationszentrum.json"})
    assert text_of(response, ".page-report h3") == [f"Page 1: {base}kreis-auenland-integrationszentrum.json",
                                                     f"Page 2: {base}kreis-auenland-integrationszentrum-2.json"]
    assert text_of(response, ".report > .summary") == ["2 pages, 13 records checked: 0 errors, 0 warnings."]


def test_an_address_that_is_not_found_says_so(lan_checker, serve_directory):
    base = serve_directory(EXAMPLES)
    response = post(lan_checker, {"url": base + "moved.json"})
    [problem] = text_of(response, ".page-report .problem")
    assert problem.startswith("Not checked: the server answered HTTP 404 Not Found")


def test_an_address_that_is_not_one_is_explained(client):
    response = post(client, {"url": "http://[::1"})
    assert response.status_code == 400
    assert "This is not a valid web address" in response.get_data(as_text=True)


def test_a_missing_feed_file_is_named_without_the_machines_folders(tmp_path, db_url):
    registry = tmp_path / "secret-folder" / "sources.toml"
    registry.parent.mkdir()
    registry.write_text('[[source]]\nid = "datei"\nname = "Verein"\nurl = "missing.json"\n'
                        'kind = "volunteer-initiative"\ntown = "Lindenau"\n', encoding="utf-8")
    (registry.parent / "missing.json").write_text("{}")
    sources = load_registry(registry)
    (registry.parent / "missing.json").unlink()  # gone after it was registered
    store = Store(db_url)
    [outcome] = harvest_all(store, sources, Fetcher(), now=datetime(2026, 11, 22, 10, tzinfo=timezone.utc))
    store.close()
    assert outcome.status == "failed"
    client = app_over(db_url).test_client()
    [source] = get(client, "/sources.json").get_json()["sources"]
    shown = " ".join([source["url"], source["last_error"], *(h["message"] or "" for h in source["history"])])
    assert "missing.json" in source["last_error"] and "secret-folder" not in shown
    assert "secret-folder" not in get(client, "/sources").get_data(as_text=True)
