"""RSS and Atom feeds into records, and XML that tries to expand, read files or call out refused."""
import re
import threading
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import lxml.etree
import pytest

from aggregator import xmlsafe
from aggregator.parse_rss import MAX_ITEMS, parse_rss
from aggregator.parsed import Parsed
from aggregator.xmlsafe import UnsafeXML, check_xml, xml_parser
from feeds.validate import check_record, context_for

DATA = Path(__file__).parent / "data" / "rss"
FIXTURES = ["events-module.rss", "xcal.atom", "the-events-calendar.rss", "events-manager.rss", "news.rss", "broken.rss"]
FALLBACK_UPDATED = "2000-01-01T00:00:00Z"


def read(name: str, url: str = "https://feeds.lindenau.example/termine/feed.rss", **options) -> Parsed:
    return parse_rss((DATA / name).read_bytes(), url=url, **options)


def record_errors(kind: str, record: dict, parsed: Parsed) -> list:
    """The validator's errors for a record, except the missing category that harvested formats may lack."""
    context = context_for({"default_language": parsed.default_language, "timezone": parsed.timezone,
                           "organisations": parsed.organisations}, today=date.today())
    return [problem for problem in check_record(kind, record, context) if problem.is_error
            and not ("categories" not in record and "`categories`" in problem.message)]


def by_title(records: list[dict]) -> dict[str, dict]:
    return {next(iter(record["title"].values())): record for record in records}


def in_house_style(text: str) -> bool:
    """Worded like the validator's other messages and hints: begins in lower case, ends without a period."""
    return not text[:1].isupper() and not text.endswith(".")


def off_house_style(problems: list) -> list[str]:
    """The messages and hints among the problems that are not worded like the validator's."""
    return [text for problem in problems for text in (problem.message, problem.hint) if not in_house_style(text)]


def feed_of(*items: str) -> bytes:
    """A small RSS feed with event-module items."""
    return ('<rss version="2.0" xmlns:ev="http://purl.org/rss/1.0/modules/event/"><channel><title>T</title>'
            + "".join(items) + "</channel></rss>").encode()


@pytest.fixture
def recording_server():
    """An HTTP server on 127.0.0.1 that serves an entity-declaring DTD and records every request it gets."""
    requests: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append(self.path)
            body = b'<!ENTITY secret "FETCHED-FROM-SERVER">'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", requests
    server.shutdown()
    server.server_close()


# --- events and posts ---------------------------------------------------------------------

def test_event_module_items_become_events_at_the_towns_wall_clock_time():
    parsed = read("events-module.rss")
    events = by_title(parsed.events)
    sprachcafe = events["Sprachcafé: Deutsch üben & Nachbarn kennenlernen"]
    assert (sprachcafe["start"], sprachcafe["end"]) == ("2026-12-03T18:00", "2026-12-03T20:00")
    assert sprachcafe["id"] == "termin-2026-0412"
    assert sprachcafe["updated"] == "2026-11-09T07:30:00Z"
    assert sprachcafe["categories"] == ["language-learning", "culture-and-leisure"]
    assert sprachcafe["description"] == {"de": "Jeden Donnerstag üben wir gemeinsam Deutsch – bei Tee & Gebäck.\n\n"
                                               "Kinder sind willkommen.\nDer Eintritt ist frei."}
    assert sprachcafe["location"] == {"location_type": "physical", "name": {"de": "Bürgerhaus Lindenau"},
                                      "address": {"address_1": "Hauptstraße 5", "postal_code": "04177",
                                                  "city": "Lindenau"}}
    online = events["Sprechstunde Aufenthaltsrecht (online)"]
    assert (online["start"], online["end"]) == ("2027-01-14T17:00", "2027-01-14T18:30")  # 16:00Z in winter
    assert online["location"] == {"location_type": "virtual", "url": "https://meet.lindenau.example/sprechstunde"}
    assert online["categories"] == ["legal-and-residence"]  # by its Turkish label
    week = events["Interkulturelle Woche 2027"]
    assert (week["start"], week["end"]) == ("2027-09-19", "2027-09-26")
    assert "location" not in week


def test_the_same_feed_read_for_another_zone_moves_the_wall_clock():
    events = by_title(read("events-module.rss", timezone="Europe/Istanbul").events)
    assert events["Sprechstunde Aufenthaltsrecht (online)"]["start"] == "2027-01-14T19:00"


def test_items_without_event_dates_become_posts_with_plain_text_summaries():
    parsed = read("events-module.rss")
    assert parsed.posts == [{
        "id": "news-2026-0088", "title": "Neue Broschüre „Ankommen in Lindenau“ in sechs Sprachen",
        "url": "https://www.lindenau.example/integration/aktuelles/broschuere-ankommen/",
        "published": "2026-11-17T10:00:00Z",
        "summary": "Die Broschüre gibt es ab sofort auf Deutsch, Türkisch, Arabisch, Ukrainisch, Russisch und "
                   "Englisch."}]


def test_a_place_without_an_address_is_left_out_with_a_warning():
    parsed = read("events-module.rss")
    index = [event["title"]["de"] for event in parsed.events].index("Interkulturelle Woche 2027")
    [problem] = parsed.problems
    assert (problem.severity, problem.pointer) == ("warning", f"/events/{index}/location")
    assert "Stadtgebiet Lindenau" in problem.message
    assert off_house_style(parsed.problems) == []


def test_the_next_page_of_a_paged_feed_is_followed():
    assert read("events-module.rss").next_url == "https://www.lindenau.example/integration/termine/feed.rss?seite=2"


def test_xcal_times_and_exclusive_all_day_ends_in_an_atom_feed():
    parsed = read("xcal.atom", url="https://tdkv-lindenau.example/etkinlikler/atom.xml")
    events = by_title(parsed.events)
    breakfast = events["Kadınlar kahvaltısı"]
    assert (breakfast["start"], breakfast["end"]) == ("2026-12-05T10:00", "2026-12-05T12:30")
    assert breakfast["title"] == {"tr": "Kadınlar kahvaltısı"}  # xml:lang of the feed
    assert breakfast["description"] == {"tr": "Her ay kadınlar için ortak kahvaltı. Ücretsiz."}
    assert breakfast["url"] == "https://tdkv-lindenau.example/etkinlikler/kadinlar-kahvaltisi/"
    assert breakfast["categories"] == ["women", "family-and-children"]
    kermes = events["Kermes – Wohltätigkeitsbasar"]
    assert (kermes["start"], kermes["end"]) == ("2026-12-12", "2026-12-13")  # DTEND 14th is exclusive
    assert [post["title"] for post in parsed.posts] == ["Yönetim kurulu seçildi"]
    assert parsed.default_language == "tr"


def test_the_events_calendar_writes_the_start_into_pubdate():
    events = by_title(read("the-events-calendar.rss").events)
    advice = events["Offene Sozialberatung auf Arabisch und Deutsch"]
    assert advice["start"] == "2026-12-08T10:00"
    assert advice["updated"] == FALLBACK_UPDATED  # the pubDate is the start, not a change
    assert advice["categories"] == ["counselling", "women"]
    assert advice["url"] == "https://frauentreff-lindenau.example/veranstaltung/offene-sozialberatung-12-2026/"
    assert "categories" not in events["Weihnachtsbasar"]


def test_events_manager_writes_the_start_into_pubdate():
    parsed = read("events-manager.rss")
    assert [(event["title"]["de"], event["start"]) for event in parsed.events] == [
        ("Fahrradwerkstatt für alle", "2026-12-05T14:00"), ("Stammtisch für Ehrenamtliche", "2026-12-10T19:30")]
    assert parsed.posts == []


def test_an_ordinary_wordpress_feed_gives_posts_not_events():
    parsed = read("news.rss")
    assert parsed.events == []
    assert [post["summary"] for post in parsed.posts] == [
        "Запис на курси A1 та A2 відкрито.\n\nМісць обмаль!", "Дякуємо всім, хто допоміг на святі!"]
    assert parsed.posts[0]["published"] == "2026-11-21T10:05:12Z"


@pytest.mark.parametrize("name", FIXTURES)
def test_every_record_passes_the_validator(name):
    parsed = read(name)
    assert parsed.events or parsed.posts
    assert all(record_errors("event", event, parsed) == [] for event in parsed.events)


@pytest.mark.parametrize("name", FIXTURES)
def test_ids_are_stable_and_fit_the_local_id_pattern(name):
    first, second = read(name), read(name)
    assert [event["id"] for event in first.events] == [event["id"] for event in second.events]
    assert all(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._:~-]{0,127}", record["id"])
               for record in first.events + first.posts)


def test_an_unreadable_start_keeps_the_item_as_a_post_with_a_warning():
    feed = feed_of("<item><title>Sommerfest</title><guid>fest</guid><ev:startdate>im Juli</ev:startdate></item>")
    parsed = parse_rss(feed, url="https://verein.example/feed")
    assert parsed.events == [] and [post["title"] for post in parsed.posts] == ["Sommerfest"]
    assert "'im Juli'" in parsed.problems[0].message
    assert off_house_style(parsed.problems) == []


def test_an_item_repeating_a_guid_is_left_out_with_a_warning():
    feed = b"""<rss version="2.0"><channel><title>T</title>
      <item><title>Eins</title><guid>same</guid></item>
      <item><title>Zwei</title><guid>same</guid></item></channel></rss>"""
    parsed = parse_rss(feed, url="https://verein.example/feed")
    assert [post["title"] for post in parsed.posts] == ["Eins"]
    assert parsed.problems[0].code == "rss-duplicate-guid" and "'Zwei'" in parsed.problems[0].message
    assert off_house_style(parsed.problems) == []


def test_an_end_before_the_start_is_left_out_with_a_warning():
    feed = feed_of("<item><title>Elternabend</title><guid>abend</guid><ev:startdate>2026-12-05T18:00:00+01:00"
                   "</ev:startdate><ev:enddate>2026-12-05T17:00:00+01:00</ev:enddate></item>")
    parsed = parse_rss(feed, url="https://verein.example/feed")
    assert "end" not in parsed.events[0]
    [problem] = parsed.problems
    assert (problem.pointer, problem.code) == ("/events/0/end", "end-before-start")
    assert off_house_style(parsed.problems) == []


def test_an_event_the_validator_rejects_is_left_out_with_one_sentence_saying_why():
    feed = feed_of("<item><title>Altes Fest</title><guid>alt</guid><ev:startdate>1990-06-01</ev:startdate></item>")
    parsed = parse_rss(feed, url="https://verein.example/feed")
    assert parsed.events == []
    [problem] = parsed.problems
    assert (problem.pointer, problem.code) == ("/events/0/start", "date-out-of-range")
    assert problem.message == "'Altes Fest' is left out: '1990-06-01' is implausibly far away"
    assert off_house_style(parsed.problems) == []


# --- broken and hostile XML -------------------------------------------------------------------

def test_a_malformed_feed_with_items_is_read_with_a_warning():
    parsed = read("broken.rss")
    assert [event["title"]["de"] for event in parsed.events] == ["Elterncafé & Spielgruppe"]
    assert parsed.problems[0].code == "rss-not-well-formed" and "line 7" in parsed.problems[0].message
    assert off_house_style(parsed.problems) == []


@pytest.mark.parametrize("body", [(DATA / "not-a-feed.xml").read_bytes(), b"", b"\x89PNG\r\n\x1a\n\x00\x00"])
def test_a_body_without_a_feed_is_an_error_with_a_one_line_reason(body):
    with pytest.raises(ValueError) as raised:
        parse_rss(body, url="https://verein.example/feed")
    assert "\n" not in str(raised.value) and str(raised.value).startswith("not")
    assert in_house_style(str(raised.value))


def test_a_body_that_reads_like_a_path_or_address_is_never_opened(recording_server, tmp_path):
    # feedparser opens a file whose path it is handed as bytes; the parser hands it a stream instead.
    address, requests = recording_server
    local_feed = tmp_path / "feed.rss"
    local_feed.write_bytes(b'<rss version="2.0"><channel><title>T</title><item><title>READ-FROM-DISK</title>'
                           b'<guid>x</guid></item></channel></rss>')
    for body in (str(local_feed).encode(), f"{address}/feed.rss".encode()):
        with pytest.raises(ValueError, match="not"):
            parse_rss(body, url="https://verein.example/feed")
    assert requests == []


def test_a_feed_of_endless_tiny_items_is_refused_before_feedparser_spends_minutes_on_it():
    items = "<item><title>x</title></item>" * (MAX_ITEMS + 1)
    for feed in (f'<rss version="2.0"><channel><title>T</title>{items}</channel></rss>'.encode(),
                 f'<rss version="2.0"><channel><title>T</title>{items}</channel></rss>'.encode("utf-16")):
        with pytest.raises(ValueError, match=f"{MAX_ITEMS + 1:,} items"):
            parse_rss(feed, url="https://verein.example/feed")


def test_billion_laughs_is_refused_before_any_expansion():
    with pytest.raises(UnsafeXML, match="'lol'"):
        read("billion-laughs.rss")


def test_an_external_entity_reading_a_local_file_is_refused():
    with pytest.raises(UnsafeXML, match="external entity 'xxe'") as raised:
        read("xxe-passwd.rss")
    assert "root:" not in str(raised.value)


def test_an_external_parameter_entity_is_refused_without_contacting_the_server(recording_server):
    address, requests = recording_server
    feed = (f'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY % remote SYSTEM "{address}/evil.dtd">\n%remote;\n]>\n'
            '<rss version="2.0"><channel><title>&secret;</title></channel></rss>').encode()
    with pytest.raises(UnsafeXML, match="parameter entity"):
        parse_rss(feed, url="https://verein.example/feed")
    assert requests == []


def test_a_doctype_naming_an_external_dtd_is_read_without_fetching_it(recording_server, tmp_path):
    address, requests = recording_server
    local_dtd = tmp_path / "evil.dtd"
    local_dtd.write_text('<!ENTITY secret "READ-FROM-DISK">')
    for system_id in (f"{address}/rss-0.91.dtd", local_dtd.as_uri(), "file:///etc/passwd"):
        feed = (f'<?xml version="1.0"?>\n<!DOCTYPE rss SYSTEM "{system_id}">\n<rss version="2.0"><channel>'
                '<title>Termine</title><item><title>Fest &secret;</title><guid>fest</guid>'
                '<description>&secret;</description></item></channel></rss>').encode()
        parsed = parse_rss(feed, url="https://verein.example/feed")
        shown = repr(parsed)
        assert "FETCHED-FROM-SERVER" not in shown and "READ-FROM-DISK" not in shown and "root:" not in shown
        assert [post["title"] for post in parsed.posts] == ["Fest &secret;"]
    assert requests == []


@pytest.mark.parametrize("feed", [
    # hidden from a scanner that stops at the first element-like text
    b'<!DOCTYPE r [<!-- <a> --><!ENTITY x SYSTEM "file:///etc/passwd">]><rss/>',
    '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE r [<!ENTITY x "y">]><rss/>'.encode("utf-16"),
    '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x "y">]><rss/>'.encode("utf-16-le"),
    b'<?xml version="1.0" encoding="utf-7"?>' + '<!DOCTYPE r [<!ENTITY x "y">]><rss/>'.encode("utf-7"),
    b"<?xml version='1.0'?><!doctype r [<!entity x SYSTEM 'http://127.0.0.1/'>]><rss/>",
    b'<!DOCTYPE r [<!ENTITY x>]><rss/>',
], ids=["comment", "utf-16", "utf-16-without-bom", "utf-7", "lower-case", "malformed"])
def test_entity_declarations_are_found_however_the_document_is_written(feed):
    with pytest.raises(UnsafeXML) as raised:
        check_xml(feed)
    assert in_house_style(str(raised.value)) and "\n" not in str(raised.value)


def test_plain_entities_pass_only_with_an_expat_that_bounds_expansion(monkeypatch):
    nbsp = b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY nbsp "&#160;">]><rss version="2.0"/>'
    nested = b'<!DOCTYPE rss [<!ENTITY a "x"><!ENTITY b "&a;&a;">]><rss version="2.0"/>'
    long_value = b'<!DOCTYPE rss [<!ENTITY a "' + b"x" * 1000 + b'">]><rss version="2.0"/>'
    monkeypatch.setattr(xmlsafe, "EXPAT_BOUNDS_ENTITIES", False)
    with pytest.raises(UnsafeXML, match="expat"):
        check_xml(nbsp)
    monkeypatch.setattr(xmlsafe, "EXPAT_BOUNDS_ENTITIES", True)
    check_xml(nbsp)
    with pytest.raises(UnsafeXML, match="built from other entities"):
        check_xml(nested)
    with pytest.raises(UnsafeXML, match="1000 characters"):
        check_xml(long_value)


def test_a_doctype_without_entities_passes_the_check():
    check_xml(b'<?xml version="1.0"?>\n<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" '
              b'"http://my.netscape.com/publish/formats/rss-0.91.dtd">\n<rss version="0.91"/>')


def test_the_lxml_parser_expands_nothing_reads_nothing_and_fetches_nothing(recording_server):
    address, requests = recording_server
    try:  # libxml2 either keeps the references unexpanded or stops at its amplification limit
        assert len(lxml.etree.tostring(lxml.etree.fromstring((DATA / "billion-laughs.rss").read_bytes(),
                                                             xml_parser()))) < 5000
    except lxml.etree.XMLSyntaxError as refused:
        assert "amplification" in str(refused)
    leak = lxml.etree.fromstring((DATA / "xxe-passwd.rss").read_bytes(), xml_parser())
    assert "root:" not in lxml.etree.tostring(leak, encoding="unicode")
    remote = (f'<!DOCTYPE r [<!ENTITY % remote SYSTEM "{address}/evil.dtd">%remote;]><r>&secret;</r>').encode()
    outside = (f'<!DOCTYPE r SYSTEM "{address}/outer.dtd"><r>&secret;</r>').encode()
    for document in (remote, outside):
        assert "FETCHED" not in lxml.etree.tostring(lxml.etree.fromstring(document, xml_parser()), encoding="unicode")
    assert requests == []


def test_the_lxml_parser_keeps_libxml2s_size_limits():
    huge_text = b"<r>" + b"x" * 11_000_000 + b"</r>"
    with pytest.raises(lxml.etree.XMLSyntaxError):
        lxml.etree.fromstring(huge_text, xml_parser())
