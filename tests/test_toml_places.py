"""The place of each table and key in a TOML text, and TOML syntax errors told in plain words."""
import tomllib

import pytest

from aggregator.toml_places import Place, scan, syntax_problem
from tests.conftest import DATA

REGISTRY = DATA / "registry"


def problem_for(text: str):
    """The plain-words problem for TOML text that tomllib rejects."""
    with pytest.raises(tomllib.TOMLDecodeError) as raised:
        tomllib.loads(text)
    return syntax_problem(str(raised.value), text)


def test_headers_and_keys_are_placed_at_their_line_and_column():
    layout = scan('title = "Kreis"\n\n[[source]]\n  id   =   "a"\nname="A"\n')
    top, source = layout.tables
    assert (top.path, top.keys) == ((), {"title": Place(1, 1, 9)})
    assert (source.path, source.is_array, source.place) == (("source",), True, Place(3, 1, 3))
    assert source.keys == {"id": Place(4, 3, 12), "name": Place(5, 1, 6)}


def test_quoted_and_dotted_names_are_read_as_tomllib_reads_them():
    [_, source, contact] = scan('[ source ]\n"id" = 1\ndotted.key = 2\n"say = hello" = 3\n[source."kontakt"]\n').tables
    assert (source.path, source.is_array, source.place) == (("source",), False, Place(1, 1, 3))
    assert list(source.keys) == ["id", "dotted", "say = hello"]
    assert list(source.full_keys) == [("id",), ("dotted", "key"), ("say = hello",)]
    assert contact.path == ("source", "kontakt")


def test_strings_comments_and_multi_line_values_do_not_shift_the_places_after_them():
    text = ("[[source]]\n"
            "name = '''\n[[source]] not a header\nkind = \"not a key\"\n'''\n"
            "note = \"a # and [brackets]\"  # a comment with = in it\n"
            "tags = [\n  \"]\",  # ] in a comment\n  [\"nested\"],\n]\n"
            "town = \"\"\"\nLindenau\"\"\"\n"
            "url = 'C:\\feeds\\'\n")
    [_, source] = scan(text).tables
    assert {key: place.line for key, place in source.keys.items()} == {"name": 2, "note": 6, "tags": 7, "town": 11, "url": 13}


def test_the_tricky_registry_fixture_is_placed_like_the_file_reads():
    [_, first, second] = scan((REGISTRY / "tricky-but-legal.toml").read_text()).tables
    assert (first.place, second.place.line) == (Place(2, 1, 4), 12)
    assert {key: place.line for key, place in first.keys.items()} == {
        "id": 3, "name": 4, "url": 5, "kind": 6, "town": 7, "ags": 9, "interval": 10}
    assert second.keys["allow_private"] == Place(22, 1, 19)


def test_a_key_set_twice_in_one_table_is_noted_with_both_places():
    layout = scan('[[source]]\nurl = "a"\nid = "x"\nurl = "b"\n[[source]]\nurl = "c"\n')
    assert layout.repeated == [("url", Place(2, 1, 7), Place(4, 1, 7))]


@pytest.mark.parametrize("text, unclosed", [
    ('[[source]]\nname = """Verein\nurl = "x"\n', (2, 8)),
    ('tags = [\n  "a",\n', (1, 8)),
    ('a = 1\nname = "Verein\n', (2, 8)),
])
def test_the_first_string_or_bracket_never_closed_is_noted(text, unclosed):
    assert scan(text).unclosed == unclosed


def test_well_formed_text_leaves_nothing_open():
    layout = scan((REGISTRY / "tricky-with-mistakes.toml").read_text())
    assert (layout.unclosed, layout.repeated) == (None, [])


# registry file, line, column, code, words of the message, words of the hint
SYNTAX_CASES = [
    ("text-without-quotes", 6, 8, "toml-syntax", "not valid TOML: this value cannot be read",
     'put text in double quotes, e.g. town = "Lindenau"'),
    ("ags-leading-zero-number", 7, 8, "toml-syntax", "something follows the value on this line",
     'go in quotes: ags = "06639011"'),
    ("header-not-closed", 8, 9, "toml-syntax", "the [[source]] header is not closed",
     "write [[source]] with two brackets on each side"),
    ("key-set-twice", 7, 1, "repeated-key", "`url` is set twice in one table, at lines 4 and 7", "remove one of the two lines"),
    ("string-never-closed", 3, 8, "toml-syntax", "the text in quotes is never closed", "end the text with the quote mark"),
]


@pytest.mark.parametrize("name, line, column, code, message, hint", SYNTAX_CASES, ids=[c[0] for c in SYNTAX_CASES])
def test_each_syntax_error_is_told_in_plain_words_at_its_place(name, line, column, code, message, hint):
    problem = problem_for((REGISTRY / f"{name}.toml").read_text())
    assert (problem.severity, problem.line, problem.column, problem.pointer, problem.code) == ("error", line, column, "", code)
    assert message in problem.message
    assert hint in problem.hint


def test_an_error_at_the_end_of_the_document_is_placed_where_the_list_opens():
    problem = problem_for('[[source]]\nid = "a"\ntags = [\n  "x"\n')
    assert (problem.line, problem.column) == (3, 8)
    assert (problem.message, problem.hint) == ("the file is not valid TOML: a list opened with [ is never closed", "close the list with ]")


def test_a_dotted_key_set_twice_is_named_in_full():
    problem = problem_for('[[source]]\nkontakt.mail = "a"\nkontakt.mail = "b"\n')
    assert (problem.code, problem.line, problem.column) == ("repeated-key", 3, 1)
    assert problem.message == "`kontakt.mail` is set twice in one table, at lines 2 and 3"


def test_an_error_without_plain_words_keeps_tomllib_s_words_and_points_to_the_toml_guide():
    problem = problem_for('[[source]]\nname = "C:\\Vereine"\n')
    assert (problem.line, problem.column) == (2, 13)
    assert problem.message == "the file is not valid TOML: Unescaped '\\' in a string"
    assert problem.hint == "see https://toml.io/en/v1.0.0 for how TOML files are written"
