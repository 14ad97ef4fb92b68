"""The registry of sources loads the region's feeds, and finds each mistake at its line and column."""
import os
from datetime import timedelta
from pathlib import Path

import pytest

from aggregator.sources import RegistryError, Source, load_registry
from tests.conftest import DATA, REPO
from tests.test_toml_places import SYNTAX_CASES

REGISTRY = DATA / "registry"
KEY_LIST = "the keys of a source are id, name, url, kind, town, ags, format, interval, allow_private"


def problems_of(name: str):
    with pytest.raises(RegistryError) as raised:
        load_registry(REGISTRY / f"{name}.toml")
    return raised.value.problems


def write_source(tmp_path, extra_line: str) -> Path:
    """A registry of one valid source, with one more line added to it."""
    registry = tmp_path / "sources.toml"
    registry.write_text('[[source]]\nid = "a"\nname = "A"\nurl = "https://a.example/f"\nkind = "other"\ntown = "L"\n' + extra_line + "\n")
    return registry


def test_bundled_registry_loads_five_sources_with_existing_files():
    sources = load_registry(REPO / "feeds" / "examples" / "sources.toml")
    assert [s.id for s in sources] == ["kreis-auenland-integrationszentrum", "lindenau-integrationsbuero",
                                       "bruecke-lindenau", "ukrainischer-verein-auenland", "diakonie-auenland"]
    assert all(s.is_local and Path(s.url).is_absolute() and Path(s.url).is_file() for s in sources)
    assert [s.line for s in sources] == [7, 16, 25, 34, 44]
    ukrainian = sources[3]
    assert (ukrainian.format, ukrainian.interval, ukrainian.ags, ukrainian.town) == ("ical", timedelta(hours=4), "06639004", "Espenrode")


def test_feed_paths_are_read_from_the_registry_folder_not_the_working_directory(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    sources = load_registry(os.path.relpath(REPO / "feeds" / "examples" / "sources.toml", tmp_path))
    assert Path(sources[0].url) == REPO / "feeds" / "examples" / "kreis-auenland-integrationszentrum.json"


def test_tricky_but_legal_toml_loads_with_the_right_values_and_lines():
    first, second = load_registry(REGISTRY / "tricky-but-legal.toml")
    assert first == Source(id="verein-nr.1", name="Verein #1 [Lindenau]", url="https://example.org/feed.json?a=1#top",
                           kind="other", town="Lindenau", ags="06639011", format=None,
                           interval=timedelta(minutes=90), allow_private=False, line=2)
    assert not first.is_local
    assert second.line == 12
    assert second.name == 'Verein "Brücke" e.V.\n# not a comment\n[[source]] not a header'
    assert (second.allow_private, second.format, second.interval, second.ags) == (True, "json", timedelta(minutes=90), None)
    assert second.is_local and second.url == str(DATA / "valid" / "minimal-complete.json")


def test_source_without_optional_keys_gets_the_defaults(tmp_path):
    [source] = load_registry(write_source(tmp_path, ""))
    assert (source.interval, source.allow_private, source.format, source.ags) == (timedelta(hours=1), False, None, None)


def test_file_with_no_sources_is_an_empty_registry(tmp_path):
    registry = tmp_path / "sources.toml"
    registry.write_text("# No sources registered yet.\n")
    assert load_registry(registry) == []


@pytest.mark.parametrize("interval, expected", [
    ('"30m"', timedelta(minutes=30)), ('"6h"', timedelta(hours=6)), ('"1d"', timedelta(days=1)),
    ('"1h30m"', timedelta(minutes=90)), ('" 12H "', timedelta(hours=12)), ("300", timedelta(minutes=5)),
    ('"7d"', timedelta(days=7)),
])
def test_interval_is_read_in_every_written_form(tmp_path, interval, expected):
    assert load_registry(write_source(tmp_path, f"interval = {interval}"))[0].interval == expected


@pytest.mark.parametrize("interval, described", [('"90s"', "90 seconds"), ("0", "0 seconds"), ('"1m"', "1 minute")])
def test_interval_below_five_minutes_says_how_short_it_is(tmp_path, interval, described):
    with pytest.raises(RegistryError) as raised:
        load_registry(write_source(tmp_path, f"interval = {interval}"))
    [problem] = raised.value.problems
    assert problem.message == f"an interval of {described} is shorter than the minimum of 5 minutes"


# file, line, column, pointer, code, words of the message, words of the hint
CASES = [
    ("unknown-key-intervall", 7, 1, "/source/0/intervall", "unknown-key", "`intervall` is not a key of a source",
     f"did you mean `interval`? {KEY_LIST}"),
    ("unknown-key-allowPrivate", 7, 3, "/source/0/allowPrivate", "unknown-key", "`allowPrivate` is not a key",
     "did you mean `allow_private`?"),
    ("sub-table", 8, 1, "/source/0/kontakt", "unknown-key", "`kontakt` is not a key of a source",
     f"{KEY_LIST}; remove the line or make it a comment with #"),
    ("duplicate-id", 9, 6, "/source/1/id", "duplicate-id", "the sources at lines 1 and 8 both have the id 'bruecke-lindenau'",
     "every source needs an id of its own"),
    ("duplicate-url", 11, 7, "/source/1/url", "duplicate-url", "the sources at lines 1 and 8 register the same feed",
     "would be harvested twice"),
    ("allow-private-yes", 7, 17, "/source/0/allow_private", "wrong-type", '`allow_private` must be true or false, not the text "yes"',
     "write allow_private = true or allow_private = false, without quotes"),
    ("ags-as-number", 7, 7, "/source/0/ags", "wrong-type", "`ags` must be text in quotes, not the number 2000000",
     'write ags = "2000000" with double quotes'),
    ("unknown-kind", 5, 8, "/source/0/kind", "unknown-kind", "'Migrantenorganisation' is not a kind of organisation",
     "did you mean 'migrant-self-organisation'? the kinds are municipal-integration-office, "),
    ("unknown-format", 7, 12, "/source/0/format", "unknown-format", "'ics' is not a format the aggregator reads",
     "did you mean 'ical'? use one of json, ical, rss, html, csv, or leave `format` out"),
    ("ftp-url", 4, 7, "/source/0/url", "bad-url-scheme", "uses ftp:, which the aggregator does not fetch",
     "use an address starting with https://"),
    ("file-url", 4, 7, "/source/0/url", "bad-url-scheme", "'file:///etc/passwd' uses file:",
     "write the path without file://, relative to the folder of this registry"),
    ("webcal-url", 4, 7, "/source/0/url", "bad-url-scheme", "uses webcal:", "write https:// instead of webcal://"),
    ("missing-local-file", 4, 7, "/source/0/url", "no-such-file", "there is no file '../valid/minimal-complet.json'",
     "did you mean 'minimal-complete.json'? paths are read from the folder of this registry"),
    ("local-folder", 4, 7, "/source/0/url", "no-such-file", "'../valid' is a folder, not a feed file",
     "name the feed file inside it, e.g. ../valid/feed.json"),
    ("address-without-scheme", 4, 7, "/source/0/url", "no-such-file", "there is no file 'www.beispielverein.example/feed.json'",
     "did you mean https://www.beispielverein.example/feed.json?"),
    ("address-without-host", 4, 7, "/source/0/url", "bad-url", "'https:///feed.json' has no host name", "write the whole address"),
    ("address-with-space", 4, 7, "/source/0/url", "bad-url", "contains a space", "remove spaces before and after the address"),
    ("interval-in-words", 7, 12, "/source/0/interval", "bad-interval", "'6 Stunden' is not a duration",
     'write a number and a unit: "90s", "30m", "6h" or "1d"'),
    ("interval-too-short", 7, 12, "/source/0/interval", "interval-too-short",
     "an interval of 2 minutes is shorter than the minimum of 5 minutes", 'write interval = "5m" or more'),
    ("interval-too-long", 7, 12, "/source/0/interval", "interval-too-long",
     "an interval of 10 days is longer than the maximum of 7 days", 'write interval = "7d" or less'),
    ("ags-seven-digits", 7, 7, "/source/0/ags", "bad-ags", "'0663904' is not a municipality key", "exactly eight digits"),
    ("ags-with-spaces", 7, 7, "/source/0/ags", "bad-ags", "'06 6 39 004' is not a municipality key",
     'write the eight digits without spaces or dots: ags = "06639004"'),
    ("missing-kind", 3, 1, "/source/0", "missing-key", "the source 'beispiel' has no `kind`",
     "add `kind` below the [[source]] line: the kind of organisation"),
    ("empty-name", 3, 8, "/source/0/name", "empty-value", "`name` is empty", "write the name of the organisation"),
    ("id-with-umlaut", 2, 6, "/source/0/id", "bad-id", "'Brücke Lindenau' cannot be used as a source id",
     "e.g. 'bruecke-lindenau'"),
    ("stray-key", 1, 1, "/region", "stray-key", "`region` belongs to no source", "the registry holds only [[source]] tables"),
    ("stray-table", 1, 1, "/sources", "stray-table", "[[sources]] is not a table the registry knows", "did you mean [[source]]?"),
    ("sub-table-above-sources", 2, 1, "/source", "stray-table", "[source.kontakt] stands above the first [[source]] header",
     "move it below the [[source]] header"),
    ("single-brackets", 1, 1, "/source", "stray-table", "[source] needs double brackets", "write [[source]]"),
    ("not-utf8", 3, 17, "", "not-utf8", "the file is not saved as UTF-8", "save it as UTF-8"),
]


@pytest.mark.parametrize("name, line, column, pointer, code, message, hint", CASES, ids=[c[0] for c in CASES])
def test_each_mistake_is_reported_at_its_line_and_column(name, line, column, pointer, code, message, hint):
    [problem] = problems_of(name)
    assert (problem.severity, problem.line, problem.column, problem.pointer, problem.code) == ("error", line, column, pointer, code)
    assert message in problem.message
    assert hint in problem.hint


def test_every_registry_fixture_is_covered():
    covered = {case[0] for case in CASES + SYNTAX_CASES} | {"tricky-but-legal", "tricky-with-mistakes", "interval-as-list", "several-problems"}
    assert {p.stem for p in REGISTRY.glob("*.toml")} == covered


def test_mistakes_after_tricky_toml_are_still_placed_exactly():
    problems = problems_of("tricky-with-mistakes")
    assert [(p.line, p.column, p.pointer, p.code) for p in problems] == [
        (4, 7, "/source/0/url", "no-such-file"),
        (5, 12, "/source/0/format", "unknown-format"),
        (11, 1, "/source/0/tags", "unknown-key"),
        (15, 1, "/source/0/dotted", "unknown-key"),
        (16, 1, "/source/0/say = hello", "unknown-key"),
    ]


def test_a_multi_line_array_does_not_shift_the_lines_after_it():
    problems = problems_of("interval-as-list")
    assert [(p.line, p.column, p.code) for p in problems] == [(7, 12, "wrong-type"), (11, 1, "unknown-key")]
    assert problems[0].message == '`interval` must be a duration such as "6h" or a number of seconds, not a list'
    assert problems[1].hint.startswith("did you mean `interval`?")


def test_all_problems_of_a_file_are_reported_together_in_line_order():
    problems = problems_of("several-problems")
    assert [(p.line, p.column, p.pointer, p.code) for p in problems] == [
        (7, 8, "/source/0/kind", "unknown-kind"),
        (9, 12, "/source/0/interval", "interval-too-short"),
        (11, 1, "/source/1", "missing-key"),
        (14, 7, "/source/1/url", "bad-url-scheme"),
        (16, 7, "/source/1/ags", "bad-ags"),
        (19, 6, "/source/2/id", "duplicate-id"),
    ]
    assert "did you mean 'migrant-self-organisation'?" in problems[0].hint
    assert "the sources at lines 3 and 18" in problems[5].message


def test_registry_error_reads_like_compiler_output():
    path = REGISTRY / "unknown-key-intervall.toml"
    with pytest.raises(RegistryError) as raised:
        load_registry(path)
    assert isinstance(raised.value, ValueError)
    assert str(raised.value).splitlines() == [
        f"{path}: the registry cannot be used",
        f"{path}:7:1: error: /source/0/intervall: `intervall` is not a key of a source (did you mean `interval`? {KEY_LIST})",
    ]


@pytest.mark.parametrize("name, line, column", [("header-not-closed", 8, 9), ("key-set-twice", 7, 1)])
def test_a_toml_syntax_error_stops_the_registry_at_its_line_and_column(name, line, column):
    path = REGISTRY / f"{name}.toml"
    with pytest.raises(RegistryError) as raised:
        load_registry(path)
    assert len(raised.value.problems) == 1
    assert str(raised.value).splitlines()[1].startswith(f"{path}:{line}:{column}: error: ")


def test_a_registry_file_that_does_not_exist_is_an_os_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_registry(tmp_path / "sources.toml")


def test_a_byte_order_mark_is_accepted(tmp_path):
    registry = tmp_path / "sources.toml"
    text = '[[source]]\nid = "a"\nname = "Verein für Integration"\nurl = "https://a.example/f"\nkind = "other"\ntown = "L"\n'
    registry.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    [source] = load_registry(registry)
    assert (source.name, source.line) == ("Verein für Integration", 1)
