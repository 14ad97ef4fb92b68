"""Spreadsheets kept by volunteers become valid feeds, and every problem points at its cell."""
import csv
import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

import wegweiser_schema
from feeds.convert import COLUMNS, convert_csv, publisher_from_options

DATA = Path(__file__).parent / "data" / "csv"
TEMPLATE = Path(__file__).parent.parent / "feeds" / "templates" / "angebote-und-termine.csv"
README = TEMPLATE.with_name("README.md")
STAMP = "2026-11-22T10:00:00Z"
PUBLISHER = publisher_from_options("de.lindenau.bruecke", "Brücke Lindenau e. V.", "migrant-self-organisation",
                                   "Lindenau", ags="03155012", license="dl-de/by-2-0")


def convert(data: bytes, **options):
    """The spreadsheet converted for the test publisher at a fixed time."""
    return convert_csv(data, publisher=PUBLISHER, updated=STAMP, **options)


def sheet(header: str, *rows: str, encoding: str = "utf-8") -> bytes:
    """A semicolon-separated sheet from lines written like the file."""
    return "\r\n".join((header, *rows)).encode(encoding) + b"\r\n"


def where(result) -> list[tuple]:
    """Each problem's row, column, severity, code and pointer."""
    return [(p.line, p.column, p.severity, p.code, p.pointer) for p in result.problems]


def schema_errors(document: dict) -> list[str]:
    """What the JSON Schema finds wrong in a feed document."""
    validator = Draft202012Validator(wegweiser_schema.schema("feed"), registry=wegweiser_schema.registry())
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


def only_record(result) -> dict:
    """The one offer or event the sheet made."""
    records = result.feed.offers + result.feed.events
    assert len(records) == 1, result.problems
    return records[0]


# --- the template --------------------------------------------------------------------------

def test_template_converts_without_problems():
    result = convert(TEMPLATE.read_bytes())
    assert result.errors == []
    assert [p for p in result.problems if p.code != "stale"] == []  # zuletzt_geprueft ages with the calendar
    assert result.encoding == "utf-8-sig"
    assert [o["id"] for o in result.feed.offers] == ["sozialberatung"]
    assert [e["id"] for e in result.feed.events] == ["winterfest-2026", "frauenfruehstueck"]


def test_template_feed_matches_the_schema():
    assert schema_errors(convert(TEMPLATE.read_bytes()).feed.document) == []


def test_template_offer_has_turkish_and_arabic_consultation_hours():
    consultation = convert(TEMPLATE.read_bytes()).feed.offers[0]
    assert set(consultation["title"]) == {"de", "tr", "ar"}
    assert consultation["languages"] == ["tr", "ar", "de"]
    assert [(s["byday"], s["opens_at"], s["closes_at"]) for s in consultation["schedules"]] == [
        (["TU"], "10:00", "12:00"), (["TH"], "16:00", "18:00")]


def test_template_weekly_event_repeats_until_june():
    breakfast = convert(TEMPLATE.read_bytes()).feed.events[1]
    assert breakfast["recurrence"] == {"rrule": "FREQ=WEEKLY;BYDAY=SA;UNTIL=20270626T215959Z",
                                       "exdate": ["2027-03-27T10:00"]}


def test_template_starts_with_a_bom_and_uses_semicolons():
    data = TEMPLATE.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.splitlines()[0].count(b";") == 30


def test_readme_documents_every_column_and_term():
    readme = README.read_text(encoding="utf-8")
    header = TEMPLATE.read_text(encoding="utf-8-sig").splitlines()[0].split(";")
    missing = [f"`{name}`" for name in list(COLUMNS) + list(COLUMNS.values()) + header
               if f"`{name}`" not in readme and not name.startswith(("titel_", "beschreibung_"))]
    terms = [f"`{t}`" for v in ("categories", "target-groups") for t in wegweiser_schema.term_ids(v) if f"`{t}`" not in readme]
    assert missing == [] and terms == []


# --- encodings and delimiters ----------------------------------------------------------------

def test_cp1252_with_semicolons_and_utf8_with_commas_give_the_same_feed():
    excel = convert((DATA / "vereinsliste-cp1252-semikolon.csv").read_bytes())
    libreoffice = convert((DATA / "vereinsliste-utf8-komma.csv").read_bytes())
    assert (excel.encoding, libreoffice.encoding) == ("cp1252", "utf-8")
    assert excel.problems == libreoffice.problems == []
    assert excel.feed.document == libreoffice.feed.document
    assert excel.feed.offers[0]["description"]["de"] == "Wir üben Lesen, Schreiben und Rechnen.\nBitte Hefte mitbringen; Stifte haben wir."
    assert schema_errors(excel.feed.document) == []


def test_template_saved_as_utf8_with_commas_gives_the_same_feed():
    rows = list(csv.reader(io.StringIO(TEMPLATE.read_text(encoding="utf-8-sig")), delimiter=";"))
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    assert convert(out.getvalue().encode("utf-8")).feed.document == convert(TEMPLATE.read_bytes()).feed.document


def test_excel_delimiter_line_is_honoured():
    result = convert(b"sep=,\r\n" + sheet("id,typ,titel,kategorien", "a,Angebot,Sprachcafe,Beratung"))
    assert only_record(result)["title"] == {"de": "Sprachcafe"}
    assert result.problems == []


def test_rows_of_different_lengths_are_read():
    result = convert(sheet("id;typ;titel;kategorien;kosten", "a;Angebot;Beratung;Beratung, Frauen;5 €;;;", "b;Angebot;Kurs;Sport"))
    assert [o["id"] for o in result.feed.offers] == ["a", "b"]
    assert result.problems == []


@pytest.mark.parametrize("data, code", [
    (b"PK\x03\x04rest of a zip", "not-csv"),
    ("id;typ".encode("utf-16"), "encoding"),
    (b"id;typ;titel;kategorien\r\n\x81\x8d\x8f;Angebot;x;Beratung\r\n", "encoding"),
])
def test_files_that_are_no_csv_text_say_how_to_save_them(data, code):
    result = convert(data)
    assert where(result) == [(1, 1, "error", code, "")]
    assert "CSV" in result.problems[0].hint
    assert result.feed.offers == result.feed.events == []


# --- problems at their cells ------------------------------------------------------------------

def test_broken_sheet_reports_each_problem_at_its_row_and_column():
    result = convert((DATA / "fehler.csv").read_bytes())
    assert where(result) == [
        (1, 7, "warning", "unknown-column", ""),
        (2, 6, "error", "bad-date", "/events/0/end"),
        (3, 4, "error", "unknown-term", "/offers/0/categories"),
        (4, 3, "error", "missing-cell", ""),
    ]
    unknown_column, bad_date, unknown_term, no_title = result.problems
    assert "did you mean 'kontakt_telefon'" in unknown_column.hint
    assert "TT.MM.JJJJ HH:MM" in bad_date.hint
    assert "'Sprachkurs'" in unknown_term.message and "did you mean 'language-learning'" in unknown_term.hint
    assert "left out" in no_title.message


def test_broken_sheet_keeps_what_it_can():
    result = convert((DATA / "fehler.csv").read_bytes())
    assert len(result.errors) == 3
    assert [(e["id"], "end" in e) for e in result.feed.events] == [("sprachcafe", False)]
    assert result.feed.offers[0]["categories"] == ["counselling"]
    assert schema_errors(result.feed.document) == []


def test_row_numbers_count_spreadsheet_rows_not_file_lines():
    data = sheet("id;typ;titel;kategorien;kosten", 'a;Angebot;A;Beratung;"kostenlos,\nSpenden willkommen"',
                 "b;Angebot;B;Beratung;viel")
    assert where(convert(data)) == [(3, 5, "error", "bad-cost", "/offers/1/cost")]


def test_only_unknown_category_leaves_the_row_out_with_one_error():
    result = convert(sheet("id;typ;titel;kategorien", "a;Angebot;Sprachcafé;Sprachkurs"))
    assert where(result) == [(2, 4, "error", "unknown-term", "")]
    assert "the row was left out" in result.problems[0].message
    assert result.feed.offers == []


def test_event_without_start_is_left_out():
    result = convert(sheet("id;typ;titel;kategorien;beginn", "a;Termin;Fest;Kultur und Freizeit;31.02.2026"))
    assert where(result) == [(2, 5, "error", "bad-date", "")]
    assert "not a date that exists" in result.problems[0].message and "left out" in result.problems[0].message


def test_missing_required_column_converts_nothing():
    result = convert(sheet("id;typ;titel", "a;Angebot;Beratung"))
    assert where(result) == [(1, 4, "error", "missing-column", "")]
    assert "'kategorien'" in result.problems[0].message


def test_unknown_type_and_duplicate_id_leave_rows_out():
    result = convert(sheet("id;typ;titel;kategorien", "a;Angebot;A;Beratung", "b;Kurs;B;Beratung", "a;Angebot;C;Beratung"))
    assert where(result) == [(3, 2, "error", "unknown-type", ""), (4, 1, "error", "duplicate-id", "")]
    assert "row 2" in result.problems[1].message


def test_empty_id_is_made_from_the_title_with_a_warning():
    result = convert(sheet("id;typ;titel;kategorien", ";Angebot;Frauencafé Größe;Frauen"))
    assert only_record(result)["id"] == "frauencafe-groesse"
    assert where(result) == [(2, 1, "warning", "made-id", "/offers/0/id")]


def test_english_headers_and_values_are_accepted():
    data = sheet("ID;Type;Title;Title_AR;Categories;Target_Groups;Languages;Start;Status",
                 "x;event;Open day;يوم مفتوح;culture-and-leisure;everyone;en, ar;2026-12-05 15:00;cancelled")
    result = convert(data)
    assert result.problems == []
    assert only_record(result) | {"updated": None} == {
        "id": "x", "updated": None, "title": {"de": "Open day", "ar": "يوم مفتوح"}, "status": "cancelled",
        "start": "2026-12-05T15:00", "categories": ["culture-and-leisure"], "target_groups": ["everyone"],
        "languages": ["en", "ar"]}


def test_cells_of_columns_an_event_lacks_are_reported():
    result = convert(sheet("id;typ;titel;kategorien;beginn;sprechzeiten", "a;Termin;Fest;Sport;05.12.2026;Di 10-12"))
    assert where(result) == [(2, 6, "warning", "not-applicable", "/events/0")]


# --- dates and repetition ---------------------------------------------------------------------

def test_end_written_as_a_time_alone_is_on_the_start_day():
    event = only_record(convert(sheet("id;typ;titel;kategorien;beginn;ende", "a;Termin;Fest;Sport;5.12.26 15.00 Uhr;17:00")))
    assert (event["start"], event["end"]) == ("2026-12-05T15:00", "2026-12-05T17:00")


def test_unreadable_repetition_keeps_the_event_as_a_single_date():
    result = convert(sheet("id;typ;titel;kategorien;beginn;wiederholung", "a;Termin;Treff;Sport;05.12.2026 10:00;ab und zu"))
    assert "recurrence" not in only_record(result)
    assert where(result) == [(2, 6, "error", "bad-recurrence", "/events/0/recurrence/rrule")]
    assert "wöchentlich samstags" in result.problems[0].hint


def test_first_date_off_the_rule_is_a_warning():
    result = convert(sheet("id;typ;titel;kategorien;beginn;wiederholung", "a;Termin;Treff;Sport;04.12.2026 10:00;wöchentlich samstags bis 30.01.2027"))
    assert where(result) == [(2, 6, "warning", "start-off-rule", "/events/0/recurrence/rrule")]


def test_cancelled_dates_take_the_start_time():
    result = convert(sheet("id;typ;titel;kategorien;beginn;wiederholung;Entfällt am",
                           "a;Termin;Treff;Sport;05.12.2026 10:00;wöchentlich samstags bis 30.01.2027;26.12.2026, 02.01.2027"))
    assert only_record(result)["recurrence"]["exdate"] == ["2026-12-26T10:00", "2027-01-02T10:00"]


# --- cells that cannot be read, places and contacts --------------------------------------------

def test_consultation_hours_without_times_are_an_error():
    result = convert(sheet("id;typ;titel;kategorien;sprechzeiten", "a;Angebot;Beratung;Beratung;nach Vereinbarung"))
    assert where(result) == [(2, 5, "error", "bad-hours", "/offers/0/schedules")]
    assert "Di 10:00-12:00" in result.problems[0].hint


def test_unknown_languages_in_a_list_are_reported_and_the_others_kept():
    result = convert(sheet("id;typ;titel;kategorien;sprachen", "a;Angebot;Beratung;Beratung;Türkisch, arabisch und Dari, ku, Tükisch, Elbisch"))
    assert only_record(result)["languages"] == ["tr", "ar", "fa-AF", "ku"]
    assert where(result) == [(2, 5, "error", "unknown-language", "/offers/0/languages")] * 2


def test_address_and_online_meeting_become_two_locations_of_an_offer():
    offer = only_record(convert(sheet("id;typ;titel;kategorien;ort_name;strasse;plz;ort;online_url",
                                      "a;Angebot;Kurs;Beratung;Treff;Lindenstraße 4;1067;Dresden;www.meet.example/kurs")))
    assert offer["locations"] == [
        {"location_type": "physical", "name": {"de": "Treff"},
         "address": {"address_1": "Lindenstraße 4", "postal_code": "01067", "city": "Dresden"}},
        {"location_type": "virtual", "url": "https://www.meet.example/kurs"}]


def test_incomplete_address_is_reported_at_the_empty_cell():
    result = convert(sheet("id;typ;titel;kategorien;strasse;plz;ort", "a;Angebot;Kurs;Beratung;Lindenstraße 4;;Lindenau"))
    assert "locations" not in only_record(result)
    assert where(result) == [(2, 6, "error", "incomplete-address", "/offers/0")]


def test_contact_becomes_a_contact_of_the_offer():
    offer = only_record(convert(sheet("id;typ;titel;kategorien;kontakt_name;kontakt_telefon;kontakt_email;kontakt_sprachen",
                                      "a;Angebot;Kurs;Beratung;Ayşe Demir;+49 5121 123456;ayse@verein.example;Türkisch, Deutsch")))
    assert offer["contacts"] == [{"name": "Ayşe Demir", "phone": "+49 5121 123456", "email": "ayse@verein.example",
                                  "languages": ["tr", "de"]}]


# --- the validator's findings, placed in the sheet ---------------------------------------------

def test_validator_problems_point_at_the_cell_they_came_from():
    result = convert(sheet("id;typ;titel;kategorien;beginn;ende;kontakt_telefon",
                           "a;Termin;Fest;Sport;05.12.2026 15:00;05.12.2026 14:00;",
                           "b;Angebot;Beratung;Beratung;;;123"))
    assert where(result) == [(2, 6, "error", "end-before-start", "/events/0/end"),
                             (3, 7, "error", "bad-phone", "/offers/0/contacts/0/phone")]
    assert result.problems[0].message.startswith("ende: ")


def test_validator_finding_without_a_cell_of_its_own_points_at_the_id():
    result = convert(sheet("id;typ;titel_tr;kategorien", "a;Angebot;Danışmanlık;Beratung"))
    assert where(result) == [(2, 3, "warning", "missing-default-language", "/offers/0/title")]


# --- whatever volunteers type --------------------------------------------------------------------

CELL_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(sorted(COLUMNS)), CELL_TEXT, st.sampled_from(["Angebot", "Termin"]))
def test_any_cell_text_converts_and_every_problem_has_a_cell(column, text, kind):
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(["id", "typ", "titel", "kategorien", "beginn", column])
    writer.writerow(["a", kind, "Treff", "Sport", "05.12.2026 10:00", text])
    result = convert(out.getvalue().encode("utf-8"))
    assert all(p.line and p.column for p in result.problems)
