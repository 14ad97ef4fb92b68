"""The JSON and CSV API: every answer checked against the OpenAPI document the app serves, paging,
the same events as the event pages, bad parameters, withdrawals, spreadsheet safety, 304s."""
import copy
import csv
import io
import re
from datetime import datetime
from urllib.parse import urlsplit

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_openapi
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012

import wegweiser_schema
from aggregator.query import MAX_PER_PAGE
from aggregator.store import Store
from tests.conftest import TODAY
from tests.test_store import event, harvest, offer, source
from webapp import create_app, directory
from webapp.api import alternates, link_header

DOCUMENT = "urn:wegweiser:openapi"
KINDS = ("offers", "events", "organisations")


# --- checking answers against the OpenAPI document -----------------------------------------

@pytest.fixture(scope="module")
def spec(app) -> dict:
    return app.test_client().get("/api/openapi.json").get_json()


def _registry(spec: dict):
    """The project's schemas (found by their $id) and the OpenAPI document itself."""
    return wegweiser_schema.registry().with_resource(DOCUMENT, DRAFT202012.create_resource(spec))


def conforms(spec: dict, template: str, response) -> None:
    """Assert the answer is one the document declares for the path: its status, its headers, and a
    body its schema accepts."""
    registry = _registry(spec)
    resolver = registry.resolver(DOCUMENT)

    def resolved(node: dict) -> dict:
        return resolver.lookup(node["$ref"]).contents if "$ref" in node else node
    declared = spec["paths"][template]["get"]["responses"]
    assert str(response.status_code) in declared, f"{template} answered {response.status_code}, which the document does not declare"
    answer = resolved(declared[str(response.status_code)])
    for name in answer.get("headers", {}):
        assert name in response.headers, f"{template} {response.status_code}: header {name} missing"
    if response.status_code == 304:
        assert response.data == b""
        return
    schema = answer["content"][response.mimetype]["schema"]
    if response.mimetype == "application/json":
        validator = Draft202012Validator({"$ref": DOCUMENT + schema["$ref"]}, registry=registry,
                                         format_checker=Draft202012Validator.FORMAT_CHECKER)
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(response.get_json())]
        assert not errors, f"{template}: {errors[:5]}"


def all_items(client, spec, url: str) -> list[dict]:
    """Every item of a list, following the ``next`` links, each page checked against the document."""
    items, template = [], urlsplit(url).path
    while url:
        response = client.get(url)
        conforms(spec, template, response)
        body = response.get_json()
        items += body["items"]
        url = body["links"]["next"]
    return items


# --- a directory of our own, for withdrawals and spreadsheet cells ---------------------------

@pytest.fixture
def fresh(db_url):
    """An empty directory with one source, and a client of the app over it."""
    store = Store(db_url)
    store.register_sources([source("verein")])
    app = create_app(db_url, {"TESTING": True, "TODAY": TODAY})
    yield store, app.test_client()
    store.close()
    app.extensions["wegweiser_store"].close()


# --- the document -----------------------------------------------------------------------------

def test_the_document_describes_every_api_address(app, spec):
    served = {re.sub(r"<(\w+)>", r"{\1}", rule.rule) for rule in app.url_map.iter_rules() if rule.endpoint.startswith("api.")}
    assert served == set(spec["paths"])
    assert spec["openapi"].startswith("3.1")
    conforms(spec, "/api/openapi.json", app.test_client().get("/api/openapi.json"))


def test_the_document_is_valid_openapi_and_every_reference_resolves(spec):
    validate_openapi(spec)
    registry, unresolved, checked = _registry(spec), [], []

    def walk(node) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                checked.append(node["$ref"])
                try:
                    registry.resolver(DOCUMENT).lookup(node["$ref"])
                except Unresolvable:
                    unresolved.append(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
    walk(spec)
    assert len(checked) > 100 and unresolved == []


BROKEN = [
    lambda r: r.pop("title", None) or r.pop("name", None),     # required
    lambda r: r.update(updated="gestern"),                     # a timestamp
    lambda r: r.update(id="-startet-mit-strich"),              # a local id
    lambda r: r.update(title={"de": 5}, name={"de": 5}),       # wording is text
    lambda r: r.update(languages=["Deutsch, Türkisch"]),     # language tags
    lambda r: r.update(provenance=[]),                         # at least one source
]


@pytest.mark.parametrize("kind", ["offer", "event", "organisation"])
def test_the_documents_records_accept_and_refuse_what_the_feed_format_does(client, spec, kind):
    by_format = Draft202012Validator(wegweiser_schema.schema(kind), registry=wegweiser_schema.registry())
    by_document = Draft202012Validator({"$ref": f"{DOCUMENT}#/components/schemas/{kind.title()}Record"}, registry=_registry(spec))
    records = [item["record"] for item in client.get(f"/api/v1/{kind}s?per_page={MAX_PER_PAGE}").get_json()["items"]]
    assert records and all(by_format.is_valid(r) and by_document.is_valid(r) for r in records)
    for breaking in BROKEN:
        broken = copy.deepcopy(records[0])
        breaking(broken)
        assert not by_format.is_valid(broken) and not by_document.is_valid(broken), broken


def _example(parameter: dict, ids: dict) -> str:
    """A value of a parameter's declared type and format."""
    chosen = {"organisation": ids["organisation"], "language": "de", "town": "Lindenau", "q": "beratung"}
    schema = parameter["schema"].get("items", parameter["schema"])
    if parameter["name"] in chosen:
        return chosen[parameter["name"]]
    if "enum" in schema:
        return schema["enum"][0]
    if schema["type"] == "integer":
        return "1"
    return {"date": "2026-12-01", "date-time": "2026-11-01T00:00:00Z"}[schema["format"]]


def test_every_declared_parameter_is_taken_in_its_declared_format(client, spec):
    resolver = _registry(spec).resolver(DOCUMENT)
    ids = {kind: client.get(f"/api/v1/{kind}s").get_json()["items"][0]["id"] for kind in ("offer", "event", "organisation")}
    for template, operations in spec["paths"].items():
        for reference in operations["get"].get("parameters", []):
            parameter = resolver.lookup(reference["$ref"]).contents
            if parameter["in"] == "path":
                continue
            one = re.match(r"/api/v1/(\w+)s/\{entry_id\}", template)
            path = template.replace("{entry_id}", ids[one.group(1)]) if one else template
            response = client.get(path, query_string={parameter["name"]: _example(parameter, ids)})
            body = response.get_data(as_text=True)  # read to the end: a CSV is streamed
            assert response.status_code == 200, (path, parameter["name"], body)


# --- lists ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("query", ["", "town=Lindenau", "q=beratung", "language=ar&language=tr", "category=culture-and-leisure"])
def test_lists_conform_to_the_document(client, spec, kind, query):
    response = client.get(f"/api/v1/{kind}?{query}")
    conforms(spec, f"/api/v1/{kind}", response)
    body = response.get_json()
    assert {item["kind"] for item in body["items"]} <= {kind.removesuffix("s")}
    assert all(item["url"].startswith("http://localhost/") for item in body["items"])


@pytest.mark.parametrize("kind", KINDS)
def test_paging_gives_every_entry_once_with_the_right_total(client, spec, kind):
    whole = client.get(f"/api/v1/{kind}?per_page={MAX_PER_PAGE}").get_json()
    paged = all_items(client, spec, f"http://localhost/api/v1/{kind}?per_page=4")
    ids = [item["id"] for item in paged]
    assert len(ids) == len(set(ids)) == whole["total"] > 4
    assert ids == [item["id"] for item in whole["items"]]
    first = client.get(f"/api/v1/{kind}?per_page=4").get_json()
    assert first["pages"] == -(-whole["total"] // 4) and first["links"]["prev"] is None


def test_paging_links_keep_the_filter_and_past_the_end_is_empty(client, spec):
    response = client.get("/api/v1/offers?language=ar&per_page=2&page=2")
    body = response.get_json()
    assert body["links"]["next"] == "http://localhost/api/v1/offers?language=ar&per_page=2&page=3"
    assert '<http://localhost/api/v1/offers?language=ar&per_page=2&page=1>; rel="prev"' in response.headers["Link"]
    beyond = client.get(f"/api/v1/offers?language=ar&per_page=2&page={body['pages'] + 1}")
    conforms(spec, "/api/v1/offers", beyond)
    assert beyond.get_json()["items"] == [] and beyond.get_json()["total"] == body["total"]


@pytest.mark.parametrize("query", ["", "from=2027-03-01&to=2027-03-31", "town=Espenrode", "q=frauen",
                                   "category=culture-and-leisure&from=2027-01-01", "to=2027-01-31"])
def test_events_are_those_of_the_event_pages_with_the_same_dates(app, client, spec, query):
    with app.test_request_context(f"/events?{query}"):
        dated = directory.event_dates(directory.request_filters(), directory.today())
    expected: dict[str, list] = {}
    for d in dated:
        expected.setdefault(d.entry["entry_id"], []).append(d.occurrence)
    items = all_items(client, spec, f"http://localhost/api/v1/events?per_page=7&{query}")
    assert [item["id"] for item in items] == list(expected)
    for item in items:
        occurrences = expected[item["id"]]
        assert [d["status"] for d in item["dates"]] == [o.status for o in occurrences]
        assert [d["recurrence_id"] for d in item["dates"]] == [o.recurrence_id for o in occurrences]
        for given, occurrence in zip(item["dates"], occurrences, strict=True):
            if occurrence.all_day:
                assert given["start"] == occurrence.start_local[:10]
            else:
                assert datetime.fromisoformat(given["start"]) == occurrence.start_utc


def test_a_moved_date_of_a_series_says_what_changed(client):
    [item] = client.get("/api/v1/events?q=frauen&from=2027-03-08&to=2027-03-08").get_json()["items"]
    [moved] = item["dates"]
    assert (moved["start"], moved["recurrence_id"]) == ("2027-03-08T17:00:00+01:00", "2027-03-06T10:00")
    assert moved["changes"]["title"]["de"] == "Frauentreff zum Internationalen Frauentag"


@pytest.mark.parametrize("query, parameter", [
    ("category=nope", "category"),
    ("provider_kind=verein", "provider_kind"),
    ("from=2026-13-01", "from"),
    ("to=gestern", "to"),
    ("from=2027-02-01&to=2027-01-01", "to"),
    ("from=2027-01-01&from=2027-02-01", "from"),
    ("changed_since=2026-11-01", "changed_since"),
    ("per_page=500", "per_page"),
    ("page=0", "page"),
    ("page=zwei", "page"),
    ("catgory=health", "catgory"),
])
@pytest.mark.parametrize("kind", KINDS)
def test_a_bad_parameter_is_a_400_naming_it(client, spec, kind, query, parameter):
    response = client.get(f"/api/v1/{kind}?{query}")
    conforms(spec, f"/api/v1/{kind}", response)
    assert response.status_code == 400
    assert re.search(rf"(^|\W){parameter}\W", response.get_json()["error"])


# --- one entry -----------------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_one_entry_is_as_in_the_list(client, spec, kind):
    listed = client.get(f"/api/v1/{kind}").get_json()["items"][0]
    response = client.get(f"/api/v1/{kind}/{listed['id']}")
    conforms(spec, f"/api/v1/{kind}/{{entry_id}}", response)
    assert response.get_json() == listed


@pytest.mark.parametrize("kind", KINDS)
def test_an_unknown_entry_is_a_404_in_json(client, spec, kind):
    other = "offers" if kind != "offers" else "events"
    wrong_kind = client.get(f"/api/v1/{other}").get_json()["items"][0]["id"]
    for entry_id in ("0123456789abcdef0123", wrong_kind):
        response = client.get(f"/api/v1/{kind}/{entry_id}")
        conforms(spec, f"/api/v1/{kind}/{{entry_id}}", response)
        assert response.status_code == 404 and entry_id in response.get_json()["error"]


# --- changes and withdrawals -----------------------------------------------------------------

def test_changed_since_brings_changes_in_order_and_withdrawals(fresh, spec):
    store, client = fresh
    harvest(store, "verein", ("offer", offer("sprechstunde", {"de": "Sprechstunde"})),
            ("offer", offer("nähcafe", {"de": "Nähcafé"})), ("offer", offer("kurs", {"de": "Deutschkurs"})))
    ids = {item["record"]["id"]: item["id"] for item in client.get("/api/v1/offers").get_json()["items"]}
    harvest(store, "verein", ("offer", offer("sprechstunde", {"de": "Offene Sprechstunde"})),
            ("offer", offer("kurs", {"de": "Deutschkurs"})), now="2026-11-23T10:00:00Z")

    response = client.get("/api/v1/offers?changed_since=2026-11-22T12:00:00Z")
    conforms(spec, "/api/v1/offers", response)
    changes = response.get_json()["items"]
    assert [(c["id"], c.get("deleted", False)) for c in changes] == sorted([(ids["sprechstunde"], False), (ids["nähcafe"], True)])
    assert {c["updated"] for c in changes} == {"2026-11-23T10:00:00Z"}
    assert ids["nähcafe"] not in {item["id"] for item in client.get("/api/v1/offers").get_json()["items"]}

    gone = client.get(f"/api/v1/offers/{ids['nähcafe']}")
    conforms(spec, "/api/v1/offers/{entry_id}", gone)
    assert gone.status_code == 410 and "withdrawn" in gone.get_json()["error"]


def test_an_unchanged_directory_answers_304_and_a_changed_one_anew(fresh, spec):
    store, client = fresh
    harvest(store, "verein", ("offer", offer("kurs", {"de": "Deutschkurs"})))
    first = client.get("/api/v1/offers")
    assert first.headers["ETag"] and first.headers["Last-Modified"] and first.headers["Access-Control-Allow-Origin"] == "*"
    again = client.get("/api/v1/offers", headers={"If-None-Match": first.headers["ETag"]})
    conforms(spec, "/api/v1/offers", again)
    assert again.status_code == 304
    since = client.get("/api/v1/offers", headers={"If-Modified-Since": first.headers["Last-Modified"]})
    assert since.status_code == 304
    harvest(store, "verein", ("offer", offer("kurs", {"de": "Deutschkurs am Abend"})), now="2026-11-23T10:00:00Z")
    changed = client.get("/api/v1/offers", headers={"If-None-Match": first.headers["ETag"]})
    assert changed.status_code == 200 and changed.headers["ETag"] != first.headers["ETag"]
    assert changed.get_json()["items"][0]["sequence"] == 1


@pytest.mark.parametrize("path", ["/api/v1/offers", "/api/v1/events.csv", "/api/openapi.json", "/api/v1/organisations/{id}"])
def test_every_answer_is_open_to_every_origin_and_conditional(client, spec, path):
    entry_id = client.get("/api/v1/organisations").get_json()["items"][0]["id"]
    url = path.replace("{id}", entry_id)
    response = client.get(url)
    response.get_data()  # read to the end: a CSV is streamed
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    repeat = client.get(url, headers={"If-None-Match": response.headers["ETag"]})
    conforms(spec, path.replace("{id}", "{entry_id}"), repeat)
    assert repeat.status_code == 304 and repeat.headers["Access-Control-Allow-Origin"] == "*"


# --- CSV -----------------------------------------------------------------------------------

def read_csv(response) -> list[dict]:
    assert response.data.startswith(b"\xef\xbb\xbf"), "no byte order mark: Excel would garble umlauts"
    return list(csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"), newline="")))


def test_csv_opens_with_umlauts_intact_and_the_rows_of_the_json(client, spec):
    response = client.get("/api/v1/offers.csv?town=Lindenau&lang=en")
    conforms(spec, "/api/v1/offers.csv", response)
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(r'attachment; filename="wegweiser-offers-2026-11-22\.csv"', response.headers["Content-Disposition"])
    rows = read_csv(response)
    listed = client.get(f"/api/v1/offers?town=Lindenau&per_page={MAX_PER_PAGE}").get_json()["items"]
    assert [row["Id"] for row in rows] == [item["id"] for item in listed]
    titles = {row["Title (German)"] for row in rows}
    assert "Flüchtlings- und Asylverfahrensberatung" in titles
    assert all(row["Page in the directory"].startswith("http://localhost/offers/") for row in rows)
    assert any("Arabic" in row["Languages"] for row in rows)


def test_events_csv_has_a_row_per_date_with_cancelled_ones_marked(app, client, spec):
    query = "from=2027-02-01&to=2027-02-28&lang=en"
    response = client.get(f"/api/v1/events.csv?{query}")
    conforms(spec, "/api/v1/events.csv", response)
    rows = read_csv(response)
    with app.test_request_context(f"/events?{query}"):
        dated = directory.event_dates(directory.request_filters(), directory.today())
    assert [row["Id"] for row in rows] == [d.entry["entry_id"] for d in dated]
    assert ("2027-02-13 10:00", "cancelled") in {(row["Start"], row["Status"]) for row in rows if row["Title (German)"] == "Frauenfrühstück"}


def test_csv_holds_every_row_not_a_page(fresh):
    store, client = fresh
    harvest(store, "verein", *[("offer", offer(f"kurs-{n}", {"de": f"Kurs {n}"})) for n in range(MAX_PER_PAGE + 30)])
    rows = read_csv(client.get("/api/v1/offers.csv?lang=en"))
    assert len({row["Id"] for row in rows}) == len(rows) == MAX_PER_PAGE + 30


def test_csv_cells_a_spreadsheet_would_run_are_text(fresh):
    store, client = fresh
    title = '=HYPERLINK("http://x";"Klick")'
    harvest(store, "verein", ("offer", offer("trick", {"de": title, "en": "@SUM(A1:A9)"},
                                             contacts=[{"name": "-2+3", "phone": "+49 561 12345", "email": "a@b.example"}])),
            ("event", event("fest", "+Straßenfest", start="2026-12-05T15:00")))
    [row] = read_csv(client.get("/api/v1/offers.csv?lang=en"))
    assert (row["Title (German)"], row["Title"], row["Phone"]) == ("'" + title, "'@SUM(A1:A9)", "'+49 561 12345")
    [event_row] = read_csv(client.get("/api/v1/events.csv?lang=en"))
    assert event_row["Title"] == "'+Straßenfest"
    # the JSON gives the record as published
    assert client.get("/api/v1/offers").get_json()["items"][0]["record"]["title"]["de"] == title


def test_csv_is_not_paged(client, spec):
    response = client.get("/api/v1/offers.csv?page=2")
    conforms(spec, "/api/v1/offers.csv", response)
    assert response.status_code == 400 and response.get_json()["error"].startswith("page:")


# --- alternates for the pages ----------------------------------------------------------------

def test_pages_can_name_the_same_list_as_json_and_csv(app, client):
    with app.test_request_context("/?town=Lindenau&language=ar&page=2&lang=tr&view=print"):
        json_link, csv_link = alternates("offer")
        header = link_header("offer")
    assert json_link.href == "http://localhost/api/v1/offers?town=Lindenau&language=ar&page=2"
    assert csv_link.href == "http://localhost/api/v1/offers.csv?town=Lindenau&language=ar"
    assert header == (f'<{json_link.href}>; rel="alternate"; type="application/json"; title="JSON", '
                      f'<{csv_link.href}>; rel="alternate"; type="text/csv"; title="CSV"')
    for link in (json_link, csv_link):
        assert client.get(link.href).status_code == 200
    entry_id = client.get("/api/v1/events").get_json()["items"][0]["id"]
    with app.test_request_context(f"/events/{entry_id}"):
        [one] = alternates("event", entry_id)
    assert client.get(one.href).get_json()["id"] == entry_id
