"""Web pages into records: schema.org JSON-LD, feed links, broken and hostile pages."""
import json
from datetime import date
from pathlib import Path

import pytest

from aggregator.parse_html import MAX_DEPTH, MAX_JSON_LD_CHARS, MAX_RECORDS, parse_html
from aggregator.parsed import Parsed
from aggregator.record_values import keep_valid
from aggregator.xmlsafe import UnsafeXML
from feeds.checks import FeedContext
from tests.test_parse_rss import by_title, off_house_style, record_errors, recording_server  # noqa: F401 (fixture)

DATA = Path(__file__).parent / "data" / "html"
FIXTURES = ["verein.html", "rathaus.html", "tec-single-event.html", "broken-json-ld.html"]
FALLBACK_UPDATED = "2000-01-01T00:00:00Z"
VEREIN = "https://akv-lindenau.example/"


def read(name: str, url: str = VEREIN, **options) -> Parsed:
    return parse_html((DATA / name).read_bytes(), url=url, **options)


def page(*blocks: str) -> bytes:
    """A small page holding the given JSON-LD blocks."""
    scripts = "".join(f'<script type="application/ld+json">{block}</script>\n' for block in blocks)
    return (f'<!DOCTYPE html>\n<html lang="de"><head><meta charset="utf-8">\n{scripts}</head>'
            '<body></body></html>').encode()


def event_block(name: str, start: str = "2026-12-15T15:00:00+01:00", **fields) -> str:
    return json.dumps({"@context": "https://schema.org", "@type": "Event", "name": name, "startDate": start,
                       "keywords": "Jugend", **fields}, ensure_ascii=False)


# --- schema.org records --------------------------------------------------------------------

def test_a_clubs_homepage_describes_the_club_and_its_events():
    parsed = read("verein.html")
    [club] = parsed.organisations
    assert club["name"] == {"de": "Afrikanischer Kulturverein Lindenau e.V."}
    assert club["kind"] == "migrant-self-organisation"  # from additionalType
    assert (club["email"], club["phone"]) == ("kontakt@akv-lindenau.example", "+49 341 1234567")
    assert club["address"] == {"address_1": "Lützner Straße 91", "postal_code": "04177",
                               "city": "Leipzig-Lindenau", "country": "DE"}
    assert club["languages"] == ["de", "fr", "en", "sw"]
    events = by_title(parsed.events)
    festival = events["Afrika-Tag 2026: Musik, Essen und Begegnung"]
    assert (festival["start"], festival["end"]) == ("2026-12-12T14:00", "2026-12-12T20:00")
    assert festival["organiser"] == club["id"]  # by @id
    assert festival["description"] == {"de": "Ein Nachmittag für die ganze Familie.\n\n"
                                             "Mit Trommelworkshop & Kinderprogramm."}
    assert festival["location"]["address"]["postal_code"] == "04229"
    assert (festival["location"]["latitude"], festival["location"]["longitude"]) == (51.3289, 12.3367)
    assert festival["cost"] == {"free": True}
    assert festival["languages"] == ["de", "fr"]
    assert festival["categories"] == ["culture-and-leisure", "family-and-children"]
    assert festival.get("status", "scheduled") == "scheduled"


def test_times_with_an_offset_land_as_wall_clock_times_in_the_zone():
    evening = by_title(read("verein.html").events)["Infoabend: Anerkennung ausländischer Abschlüsse"]
    assert (evening["start"], evening["end"]) == ("2027-01-20T18:30", "2027-01-20T20:00")
    istanbul = by_title(read("verein.html", timezone="Europe/Istanbul").events)
    assert istanbul["Infoabend: Anerkennung ausländischer Abschlüsse"]["start"] == "2027-01-20T20:30"


def test_language_tagged_names_keep_their_languages_and_online_places_become_virtual():
    evening = by_title(read("verein.html").events)["Infoabend: Anerkennung ausländischer Abschlüsse"]
    assert evening["title"] == {"de": "Infoabend: Anerkennung ausländischer Abschlüsse",
                                "fr": "Soirée d'information : reconnaissance des diplômes"}
    assert evening["languages"] == ["fr"]
    assert evening["location"] == {"location_type": "virtual", "url": "https://meet.akv-lindenau.example/infoabend"}
    assert evening["organiser"] == read("verein.html").organisations[0]["id"]  # by name
    assert evening["cost"] == {"free": False, "amount": 2.5, "currency": "EUR"}
    assert evening["categories"] == ["work-and-career", "legal-and-residence"]


def test_event_status_follows_schema_org():
    events = by_title(read("verein.html").events)
    assert events["Neujahrsempfang"]["status"] == "cancelled"
    assert events["Kochabend „Jollof & Co.“"]["status"] == "postponed"
    assert "status" not in events["Chorprobe (neuer Termin)"]  # rescheduled: on again, at the new date
    assert events["Chorprobe (neuer Termin)"]["start"] == "2026-12-09T19:00"


def test_a_person_as_organiser_makes_no_reference_and_a_place_without_postcode_is_reported():
    parsed = read("verein.html")
    cooking = by_title(parsed.events)["Kochabend „Jollof & Co.“"]
    assert "organiser" not in cooking and "location" not in cooking
    index = parsed.events.index(cooking)
    [problem] = [problem for problem in parsed.problems if problem.pointer == f"/events/{index}/location"]
    assert "Vereinsküche" in problem.message and problem.line == 18
    assert off_house_style(parsed.problems) == []
    chorus = by_title(parsed.events)["Chorprobe (neuer Termin)"]
    assert chorus["location"]["name"] == {"de": "Gemeindesaal"}  # written as one line of text


def test_a_town_hall_page_in_latin_1_with_a_government_service():
    parsed = read("rathaus.html", url="https://www.lindenau.example/rathaus/integrationsbuero")
    [office] = parsed.organisations
    assert office["name"] == {"de": "Integrationsbüro der Stadt Lindenau"}
    assert office["address"] == {"address_1": "Markt 1", "postal_code": "04860", "city": "Lindenau"}
    assert office["updated"] == "2026-10-04T22:00:00Z"  # midnight in Lindenau
    [advice] = parsed.offers
    assert advice["title"] == {"de": "Migrationsberatung für Erwachsene"}
    assert advice["status"] == "active" and advice["cost"] == {"free": True}
    assert advice["categories"] == ["work-and-career", "housing", "counselling"]
    assert advice["languages"] == ["de", "tr", "ar", "uk", "en"]
    assert advice["provider"] == office["id"]
    assert advice["locations"][0]["address"]["address_1"] == "Markt 1"
    [week] = parsed.events
    assert (week["start"], week["end"]) == ("2027-09-19", "2027-09-26")
    assert week["url"] == "https://www.lindenau.example/rathaus/veranstaltungen/interkulturelle-woche"  # <base>
    assert week["organiser"] == office["id"]


def test_an_event_page_of_the_events_calendar():
    parsed = read("tec-single-event.html", url="https://frauentreff-lindenau.example/veranstaltung/x/")
    [advice] = parsed.events
    assert advice["description"] == {"de-DE": "Unsere Beraterinnen helfen bei Anträgen, Briefen von Behörden und "
                                              "Fragen zu Kita und Schule.\n\nOhne Anmeldung, Kinderbetreuung vor Ort."}
    assert (advice["start"], advice["end"]) == ("2026-12-08T10:00", "2026-12-08T13:00")
    assert advice["cost"] == {"free": True}
    assert "organiser" not in advice  # a person, not an organisation on the page
    assert "country" not in advice["location"]["address"]  # "Deutschland" is no country code
    assert advice["updated"] == FALLBACK_UPDATED
    assert [organisation["name"] for organisation in parsed.organisations] == [
        {"de-DE": "Internationaler Frauentreff Lindenau e.V."}]


@pytest.mark.parametrize("name", FIXTURES)
def test_every_record_passes_the_validator(name):
    parsed = read(name)
    lists = (("organisation", parsed.organisations), ("offer", parsed.offers), ("event", parsed.events))
    assert parsed.record_count
    assert [record_errors(kind, record, parsed) for kind, records in lists for record in records] == [
        [] for _ in range(parsed.record_count)]


def test_the_same_event_twice_on_a_page_is_one_record_and_a_repeating_url_is_told_apart_by_start():
    twice = event_block("Bewerbungstraining", url="https://jmd.example/training")
    later = event_block("Bewerbungstraining", start="2026-12-22T15:00:00+01:00", url="https://jmd.example/training")
    parsed = parse_html(page(twice, twice, later), url="https://jmd.example/")
    assert [event["start"] for event in parsed.events] == ["2026-12-15T15:00", "2026-12-22T15:00"]
    assert len({event["id"] for event in parsed.events}) == 2


def test_an_event_without_a_readable_start_is_left_out_with_a_warning():
    parsed = parse_html(page(event_block("Sommerfest", start="im Juli")), url="https://verein.example/")
    assert parsed.events == []
    assert parsed.problems[0].pointer == "/events/0/start" and "Sommerfest" in parsed.problems[0].message
    assert off_house_style(parsed.problems) == []


def test_a_field_the_validator_rejects_is_left_out_with_a_warning_and_the_record_kept():
    club = json.dumps({"@type": "NGO", "name": "Verein", "email": "nicht-erreichbar", "telephone": "12"})
    parsed = parse_html(page(club), url="https://verein.example/")
    [record] = parsed.organisations
    assert "email" not in record and "phone" not in record
    assert {problem.pointer for problem in parsed.problems} == {"/organisations/0/email", "/organisations/0/phone"}
    phone = next(problem for problem in parsed.problems if problem.pointer.endswith("/phone"))
    assert phone.message == "`phone` is left out: the phone number '12' has too few or too many digits"
    assert off_house_style(parsed.problems) == []


def test_a_schema_description_as_hint_reads_as_part_of_the_warning():
    club = {"id": "verein", "updated": FALLBACK_UPDATED, "name": {"de": "Verein"}, "kind": "other",
            "address": {"address_1": "Markt 1", "postal_code": "04860", "city": "Lindenau", "country": "Deutschland"}}
    problems = []
    kept = keep_valid("organisation", club, FeedContext(today=date.today()), problems)
    assert "address" not in kept
    [problem] = problems
    assert problem.message == "`address` is left out: 'Deutschland' is not a valid value for `country`"
    assert problem.hint == "ISO 3166-1 alpha-2 country code"  # the schema's description, without its period


# --- feed links ----------------------------------------------------------------------------

def test_feed_links_become_absolute_alternates():
    assert read("verein.html", url="https://akv-lindenau.example/start").alternates == [
        "https://akv-lindenau.example/feed/", "https://akv-lindenau.example/comments/feed/",
        "https://akv-lindenau.example/veranstaltungen/?ical=1", "https://akv-lindenau.example/wp-json/wp/v2/pages/2"]


def test_feed_links_are_read_against_the_base_and_only_web_addresses_kept():
    parsed = read("homepage-feeds-only.html", url="https://sy-verein-lindenau.example/")
    assert parsed.alternates == ["https://sy-verein-lindenau.example/ar/news/feed.xml",
                                 "https://sy-verein-lindenau.example/events/atom",
                                 "https://sy-verein-lindenau.example/feed.json",
                                 "https://sy-verein-lindenau.example/calendar.ics"]
    assert parsed.problems == [] and parsed.default_language == "ar"


def test_a_page_with_neither_schema_org_data_nor_feed_links_says_so():
    parsed = read("plain.html")
    assert [problem.message for problem in parsed.problems] == ["no schema.org data and no feed link found on the page"]
    assert off_house_style(parsed.problems) == []
    assert parsed.record_count == 0


def test_one_invalid_block_is_reported_at_its_line_and_the_others_are_read():
    parsed = read("broken-json-ld.html")
    [problem] = parsed.problems
    assert (problem.severity, problem.code, problem.line) == ("warning", "json-ld-invalid", 12)
    assert off_house_style(parsed.problems) == []
    assert [event["title"]["de"] for event in parsed.events] == ["Bewerbungstraining für junge Zugewanderte"]


@pytest.mark.parametrize("declared", ["", '<meta charset="x-unbekannt">'])
def test_a_page_without_a_known_charset_is_read_as_utf_8(declared):
    body = f'<html><head>{declared}<script type="application/ld+json">{event_block("Straßenfest")}</script>'
    assert parse_html(body.encode(), url="https://verein.example/").events[0]["title"] == {"de": "Straßenfest"}


@pytest.mark.parametrize("body", [b"", b"   \n "])
def test_an_empty_body_is_no_page(body):
    with pytest.raises(ValueError, match="not a readable web page"):
        parse_html(body, url="https://verein.example/")


# --- hostile pages -------------------------------------------------------------------------

def test_billion_laughs_in_a_page_is_refused_before_parsing():
    laughs = ('<!DOCTYPE html [<!ENTITY a "aaaaaaaaaa">' + "".join(
        f'<!ENTITY {name} "{("&" + previous + ";") * 10}">' for previous, name in zip("abcdefgh", "bcdefghi"))
        + ']><html><body><p>&i;</p></body></html>').encode()
    with pytest.raises(UnsafeXML, match="entit"):
        parse_html(laughs, url="https://verein.example/")


def test_external_entities_in_a_page_are_refused_without_reading_or_fetching(recording_server):
    address, requests = recording_server
    for declaration in ('<!ENTITY xxe SYSTEM "file:///etc/passwd">',
                        f'<!ENTITY % remote SYSTEM "{address}/evil.dtd"> %remote;'):
        with pytest.raises(UnsafeXML) as raised:
            parse_html(f'<!DOCTYPE html [{declaration}]><html><body>&xxe;&secret;</body></html>'.encode(),
                       url="https://verein.example/")
        assert "root:" not in str(raised.value)
    assert requests == []


def test_a_page_naming_an_external_dtd_is_read_without_fetching_it(recording_server):
    address, requests = recording_server
    body = (f'<!DOCTYPE html SYSTEM "{address}/xhtml.dtd"><html lang="de"><head>'
            f'<script type="application/ld+json">{event_block("Fest &secret;")}</script></head></html>').encode()
    [event] = parse_html(body, url="https://verein.example/").events
    assert event["title"] == {"de": "Fest &secret;"}
    assert requests == []


def test_json_ld_nested_beyond_the_parser_is_a_warning():
    parsed = parse_html(page("[" * 100_000 + "]" * 100_000, event_block("Fest")), url="https://verein.example/")
    assert [problem.code for problem in parsed.problems] == ["json-ld-too-deep"]
    assert [event["title"]["de"] for event in parsed.events] == ["Fest"]
    assert off_house_style(parsed.problems) == []


def test_json_ld_nested_beyond_the_depth_limit_is_read_down_to_the_limit():
    deep = json.loads(event_block("Tief unten"))
    for _ in range(MAX_DEPTH + 5):
        deep = {"@type": "ItemList", "itemListElement": [deep]}
    parsed = parse_html(page(json.dumps({"@graph": [json.loads(event_block("Oben")), deep]})),
                        url="https://verein.example/")
    assert [event["title"]["de"] for event in parsed.events] == ["Oben"]
    assert [problem.code for problem in parsed.problems] == ["json-ld-too-deep"]
    assert off_house_style(parsed.problems) == []


def test_a_huge_json_ld_block_is_refused_and_the_next_one_read():
    huge = json.dumps({"@type": "Event", "name": "x" * (MAX_JSON_LD_CHARS + 1)})
    parsed = parse_html(page(huge, event_block("Fest")), url="https://verein.example/")
    [problem] = parsed.problems
    assert problem.code == "json-ld-too-large" and problem.line == 3
    assert off_house_style(parsed.problems) == []
    assert [event["title"]["de"] for event in parsed.events] == ["Fest"]


def test_a_page_of_countless_tiny_blocks_is_read_up_to_the_record_limit():
    tiny = json.dumps({"@type": "NGO", "name": "Verein"})
    parsed = parse_html(page(*[tiny] * (MAX_RECORDS + 50)), url="https://verein.example/")
    assert len(parsed.organisations) == 1  # the same nameless club, described again and again
    assert [problem.code for problem in parsed.problems] == ["json-ld-too-many"]
    assert off_house_style(parsed.problems) == []


def test_a_page_past_libxml2s_text_limit_is_read_up_to_it_with_a_warning():
    body = page(event_block("Vorher"), '"' + "x" * 11_000_000 + '"', event_block("Danach"))
    parsed = parse_html(body, url="https://verein.example/")
    assert [event["title"]["de"] for event in parsed.events] == ["Vorher"]
    assert "html-cut-short" in [problem.code for problem in parsed.problems]
    assert off_house_style(parsed.problems) == []
