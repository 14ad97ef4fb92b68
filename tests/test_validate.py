"""The validator finds each defect of the broken feeds at its exact place, and nothing in good ones."""
import json
from pathlib import Path

import pytest

from feeds import validate
from tests.conftest import DATA, TODAY

BROKEN = DATA / "broken"


def run(path: Path) -> validate.Report:
    [report] = validate.validate_pages(str(path), lambda s: Path(s).read_bytes(), today=TODAY)
    return report


def test_complete_valid_feed_has_no_problems():
    report = run(DATA / "valid" / "minimal-complete.json")
    assert report.problems == []
    assert report.records == 3


# file, severity, line, column, pointer, code, words the message or hint must contain
CASES = [
    ("end-before-start", "error", 107, 7, "/events/0/end", "end-before-start", "before the start"),
    ("unknown-category", "error", 45, 9, "/offers/0/categories/0", "unknown-term", "did you mean 'counselling'?"),
    ("duplicate-id", "error", 100, 7, "/events/0/id", "duplicate-id", "already used at /offers/0"),
    ("unknown-reference", "error", 56, 7, "/offers/0/provider", "unknown-reference", "did you mean 'bruecke'?"),
    ("language-name-not-tag", "error", 52, 9, "/offers/0/languages/0", "invalid-language-tag", "did you mean 'tr'?"),
    ("unknown-timezone", "error", 18, 3, "/timezone", "unknown-timezone", "did you mean 'Europe/Berlin'?"),
    ("rrule-does-not-parse", "error", 116, 9, "/events/0/recurrence/rrule", "bad-rrule", "BYDAY"),
    ("rrule-hourly-forever", "error", 116, 9, "/events/0/recurrence/rrule", "endless-rrule", "add COUNT or UNTIL"),
    ("rrule-weekly-forever", "warning", 116, 9, "/events/0/recurrence/rrule", "endless-rrule", "add UNTIL"),
    ("until-not-utc", "error", 116, 9, "/events/0/recurrence/rrule", "until-not-utc", "ending in Z"),
    ("javascript-url", "error", 14, 5, "/publisher/homepage", "bad-url-scheme", "javascript"),
    ("implausible-phone", "error", 70, 11, "/offers/0/contacts/0/phone", "bad-phone", "+49"),
    ("email-without-domain", "error", 71, 11, "/offers/0/contacts/0/email", "bad-email", "beratung@bruecke"),
    ("script-in-title", "error", 104, 9, "/events/0/title/ar", "script-in-text", "<script>"),
    ("html-in-title", "warning", 103, 9, "/events/0/title/de", "html-in-text", "plain text"),
    ("no-such-date", "error", 96, 7, "/offers/0/valid_from", "no-such-date", "2026-02-30"),
    ("not-verified-for-a-year", "warning", 95, 7, "/offers/0/last_verified", "stale", "2025-06-30"),
    ("missing-title", "error", 99, 5, "/events/0", "schema-required", '"title": {"de"'),
    ("status-in-german", "error", 43, 7, "/offers/0/status", "schema-enum", "did you mean 'active'?"),
    ("physical-location-without-address", "error", 58, 9, "/offers/0/locations/0", "schema-required", "address"),
    ("closes-before-opens", "error", 85, 11, "/offers/0/schedules/0/closes_at", "end-before-start", "09:00"),
    ("unknown-license", "warning", 15, 5, "/publisher/license", "unknown-license", "CC-BY-4.0"),
    ("schema-version-2", "error", 2, 3, "/schema_version", "schema-pattern", "1.x"),
]


@pytest.mark.parametrize("name, severity, line, column, pointer, code, words", CASES, ids=[c[0] for c in CASES])
def test_broken_feed_reports_its_defect_at_the_right_place(name, severity, line, column, pointer, code, words):
    report = run(BROKEN / f"{name}.json")
    assert [(p.severity, p.line, p.column, p.pointer, p.code) for p in report.problems] == [(severity, line, column, pointer, code)]
    problem = report.problems[0]
    assert words in problem.message + " " + problem.hint


def test_every_broken_json_fixture_is_covered():
    covered = {case[0] for case in CASES} | {"truncated", "year-mistyped"}
    assert {p.stem for p in BROKEN.glob("*.json")} == covered


def test_year_typo_is_reported_on_start_and_end():
    report = run(BROKEN / "year-mistyped.json")
    assert [(p.pointer, p.code) for p in report.problems] == [
        ("/events/0/start", "date-out-of-range"), ("/events/0/end", "date-out-of-range")]


def test_truncated_json_is_unreadable_with_line_and_column():
    report = run(BROKEN / "truncated.json")
    assert report.unreadable.startswith("not valid JSON")
    assert report.unreadable_at == (61, 7)


def test_spreadsheet_is_pointed_to_the_converter():
    report = run(BROKEN / "spreadsheet.csv")
    assert "wegweiser convert" in report.unreadable


def test_missing_file_is_unreadable():
    report = run(BROKEN / "does-not-exist.json")
    assert report.unreadable == "no such file"


def test_a_bad_record_does_not_hide_the_good_ones():
    document = json.loads((DATA / "valid" / "minimal-complete.json").read_text())
    document["events"].append({"id": "kaputt", "updated": "gestern"})
    context = validate.context_for(document, today=TODAY)
    verdicts = {f.pointer: f.is_valid for f in validate.check_records(document, context)}
    assert verdicts == {"/organisations/0": True, "/offers/0": True, "/events/0": True, "/events/1": False}


def test_tombstones_need_only_id_and_when():
    document = json.loads((DATA / "valid" / "minimal-complete.json").read_text())
    document["offers"].append({"id": "alt", "deleted": True, "updated": "2026-11-01T00:00:00Z"})
    document["offers"].append({"id": "alt2", "deleted": True})
    problems = validate.check_document(document, today=TODAY)
    assert [(p.pointer, p.code) for p in problems] == [("/offers/2", "schema-required")]


def test_cross_feed_reference_is_not_checked_locally():
    document = json.loads((DATA / "valid" / "minimal-complete.json").read_text())
    document["events"][0]["co_organisers"] = [{"publisher": "de.lindenau.integrationsbuero", "id": "stadt"}]
    assert validate.check_document(document, today=TODAY) == []


def test_reference_to_own_publisher_is_checked():
    document = json.loads((DATA / "valid" / "minimal-complete.json").read_text())
    document["events"][0]["co_organisers"] = [{"publisher": "de.lindenau.bruecke", "id": "gibtsnicht"}]
    [problem] = validate.check_document(document, today=TODAY)
    assert (problem.pointer, problem.code) == ("/events/0/co_organisers/0", "unknown-reference")


def test_non_object_document_is_a_schema_error():
    [problem] = validate.check_document([1, 2], today=TODAY)
    assert problem.pointer == "" and "object" in problem.message


def test_broken_calendar_reports_each_event_at_its_line():
    report = run(DATA / "ical" / "problems.ics")
    found = [(p.line, p.severity, p.pointer, p.code) for p in report.problems if p.code != "no-category"]
    assert found == [
        (5, "error", "", "ical-no-start"),
        (15, "warning", "/events/0/recurrence", "ical-broken-rrule"),
        (33, "warning", "", "ical-duplicate-uid"),
    ]
    assert report.records == 5


def test_calendar_without_categories_is_harvestable_with_a_warning():
    report = run(DATA / "ical" / "outlook.ics")
    assert report.errors == 0
    assert "no-category" in {p.code for p in report.problems}


@pytest.mark.parametrize("field", ["address_1", "address_2", "postal_code", "city"])
def test_script_in_an_address_is_an_error_at_its_field(field):
    document = json.loads((DATA / "valid" / "minimal-complete.json").read_text())
    organisation = document["organisations"][0]
    organisation["address"] = {"address_1": "Am Markt 3", "postal_code": "34567", "city": "Lindenau"} | \
        {field: '"><svg onload=alert(1)>'}
    problems = [p for p in validate.check_document(document, today=TODAY) if p.code == "script-in-text"]
    assert [p.pointer for p in problems] == [f"/organisations/0/address/{field}"]


def test_an_address_that_cannot_be_read_is_an_error_not_a_crash():
    document = json.loads((DATA / "valid" / "minimal-complete.json").read_text())
    document["offers"][0]["url"] = "http://[x"
    problems = [p for p in validate.check_document(document, today=TODAY) if p.code == "invalid-url"]
    assert [p.pointer for p in problems] == ["/offers/0/url"]
