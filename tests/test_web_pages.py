"""The directory's pages through Flask's test client, over the example district harvested into a real
SQLite file: search and facets, events by day and year, detail pages, errors, and `wegweiser serve`/`demo`."""
import json
import re
import socket
import subprocess
import sys
import time
import urllib.request

import lxml.html
import pytest

from aggregator import merge

BRUECKE = "example.bruecke-lindenau"


def entry_id(kind: str, publisher: str, local_id: str) -> str:
    return merge.entry_id_for(kind, merge.global_id(publisher, local_id))


def page(client, url: str, status: int = 200):
    response = client.get(url)
    assert response.status_code == status, response.data[:2000]
    return lxml.html.fromstring(response.data)


def texts(doc, selector: str) -> list[str]:
    return [" ".join(el.text_content().split()) for el in doc.cssselect(selector)]


def test_search_finds_an_offer_by_part_of_a_german_compound(client):
    doc = page(client, "/?q=sprechstunde&lang=en")
    titles = texts(doc, "li.result h3")
    assert any("Offene Sprechstunde" in t or "Open consultation" in t for t in titles), titles
    assert all("Hausaufgabenhilfe" not in t for t in titles)


def test_facets_show_counts_and_a_chosen_value_narrows_the_list(client):
    everything = page(client, "/?lang=en")
    total = int(texts(everything, "#results")[0].split()[0])
    labels = texts(everything, "fieldset.facet label")
    women = next(label for label in labels if label.startswith("Frauen") or label.startswith("Women"))
    count = int(re.search(r"\((\d+)\)", women)[1])
    narrowed = page(client, "/?category=women&lang=en")
    assert int(texts(narrowed, "#results")[0].split()[0]) == count < total
    assert narrowed.cssselect('input[name="category"][value="women"][checked]')
    # The chosen filter can be removed with one link back to the whole list.
    remove = narrowed.cssselect("ul.chosen a")[0].get("href")
    assert "category" not in remove


def test_filter_urls_are_stable_and_carry_every_parameter(client):
    doc = page(client, "/?q=beratung&category=counselling&town=Lindenau&language=ar")
    next_page = [a.get("href") for a in doc.cssselect('nav.pages a[rel="next"]')]
    for href in next_page:
        for part in ("q=beratung", "category=counselling", "town=Lindenau", "language=ar", "page=2"):
            assert part in href


def test_a_wrong_filter_value_says_which_parameter_and_how_to_write_it(client):
    doc = page(client, "/events?from=22.11.2026", status=400)
    assert "from: '22.11.2026' is not a date, write YYYY-MM-DD" in doc.text_content()
    doc = page(client, "/?category=beratung", status=400)
    assert "category: 'beratung' is not a known value" in doc.text_content()


def test_events_are_listed_by_day_with_recurring_dates_and_cancellations(client):
    doc = page(client, "/events?from=2027-02-01&to=2027-02-28&lang=en")
    days = [h.get("id") for h in doc.cssselect("section.day h3")]
    assert days == sorted(days)
    breakfasts = [li for li in doc.cssselect("li.date") if "Women's breakfast" in li.text_content()]
    assert len(breakfasts) == 4  # every Saturday in February 2027
    cancelled = [li for li in breakfasts if "cancelled" in li.get("class")]
    assert len(cancelled) == 1 and "Cancelled" in cancelled[0].text_content()
    assert cancelled[0].getparent().getparent().cssselect("h3")[0].get("id") == "d-2027-02-13"


def test_a_moved_date_shows_under_its_new_day_with_its_own_title(client):
    doc = page(client, "/events?from=2027-03-08&to=2027-03-08&lang=en")
    assert "Women's get-together for International Women's Day" in doc.text_content()
    assert "Women's breakfast" not in page(client, "/events?from=2027-03-06&to=2027-03-06&lang=en").text_content()


def test_event_list_offers_subscription_links_for_its_filter(client):
    doc = page(client, "/events?category=culture-and-leisure&town=Lindenau")
    links = [a.get("href") for a in doc.cssselect(".subscribe a")]
    assert any(link.startswith("webcal://") and "/events.ics?" in link and "category=culture-and-leisure" in link for link in links)
    assert any(link.startswith("http://") and "town=Lindenau" in link for link in links)


def test_year_view_lists_the_months_for_printing(client):
    doc = page(client, "/events/year?year=2027&lang=de")
    months = texts(doc, "section.month h2")
    assert months[0] == "Januar" and "September" in months
    assert doc.cssselect('link[rel="stylesheet"][media="print"]')
    page(client, "/events/year?year=zwanzig", status=400)


def test_offer_page_has_tap_to_call_hours_in_words_and_sources(client):
    doc = page(client, f"/offers/{entry_id('offer', BRUECKE, 'offene-sprechstunde')}?lang=en")
    assert "tel:+4915228817386" in [a.get("href") for a in doc.cssselect("a[href^='tel:']")]
    assert "mailto:sprechstunde@bruecke-lindenau.example" in [a.get("href") for a in doc.cssselect("a[href^='mailto:']")]
    hours = texts(doc, "ul.hours li")
    assert hours[0].startswith("every Tuesday 10:00") and "12:00" in hours[0] and "without an appointment" in hours[0]
    assert "not in the school holidays" in hours[0]
    assert "Brücke e.V." in " ".join(texts(doc, ".provenance li"))


def test_content_is_in_the_visitors_language_or_marked_as_the_feeds(client):
    turkish = page(client, f"/offers/{entry_id('offer', BRUECKE, 'offene-sprechstunde')}?lang=tr")
    title = turkish.cssselect("h1 span")[0]
    assert title.get("lang") == "tr"
    # The welcome office's offer has no Turkish text: German is shown, and marked as German.
    office = entry_id("offer", "example.lindenau.integrationsbuero", "willkommensbuero")
    fallback = page(client, f"/offers/{office}?lang=tr").cssselect("h1 span")[0]
    assert fallback.get("lang") == "de" and "Willkommensbüro" in fallback.text_content()
    arabic = page(client, f"/offers/{office}?lang=ar")
    assert arabic.get("dir") == "rtl" and arabic.cssselect("h1 span")[0].get("dir") == "rtl"


def test_event_page_lists_the_next_dates_and_json_ld(client):
    doc = page(client, f"/events/{entry_id('event', BRUECKE, 'frauenfruehstueck')}?lang=en")
    dates = texts(doc, "ul.next-dates li")
    assert len(dates) >= 10 and dates[0].startswith("Saturday, December 5, 2026")
    data = json.loads(doc.cssselect('script[type="application/ld+json"]')[0].text)
    assert data["@type"] == "Event" and data["startDate"].startswith("2026-12-05T09:00")
    assert data["organizer"]["@id"].endswith(entry_id("organisation", BRUECKE, "bruecke"))


def test_organisation_page_lists_its_offers_and_dates(client):
    doc = page(client, f"/organisations/{entry_id('organisation', BRUECKE, 'bruecke')}?lang=en")
    assert len(doc.cssselect("#offers + ul li")) == 3
    assert any("Women's breakfast" in t for t in texts(doc, "#dates + ul li"))
    assert json.loads(doc.cssselect('script[type="application/ld+json"]')[0].text)["@type"] == "Organization"


def test_unknown_entries_are_404_with_a_way_back(client):
    doc = page(client, "/offers/0123456789abcdef0123", status=404)
    assert "There is no offer with the id 0123456789abcdef0123" in doc.text_content()
    assert doc.cssselect("a[href='/']")


def test_pages_forbid_scripts_and_mark_every_response(client):
    response = client.get("/")
    assert "script-src 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_language_menu_keeps_the_filter(client):
    doc = page(client, "/?category=health&lang=de")
    arabic = [a.get("href") for a in doc.cssselect("nav.languages a[hreflang='ar']")][0]
    assert "category=health" in arabic and "lang=ar" in arabic


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get_when_up(url: str, process: subprocess.Popen, seconds: float = 60) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read().decode()
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.read().decode()
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {seconds} s")


@pytest.mark.parametrize("command", ["demo", "serve"])
def test_the_command_serves_the_directory_on_localhost(command, tmp_path, example_directory):
    port = _free_port()
    db = f"sqlite:///{tmp_path / 'demo.sqlite'}" if command == "demo" else example_directory
    process = subprocess.Popen([sys.executable, "-m", "wegweiser", command, "--db", db, "--port", str(port)],
                               cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        html = _get_when_up(f"http://127.0.0.1:{port}/?lang=de", process)
        assert "Offene Sprechstunde auf Türkisch und Arabisch" in html
    finally:
        process.terminate()
        process.wait(10)


def test_every_page_offers_the_events_of_its_filter_as_a_subscription(client):
    doc = page(client, "/?category=women&town=Lindenau")
    links = [a.get("href") for a in doc.cssselect("footer a[href^='webcal://']")]
    assert links and "category=women" in links[0] and "town=Lindenau" in links[0] and "/events.ics?" in links[0]


def test_the_browsers_first_language_wins_by_its_language_part(client):
    response = client.get("/", headers={"Accept-Language": "uk-UA,en;q=0.5"})
    assert lxml.html.fromstring(response.data).get("lang") == "uk"


def test_consultation_hours_read_in_the_visitors_language(client):
    doc = page(client, f"/offers/{entry_id('offer', BRUECKE, 'offene-sprechstunde')}?lang=de")
    hours = texts(doc, "ul.hours li")[0]
    assert "Dienstag" in hours and "ohne Termin" in hours


@pytest.mark.parametrize("url, words", [
    ("/events?from=0001-01-01", "choose a year from 1900 to 2999"),
    ("/?to=9999-12-31", "choose a year from 1900 to 2999"),
    ("/api/v1/offers?changed_since=0001-01-01T00:00:00%2B05:00", "choose a year from 1900 to 2999"),
    ("/?page=99999999999999999999", "is not a page number"),
    ("/?q=" + "wort+" * 100, "search with a few words"),
    ("/events.ics?changed_since=2026-11-22T10:00:00Z", "a calendar lists every upcoming event"),
])
def test_odd_requests_are_told_what_to_change_instead_of_failing(client, url, words):
    response = client.get(url)
    assert response.status_code == 400 and words in response.get_data(as_text=True)


def test_control_characters_in_a_search_are_ignored(client):
    assert client.get("/?q=%00beratung%1f").status_code == 200


def test_an_unknown_path_never_links_off_the_site(client):
    doc = page(client, "/%5Cevil.example/x", status=404)
    assert all(a.get("href").startswith("/?") for a in doc.cssselect("nav.languages a"))


def test_calendars_differ_by_the_address_asked_and_carry_no_cookie(client):
    one = client.get("/events.ics?lang=tr", headers={"Host": "wegweiser.example"})
    other = client.get("/events.ics?lang=tr", headers={"Host": "elsewhere.example"})
    assert one.headers["ETag"] != other.headers["ETag"]
    assert "Set-Cookie" not in one.headers
    assert "lang=tr" in client.get("/?lang=tr").headers["Set-Cookie"]


def test_lists_and_entries_name_their_json_in_a_link_header(client):
    assert 'type="application/json"' in client.get("/?category=health").headers["Link"]
    assert "category=health" in client.get("/?category=health").headers["Link"]


def test_serve_refuses_a_directory_that_does_not_exist(tmp_path):
    done = subprocess.run([sys.executable, "-m", "wegweiser", "serve", "--db", f"sqlite:///{tmp_path / 'typo.sqlite'}"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "fill it first with `wegweiser harvest" in done.stderr
    assert not (tmp_path / "typo.sqlite").exists()


def test_organisation_names_are_in_the_visitors_language_where_given(client):
    doc = page(client, "/?q=sprechstunde&lang=tr")
    assert any("Köprü Derneği" in t for t in texts(doc, "li.result .meta"))
    assert any("Köprü Derneği" in label for label in texts(doc, "fieldset.facet label"))
