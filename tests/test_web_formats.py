"""One filter, one set of records: the page, the JSON API, the CSV download and the iCal subscription
of the same filter list the same entries (and, for events, the same dates)."""
import csv
import io
import re
from datetime import date, timedelta

import icalendar
import lxml.html
import pytest
import recurring_ical_events

from aggregator.store import Store

FILTERS = [
    "",
    "q=beratung",
    "category=culture-and-leisure",
    "town=Lindenau&language=ar",
    "target_group=women&target_group=newcomers",
    "provider_kind=migrant-self-organisation",
    "from=2027-02-01&to=2027-03-31",
    "q=fest&from=2027-06-01&to=2027-06-30",
]


def html_ids(client, path: str, query: str) -> set[str]:
    doc = lxml.html.fromstring(client.get(f"{path}?{query}&per_page=100").data)
    kind_path = {"/": "/offers/", "/events": "/events/", "/organisations": "/organisations/"}[path]
    return {a.get("href").rsplit("/", 1)[1] for a in doc.cssselect(f"main a[href^='{kind_path}']")
            if re.fullmatch(r"[0-9a-f]{20}", a.get("href").rsplit("/", 1)[1])}


def json_ids(client, kind: str, query: str) -> set[str]:
    body = client.get(f"/api/v1/{kind}?{query}&per_page=100").get_json()
    assert body["total"] == len(body["items"])
    return {item["id"] for item in body["items"]}


def csv_ids(client, kind: str, query: str) -> set[str]:
    text = client.get(f"/api/v1/{kind}.csv?{query}").data.decode("utf-8-sig")
    return {row[0] for row in list(csv.reader(io.StringIO(text)))[1:]}


LISTS = [("/", "offers", query) for query in FILTERS] + \
        [("/organisations", "organisations", query) for query in FILTERS if "from=" not in query]


@pytest.mark.parametrize("path, kind, query", LISTS)
def test_offers_and_organisations_are_the_same_in_every_format(client, path, kind, query):
    listed = html_ids(client, path, query)
    assert listed == json_ids(client, kind, query) == csv_ids(client, kind, query)


@pytest.mark.parametrize("query", FILTERS)
def test_events_are_the_same_in_every_format_with_the_same_dates(client, example_directory, query):
    listed = html_ids(client, "/events", query)
    api = client.get(f"/api/v1/events?{query}&per_page=100").get_json()
    assert listed == {item["id"] for item in api["items"]} == csv_ids(client, "events", query)

    calendar = icalendar.Calendar.from_ical(client.get(f"/events.ics?{query}").data)
    store = Store(example_directory)
    entry_of_uid = {e["uid"]: e["entry_id"] for e in store.entries("event")}
    store.close()
    uids = {str(component["UID"]) for component in calendar.walk("VEVENT")}
    assert {entry_of_uid[uid] for uid in uids} == listed

    # The dates: what the API lists for the range, the calendar app expands from the .ics.
    assert api["items"], "every filter here selects some events"
    low = min(date.fromisoformat(d["start"][:10]) for item in api["items"] for d in item["dates"])
    high = max(date.fromisoformat(d["start"][:10]) for item in api["items"] for d in item["dates"])
    expanded = recurring_ical_events.of(calendar).between(low, high + timedelta(days=1))
    from_ics = sorted((entry_of_uid[str(c["UID"])], c["DTSTART"].dt.isoformat()[:16]) for c in expanded
                      if c.get("STATUS") != "CANCELLED")
    from_api = sorted((item["id"], d["start"][:16]) for item in api["items"] for d in item["dates"] if d["status"] != "cancelled")
    assert from_ics == from_api
