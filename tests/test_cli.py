"""`wegweiser validate` as a publisher runs it: compiler-style lines, JSON, exit codes, URLs."""
import json
import shutil
import subprocess
import sys

from click.testing import CliRunner

from tests.conftest import DATA
from wegweiser.cli import main

VALID = str(DATA / "valid" / "minimal-complete.json")
BROKEN = DATA / "broken"


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def test_clean_feed_exits_0_and_prints_no_problem_lines():
    result = invoke("validate", "--today", "2026-11-22", VALID)
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "3 records checked, 0 errors, 0 warnings" in result.stderr


def test_errors_exit_1_with_one_compiler_style_line_each():
    path = str(BROKEN / "unknown-category.json")
    result = invoke("validate", "--today", "2026-11-22", path)
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{path}:45:9: error: /offers/0/categories/0: 'beratung' is not a term of the categories vocabulary "
        "(did you mean 'counselling'? see schema/vocabularies/categories.json for the list)"]


def test_warnings_alone_exit_0():
    result = invoke("validate", "--today", "2026-11-22", str(BROKEN / "not-verified-for-a-year.json"))
    assert result.exit_code == 0
    assert ": warning: /offers/0/last_verified: not verified since 2025-06-30" in result.stdout


def test_unreadable_input_exits_2_with_one_line_reason():
    path = str(BROKEN / "truncated.json")
    result = invoke("validate", path, VALID)
    assert result.exit_code == 2
    assert result.stdout.splitlines()[0].startswith(f"{path}:61:7: error: cannot read: not valid JSON")


def test_missing_file_exits_2():
    result = invoke("validate", "nowhere.json")
    assert result.exit_code == 2
    assert result.stdout.strip() == "nowhere.json:1:1: error: cannot read: no such file"


def test_json_output_is_machine_readable():
    path = str(BROKEN / "end-before-start.json")
    result = invoke("validate", "--json", "--today", "2026-11-22", path)
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["errors"] == 1
    [problem] = report["files"][0]["problems"]
    assert problem | {"message": None, "hint": None} == {
        "file": path, "line": 107, "column": 7, "severity": "error", "pointer": "/events/0/end",
        "code": "end-before-start", "message": None, "hint": None}


def test_paged_feed_over_http_is_followed_and_checked_across_pages(tmp_path, serve_directory):
    page1 = json.loads((DATA / "valid" / "minimal-complete.json").read_text())
    page2 = json.loads(json.dumps(page1))
    page1["next"] = "seite-2.json"
    page1["offers"], page1["events"] = [], []
    page2["organisations"] = []          # the provider is listed on page 1 only
    page2["events"][0]["id"] = "bruecke"  # but this id is already taken there
    (tmp_path / "feed.json").write_text(json.dumps(page1, indent=2))
    (tmp_path / "seite-2.json").write_text(json.dumps(page2, indent=2))
    base = serve_directory(tmp_path)
    result = invoke("validate", "--today", "2026-11-22", base + "feed.json")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{base}seite-2.json:")
    assert "/events/0/id: the id 'bruecke' is already used on page " + base + "feed.json" in lines[0]


def test_http_error_is_unreadable(serve_directory, tmp_path):
    base = serve_directory(tmp_path)
    result = invoke("validate", base + "missing.json")
    assert result.exit_code == 2
    assert "HTTP 404" in result.stdout


def test_installed_command_runs():
    exe = shutil.which("wegweiser") or sys.exit("wegweiser is not installed: pip install -e .")
    done = subprocess.run([exe, "validate", "--today", "2026-11-22", VALID], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


TEMPLATE = DATA.parent.parent / "feeds" / "templates" / "angebote-und-termine.csv"
PUBLISHER_OPTIONS = ["--publisher-id", "de.lindenau.bruecke", "--publisher-name", "Brücke e.V.",
                     "--kind", "migrant-self-organisation", "--town", "Lindenau", "--ags", "06639011"]


def test_convert_writes_a_feed_that_validates(tmp_path):
    out = tmp_path / "feed.json"
    result = invoke("convert", str(TEMPLATE), *PUBLISHER_OPTIONS, "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "read as utf-8-sig, 3 records written to" in result.stderr
    check = invoke("validate", str(out))
    assert check.exit_code == 0, check.output


def test_convert_with_errors_writes_nothing_and_names_row_and_column(tmp_path):
    out = tmp_path / "feed.json"
    sheet = DATA / "csv" / "fehler.csv"
    result = invoke("convert", str(sheet), *PUBLISHER_OPTIONS, "-o", str(out))
    assert result.exit_code == 1
    assert not out.exists()
    assert f"{sheet}:4:3: error:" in result.stderr


def test_convert_of_a_workbook_exits_2(tmp_path):
    book = tmp_path / "liste.xlsx"
    book.write_bytes(b"PK\x03\x04 not a csv")
    result = invoke("convert", str(book), *PUBLISHER_OPTIONS)
    assert result.exit_code == 2
    assert "this is a workbook, not a CSV file" in result.stderr
