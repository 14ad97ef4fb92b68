"""What volunteers type into one cell becomes the value the feed writes, or a message saying how to write it."""
import pytest

from feeds.languages import COMMON_LANGUAGES, LANGUAGE_EXCEPTIONS
from feeds.sheet_cells import (LANGUAGE_SEPARATORS, Unreadable, email_address, like_start, parse_cost, parse_day, parse_end, parse_language, parse_moment, parse_opening_hours, parse_recurrence, parse_registration, parse_term, split_list, web_address)


def unreadable(parse, *args) -> Unreadable:
    """The Unreadable that ``parse(*args)`` raises."""
    with pytest.raises(Unreadable) as caught:
        parse(*args)
    return caught.value


# --- dates and times ----------------------------------------------------------------------

@pytest.mark.parametrize("start, end, expected", [
    ("05.12.2026 15:00", "05.12.2026 17:30", ("2026-12-05T15:00", "2026-12-05T17:30")),
    ("05.12.2026", "07.12.2026", ("2026-12-05", "2026-12-07")),
    ("5.12.26 15.00 Uhr", "17:00", ("2026-12-05T15:00", "2026-12-05T17:00")),
    ("2026-12-05T15:00", "2026-12-05 18:00:00", ("2026-12-05T15:00", "2026-12-05T18:00")),
])
def test_dates_in_german_and_iso_form(start, end, expected):
    first = parse_moment(start)
    assert (first, parse_end(end, first)) == expected


@pytest.mark.parametrize("parse, args, message, code", [
    (parse_moment, ("31.02.2026",), "not a date that exists", "bad-date"),
    (parse_moment, ("05.12.2026 24:00",), "no valid time of day", "bad-time"),
    (parse_moment, ("nächsten Samstag",), "is not a date", "bad-date"),
    (parse_end, ("17:00", "2026-12-05"), "only a time, but the start has none", "bad-date"),
    (parse_day, ("05.12.2026 10:00",), "takes a date only", "bad-date"),
])
def test_impossible_dates_say_what_is_wrong(parse, args, message, code):
    problem = unreadable(parse, *args)
    assert message in problem.message and problem.code == code


@pytest.mark.parametrize("moment, start, expected", [
    ("2026-12-26", "2026-12-05T10:00", "2026-12-26T10:00"),
    ("2026-12-26T09:00", "2026-12-05", "2026-12-26"),
    ("2026-12-26T09:00", "2026-12-05T10:00", "2026-12-26T09:00"),
])
def test_dates_are_written_like_the_start(moment, start, expected):
    assert like_start(moment, start) == expected


# --- repetition -----------------------------------------------------------------------------

@pytest.mark.parametrize("phrase, start, rule", [
    ("wöchentlich samstags bis 30.06.2027", "05.12.2026 15:00", "FREQ=WEEKLY;BYDAY=SA;UNTIL=20270630T215959Z"),
    ("wöchentlich samstags bis 30.01.2027", "05.12.2026 15:00", "FREQ=WEEKLY;BYDAY=SA;UNTIL=20270130T225959Z"),
    ("wöchentlich bis 30.06.2027", "05.12.2026", "FREQ=WEEKLY;UNTIL=20270630"),
    ("jeden Dienstag und Donnerstag bis 31.12.2026", "01.12.2026 18:00", "FREQ=WEEKLY;BYDAY=TU,TH;UNTIL=20261231T225959Z"),
    ("alle 2 Wochen freitags bis 30.04.2027", "04.12.2026 18:00", "FREQ=WEEKLY;INTERVAL=2;BYDAY=FR;UNTIL=20270430T215959Z"),
    ("14-tägig freitags bis 30.04.2027", "04.12.2026 18:00", "FREQ=WEEKLY;INTERVAL=2;BYDAY=FR;UNTIL=20270430T215959Z"),
    ("jeden ersten Samstag im Monat bis 30.06.2027", "05.12.2026 10:00", "FREQ=MONTHLY;BYDAY=1SA;UNTIL=20270630T215959Z"),
    ("monatlich am letzten Freitag bis 30.06.2027", "25.12.2026 10:00", "FREQ=MONTHLY;BYDAY=-1FR;UNTIL=20270630T215959Z"),
    ("RRULE:FREQ=WEEKLY;BYDAY=SA;COUNT=10", "05.12.2026 10:00", "FREQ=WEEKLY;BYDAY=SA;COUNT=10"),
])
def test_repetition_phrases_become_rrules(phrase, start, rule):
    assert parse_recurrence(phrase, parse_moment(start), "Europe/Berlin") == rule


@pytest.mark.parametrize("phrase, message", [
    ("ab und zu", "'zu' is not understood here"),
    ("jeden", "it does not say how often"),
    ("wöchentlich am 1. Samstag", "needs 'monatlich'"),
])
def test_unreadable_repetition_shows_phrases_that_work(phrase, message):
    problem = unreadable(parse_recurrence, phrase, "2026-12-05T10:00", "Europe/Berlin")
    assert message in problem.message and problem.code == "bad-recurrence"
    assert "monatlich am 1. Samstag" in problem.hint


# --- opening hours --------------------------------------------------------------------------

@pytest.mark.parametrize("cell, schedules", [
    ("Di 10:00-12:00; Do 16:00-18:00", [("WEEKLY", ["TU"], "10:00", "12:00"), ("WEEKLY", ["TH"], "16:00", "18:00")]),
    ("Mo-Fr 9-12 Uhr", [("WEEKLY", ["MO", "TU", "WE", "TH", "FR"], "09:00", "12:00")]),
    ("Di, Do 9:30-11:30, 14-16 Uhr", [("WEEKLY", ["TU", "TH"], "09:30", "11:30"), ("WEEKLY", ["TU", "TH"], "14:00", "16:00")]),
    ("dienstags 10.00–12.00\nDonnerstag 16 bis 18 Uhr", [("WEEKLY", ["TU"], "10:00", "12:00"), ("WEEKLY", ["TH"], "16:00", "18:00")]),
    ("1. Sa 10:00-13:00", [("MONTHLY", ["1SA"], "10:00", "13:00")]),
])
def test_consultation_hours_become_schedules(cell, schedules):
    found = parse_opening_hours(cell, "de")
    assert [(s["freq"], s["byday"], s["opens_at"], s["closes_at"]) for s in found] == schedules


def test_consultation_hours_note_in_brackets_is_kept():
    assert parse_opening_hours("Mi 15-17 (nach Vereinbarung)", "tr")[0]["notes"] == {"tr": "nach Vereinbarung"}


@pytest.mark.parametrize("cell, code", [("nach Vereinbarung", "bad-hours"), ("Di", "bad-hours"), ("Di 25-26", "bad-time")])
def test_consultation_hours_without_valid_times_are_unreadable(cell, code):
    problem = unreadable(parse_opening_hours, cell, "de")
    assert problem.code == code and problem.hint


# --- costs, links, registration ---------------------------------------------------------------

@pytest.mark.parametrize("cell, cost", [
    ("kostenlos", {"free": True}),
    ("0 €", {"free": True}),
    ("5 €", {"free": False, "amount": 5, "currency": "EUR"}),
    ("5,50 €", {"free": False, "amount": 5.5, "currency": "EUR"}),
    ("5,- €", {"free": False, "amount": 5, "currency": "EUR"}),
    ("1.200,00 EUR", {"free": False, "amount": 1200, "currency": "EUR"}),
    ("5 € (ermäßigt 2,50 €)", {"free": False, "amount": 5, "currency": "EUR", "reduced_amount": 2.5}),
    ("kostenlos, Spenden willkommen", {"free": True, "description": {"de": "kostenlos, Spenden willkommen"}}),
    ("A1-Kurs: 120 € pro Monat", {"free": False, "amount": 120, "currency": "EUR",
                                  "description": {"de": "A1-Kurs: 120 € pro Monat"}}),
])
def test_costs_with_german_decimal_comma(cell, cost):
    assert parse_cost(cell, "de") == cost


def test_cost_without_an_amount_is_unreadable():
    assert unreadable(parse_cost, "gegen Spende", "de").code == "bad-cost"


@pytest.mark.parametrize("cell, url", [
    ("https://verein.example/angebot", "https://verein.example/angebot"),
    ("www.verein.example/kurs", "https://www.verein.example/kurs"),
])
def test_web_addresses_get_https_when_it_is_missing(cell, url):
    assert web_address(cell) == url


def test_email_address_is_not_a_web_address():
    assert unreadable(web_address, "info@verein.example").code == "bad-url"


@pytest.mark.parametrize("cell, expected", [("mailto:info@verein.example", "info@verein.example"),
                                            (" beratung@verein.example", "beratung@verein.example")])
def test_email_addresses_lose_mailto_and_spaces(cell, expected):
    assert email_address(cell) == expected


@pytest.mark.parametrize("cell, registration", [
    ("nein", {"required": False}),
    ("ja", {"required": True}),
    ("ja, https://verein.example/anmelden", {"required": True, "url": "https://verein.example/anmelden"}),
    ("ja, bis 01.12.2026 an info@verein.example", {"required": True, "email": "info@verein.example", "deadline": "2026-12-01"}),
    ("Anmeldung erforderlich", {"required": True}),
    ("nicht nötig", {"required": False}),
    ("ja, bitte vorher anrufen", {"required": True, "description": {"de": "ja, bitte vorher anrufen"}}),
])
def test_registration_cells(cell, registration):
    assert parse_registration(cell, "de") == registration


def test_registration_that_says_neither_yes_nor_no_is_unreadable():
    assert unreadable(parse_registration, "vielleicht", "de").code == "bad-registration"


# --- vocabulary terms -------------------------------------------------------------------------

@pytest.mark.parametrize("cell, term", [
    ("beratung", "counselling"), ("FAMILIE UND KINDER", "family-and-children"), ("Health", "health"),
    ("Kültür ve boş zaman", "culture-and-leisure"), ("language-learning", "language-learning"),
])
def test_category_labels_match_any_case_and_language(cell, term):
    assert parse_term(cell, "categories") == term


def test_unknown_category_suggests_the_closest_term_with_its_german_label():
    problem = unreadable(parse_term, "Sprachkurs", "categories")
    assert problem.code == "unknown-term"
    assert "did you mean 'language-learning' (Deutsch und andere Sprachen lernen)" in problem.hint


# --- languages --------------------------------------------------------------------------------

@pytest.mark.parametrize("cell, tag", [
    ("Türkisch", "tr"), ("arabisch", "ar"), ("Rumanisch", "ro"), ("Belarussisch", "be"),
    ("Turkish", "tr"), ("Romanian", "ro"), ("Türkçe", "tr"),
    ("Dari", "fa-AF"), ("Farsi", "fa"), ("Kurmandschi", "kmr"), ("Kurmanci", "kmr"),
    ("Gebärdensprache", "gsg"), ("DGS", "gsg"), ("Deutsche Gebärdensprache", "gsg"),
    ("ku", "ku"), ("TR", "tr"), ("fa-af", "fa-AF"), ("prs", "fa-AF"),
])
def test_language_names_and_tags_become_tags(cell, tag):
    assert parse_language(cell) == tag


@pytest.mark.parametrize("name", COMMON_LANGUAGES + tuple(LANGUAGE_EXCEPTIONS))
def test_every_language_name_offered_as_a_suggestion_is_accepted(name):
    assert parse_language(name)


@pytest.mark.parametrize("cell", ["Beratung", "Hausaufgaben", "Elbisch", "\x00𐀀"])
def test_words_that_name_no_common_language_are_unreadable(cell):
    assert unreadable(parse_language, cell).code == "unknown-language"


def test_misspelt_language_suggests_the_german_name():
    assert "did you mean 'Türkisch'" in unreadable(parse_language, "Tükisch").hint


# --- lists ------------------------------------------------------------------------------------

def test_list_cells_split_at_commas_and_language_lists_at_und_too():
    assert split_list("Familie und Kinder, Beratung;\nSport") == ["Familie und Kinder", "Beratung", "Sport"]
    assert split_list("Türkisch und Arabisch/ Dari", LANGUAGE_SEPARATORS) == ["Türkisch", "Arabisch", "Dari"]
