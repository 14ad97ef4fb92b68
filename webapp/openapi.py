"""The OpenAPI 3.1 description of the directory's API: every path, parameter and response.

Records are described by the feed format's own JSON Schemas (schema/*.schema.json), embedded under
``components/schemas`` as they are loaded, so the API cannot drift from the format. Their references
between files are turned into references inside this document: the schemas' ``$id`` addresses are
names, not places a tool could fetch them from, and many OpenAPI tools do not look up embedded
``$id``s. Vocabulary parameters list the terms of the vocabularies the app loads.
"""
from functools import cache
from urllib.parse import urljoin

import wegweiser_schema
from aggregator.query import MAX_PER_PAGE
from webapp.i18n import LANGUAGES

# The feed format's schema files, and the names they are embedded under
EMBEDDED = {"common": "CommonDefinitions", "offer": "OfferRecord", "event": "EventRecord", "organisation": "OrganisationRecord"}
# kind, the path's plural, the name its schemas go by
KINDS = (("offer", "offers", "Offer"), ("event", "events", "Event"), ("organisation", "organisations", "Organisation"))
FILTERS = ("q", "category", "target_group", "language", "town", "organisation", "provider_kind", "from", "to", "changed_since")
PAGING = ("page", "per_page")
ENTRY_ID = {"type": "string", "pattern": "^[0-9a-f]{20}$", "description": "The entry's id in this directory, stable across harvests."}


def document(server_url: str) -> dict:
    """The OpenAPI document with this site as its server."""
    return {**_document(), "servers": [{"url": server_url}]}


def _ref(kind: str, name: str) -> dict:
    return {"$ref": f"#/components/{kind}/{name}"}


def _format(name: str, pointer: str = "") -> dict:
    """A reference to a schema file of the feed format (or a definition in it), as embedded here."""
    return {"$ref": f"#/components/schemas/{EMBEDDED[name]}{pointer}"}


def _embedded(name: str) -> dict:
    """A schema file of the feed format with its references pointing into this document."""
    schema = wegweiser_schema.schema(name)
    places = {wegweiser_schema.schema(n)["$id"]: f"#/components/schemas/{component}" for n, component in EMBEDDED.items()}

    def local(node):
        if isinstance(node, dict):
            found = {k: local(v) for k, v in node.items() if k not in ("$id", "$schema")}
            if isinstance(node.get("$ref"), str):
                address, _, pointer = urljoin(schema["$id"], node["$ref"]).partition("#")
                found["$ref"] = places[address] + pointer
            return found
        return [local(v) for v in node] if isinstance(node, list) else node
    return local(schema) | {"description": f"{schema.get('description', '')} (The feed format's {schema['$id']})".lstrip()}


@cache
def _document() -> dict:
    paths = {}
    for kind, plural, name in KINDS:
        list_parameters = [*FILTERS, *PAGING, "lang"]
        item_parameters = ["entry_id", "from", "to", "lang"] if kind == "event" else ["entry_id", "lang"]
        paths[f"/api/v1/{plural}"] = {"get": _operation(
            f"list_{plural}", f"{name}s matching the filters, a page at a time, with facet counts",
            list_parameters, {"200": _json(f"{name}List", "A page of the list.", link=True)}, [plural])}
        paths[f"/api/v1/{plural}.csv"] = {"get": _operation(
            f"{plural}_csv", f"Every {kind} matching the filters as a spreadsheet (not paged)"
            + ("; one row per date in the range" if kind == "event" else ""),
            [*FILTERS, "lang"], {"200": _csv()}, [plural])}
        paths[f"/api/v1/{plural}/{{entry_id}}"] = {"get": _operation(
            f"get_{kind}", f"One {kind}",
            item_parameters, {"200": _json(f"{name}Item", f"The {kind}."), "404": _ref("responses", "NotFound"),
                              "410": _ref("responses", "Gone")}, [plural])}
    paths["/api/openapi.json"] = {"get": {
        "operationId": "openapi", "summary": "This document", "tags": ["api"],
        "responses": {"200": {"description": "The OpenAPI document.", "headers": _headers(),
                              "content": {"application/json": {"schema": _ref("schemas", "OpenAPI")}}},
                      "304": _ref("responses", "NotModified")}}}
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "Wegweiser directory",
            "version": "1",
            "description": (
                "The regional directory of integration offers, events and organisations as open data. "
                "Lists take the same filters as the pages (values of one filter widen, different filters narrow), "
                "are paged with total counts and facet counts, and are also available as CSV at the same path "
                "with .csv. Event lists cover the days from `from` to `to` (by default a year from today) and "
                "give each event's dates in that range. With `changed_since` a list gives the entries changed "
                "since then in order of change, withdrawn ones as `{id, kind, deleted: true, updated}`, so a "
                "copy can be kept in step. Every answer carries ETag and Last-Modified; send them back "
                "(If-None-Match, If-Modified-Since) to get 304 while nothing changed. Read-only and open to "
                "every origin (CORS)."),
        },
        "tags": [{"name": plural, "description": f"The directory's {plural}."} for _, plural, _ in KINDS]
                + [{"name": "api", "description": "About the API."}],
        "paths": paths,
        "components": {"parameters": _parameters(), "headers": _header_definitions(),
                       "responses": _responses(), "schemas": _schemas()},
    }


def _operation(operation_id: str, summary: str, parameters: list[str], answers: dict, tags: list[str]) -> dict:
    responses = {**answers, "304": _ref("responses", "NotModified"), "400": _ref("responses", "BadRequest")}
    return {"operationId": operation_id, "summary": summary, "tags": tags,
            "parameters": [_ref("parameters", p) for p in parameters], "responses": dict(sorted(responses.items()))}


def _headers(link: bool = False) -> dict:
    names = ("ETag", "Last-Modified", "Cache-Control", "Access-Control-Allow-Origin", *(("Link",) if link else ()))
    return {name: _ref("headers", name) for name in names}


def _json(schema: str, description: str, link: bool = False) -> dict:
    return {"description": description, "headers": _headers(link),
            "content": {"application/json": {"schema": _ref("schemas", schema)}}}


def _csv() -> dict:
    return {"description": "UTF-8 with a byte order mark; cells a spreadsheet would read as a formula start with an apostrophe.",
            "headers": {**_headers(), "Content-Disposition": _ref("headers", "Content-Disposition")},
            "content": {"text/csv": {"schema": {"type": "string"}, "example": "\ufeff\"Id\",\"Title\",…\r\n"}}}


def _many(description: str, items: dict) -> dict:
    """A query parameter that may be repeated (any of its values matches)."""
    return {"in": "query", "required": False, "style": "form", "explode": True, "description": description,
            "schema": {"type": "array", "items": items}}


def _one(name: str, description: str, schema: dict) -> dict:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


def _terms(vocabulary: str) -> dict:
    return {"type": "string", "enum": sorted(wegweiser_schema.term_ids(vocabulary))}


def _parameters() -> dict:
    day = {"type": "string", "format": "date", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}
    return {
        "q": _one("q", "Words to search for in every language of the texts; each word must occur. Words of three "
                       "letters or more are also found inside longer words.", {"type": "string"}),
        "category": {"name": "category", **_many("A category (vocabularies/categories.json); repeat for several.", _terms("categories"))},
        "target_group": {"name": "target_group", **_many("A target group (vocabularies/target-groups.json); repeat for several.",
                                                          _terms("target-groups"))},
        "language": {"name": "language", **_many("A language the offer or event is held in (BCP 47 tag); repeat for several.",
                                                  _format("common", "/$defs/language_tag"))},
        "town": {"name": "town", **_many("A town, as the facet counts name it; repeat for several.", {"type": "string", "minLength": 1})},
        "organisation": {"name": "organisation", **_many("An organisation's entry id (see /api/v1/organisations); repeat for several.",
                                                          ENTRY_ID)},
        "provider_kind": {"name": "provider_kind", **_many("The kind of the publishing organisation "
                                                            "(vocabularies/organisation-kinds.json); repeat for several.",
                                                            _terms("organisation-kinds"))},
        "from": _one("from", "The first day (YYYY-MM-DD, in the region's time zone). Events: dates overlapping the range; "
                             "without `from` and `to` a year from today. Offers: valid on a day of the range.", day),
        "to": _one("to", "The last day (YYYY-MM-DD, included).", day),
        "changed_since": _one("changed_since", "Only entries changed after this moment (RFC 3339 with a zone), in order "
                                               "of change, withdrawn ones included as deleted (events: within the "
                                               "list's range).",
                              {"type": "string", "format": "date-time"}),
        "page": _one("page", "The page, from 1. A page past the last has no items.", {"type": "integer", "minimum": 1, "default": 1}),
        "per_page": _one("per_page", "Items per page.", {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE, "default": 20}),
        "lang": _one("lang", "The interface language: headings and labels of the CSV, titles in that language where "
                             "the feed has them.", {"type": "string", "enum": list(LANGUAGES)}),
        "entry_id": {"name": "entry_id", "in": "path", "required": True, "schema": ENTRY_ID},
    }


def _header_definitions() -> dict:
    text = {"type": "string"}
    return {
        "ETag": {"description": "Send it back as If-None-Match to get 304 while the directory is unchanged.", "schema": text},
        "Last-Modified": {"description": "When the directory last changed.", "schema": text},
        "Cache-Control": {"description": "How long a copy may be reused.", "schema": text},
        "Access-Control-Allow-Origin": {"description": "Open data: readable from every origin.", "schema": {"const": "*"}},
        "Link": {"description": "The first, last, next and previous pages (RFC 8288).", "schema": text},
        "Content-Disposition": {"description": "A file name for the download.", "schema": text},
    }


def _responses() -> dict:
    def error(description: str) -> dict:
        return {"description": description, "headers": {"Access-Control-Allow-Origin": _ref("headers", "Access-Control-Allow-Origin")},
                "content": {"application/json": {"schema": _ref("schemas", "Error")}}}
    return {
        "NotModified": {"description": "The copy the client has is current (If-None-Match or If-Modified-Since); no body.",
                        "headers": {"ETag": _ref("headers", "ETag")}},
        "BadRequest": error("A parameter has a value the API cannot use; the message names it and says how to write it."),
        "NotFound": error("No entry of this kind has that id."),
        "Gone": error("The entry was withdrawn by its publishers."),
    }


def _schemas() -> dict:
    timestamp = _format("common", "/$defs/timestamp")
    kind_names = [kind for kind, _, _ in KINDS]
    schemas = {
        "Error": {"type": "object", "required": ["error", "status"], "additionalProperties": False,
                  "properties": {"error": {"type": "string", "minLength": 1, "description": "What is wrong and how to put it right."},
                                 "status": {"type": "integer"}}},
        "Source": {"type": "object", "required": ["source", "global_id", "fetched", "first_seen"], "additionalProperties": False,
                   "description": "A source of the directory (see /sources) whose feed has this entry.",
                   "properties": {"source": {"type": "string"}, "global_id": {"type": "string", "description": "Publisher id / the record's id."},
                                  "fetched": timestamp, "first_seen": timestamp}},
        "EventDate": {
            "type": "object", "required": ["start", "end", "all_day", "status", "recurrence_id"], "additionalProperties": False,
            "description": "One date of an event. All-day: first and last day (included); else RFC 3339 times in the event's zone.",
            "properties": {
                "start": {"oneOf": [_format("common", "/$defs/date"), timestamp]},
                "end": {"oneOf": [_format("common", "/$defs/date"), timestamp, {"type": "null"}]},
                "all_day": {"type": "boolean"},
                "status": {"enum": ["scheduled", "cancelled", "postponed"]},
                "recurrence_id": {"oneOf": [_format("common", "/$defs/date_or_local_datetime"), {"type": "null"}],
                                  "description": "For a date of a series: the start the series gives it, as the feed writes it."},
                "changes": {"type": "object", "description": "What an override changed on this date: title, description, location, …"},
            }},
        "Withdrawn": {"type": "object", "required": ["id", "kind", "deleted", "updated"], "additionalProperties": False,
                      "description": "An entry withdrawn since changed_since.",
                      "properties": {"id": ENTRY_ID, "kind": {"enum": kind_names}, "deleted": {"const": True}, "updated": timestamp}},
        "Links": {"type": "object", "required": ["self", "first", "last", "next", "prev"], "additionalProperties": False,
                  "properties": {name: {"type": "string", "format": "uri"} for name in ("self", "first", "last")}
                  | {name: {"type": ["string", "null"], "format": "uri"} for name in ("next", "prev")}},
        "Facets": {"type": "object", "description": "Per filter, how many entries each value has under the other filters.",
                   "additionalProperties": False,
                   "properties": {facet: {"type": "object", "additionalProperties": {"type": "integer", "minimum": 1}}
                                  for facet in ("category", "target_group", "language", "town", "organisation", "provider_kind")}},
        "OpenAPI": {"type": "object", "required": ["openapi", "info", "paths"]},
        "CommonDefinitions": _embedded("common"),
    }
    for kind, _, name in KINDS:
        properties = {
            "id": ENTRY_ID, "kind": {"const": kind},
            "url": {"type": "string", "format": "uri", "description": "Its page in the directory."},
            "updated": timestamp | {"description": "When the directory's entry last changed."},
            "sequence": {"type": "integer", "minimum": 0, "description": "Rises with every change (as the iCalendar SEQUENCE)."},
            "sources": {"type": "array", "items": _ref("schemas", "Source")},
            "record": _format(kind) | {"description": "The record as published, with its provenance."},
        }
        if kind == "event":
            properties["dates"] = {"type": "array", "items": _ref("schemas", "EventDate"),
                                   "description": "The event's dates in the range, cancelled ones included."}
        schemas[f"{name}Item"] = {"type": "object", "required": list(properties), "additionalProperties": False,
                                  "properties": properties}
        schemas[f"{name}List"] = {
            "type": "object", "required": ["total", "page", "per_page", "pages", "links", "facets", "items"],
            "additionalProperties": False,
            "properties": {"total": {"type": "integer", "minimum": 0}, "page": {"type": "integer", "minimum": 1},
                           "per_page": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE},
                           "pages": {"type": "integer", "minimum": 1}, "links": _ref("schemas", "Links"),
                           "facets": _ref("schemas", "Facets"),
                           "items": {"type": "array", "items": {"oneOf": [_ref("schemas", f"{name}Item"),
                                                                          _ref("schemas", "Withdrawn")]}}}}
        schemas[EMBEDDED[kind]] = _embedded(kind)
    return schemas
