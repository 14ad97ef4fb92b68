"""The controlled vocabularies: the term lists the format promises, trustworthy labels, the schema that checks them."""
import copy
import re
from urllib.parse import urlsplit

import pytest
from jsonschema import Draft202012Validator
from referencing import Resource

import wegweiser_schema

# The format promises these ids in this order; removing or renaming one breaks every feed that uses it.
PROMISED_TERMS = {
    "categories": [
        "language-learning", "counselling", "work-and-career", "education-and-school", "health",
        "family-and-children", "youth", "women", "seniors", "housing", "legal-and-residence",
        "asylum-and-refugee-support", "culture-and-leisure", "sport", "religion-and-dialogue", "volunteering",
        "anti-discrimination",
    ],
    "target-groups": [
        "everyone", "migration-background", "newcomers", "refugees", "women", "girls", "youth", "children",
        "parents", "families", "seniors", "lgbtiq",
    ],
    "organisation-kinds": [
        "municipal-integration-office", "district-integration-centre", "migrant-self-organisation",
        "welfare-association", "volunteer-initiative", "education-provider", "faith-community", "other",
    ],
    "licenses": ["dl-de/by-2-0", "dl-de/zero-2-0", "CC-BY-4.0", "CC-BY-SA-4.0", "CC0-1.0", "ODbL-1.0"],
}
VOCABULARIES = list(PROMISED_TERMS)

# What each licence asks of whoever re-publishes the data: (attribution required, share alike).
LICENCE_CONDITIONS = {
    "dl-de/by-2-0": (True, False),
    "dl-de/zero-2-0": (False, False),
    "CC-BY-4.0": (True, False),
    "CC-BY-SA-4.0": (True, True),
    "CC0-1.0": (False, False),
    "ODbL-1.0": (True, True),
}
LICENCE_HOSTS = {"www.govdata.de", "creativecommons.org", "opendatacommons.org"}

# schema.org's Organization and its subtypes that a publisher of integration offers can be.
SCHEMA_ORG_ORGANISATION_TYPES = {
    "Organization", "GovernmentOrganization", "NGO", "EducationalOrganization", "SportsOrganization",
    "LibrarySystem", "MedicalOrganization", "Corporation", "Project",
}

ARABIC_SCRIPT = re.compile("[\u0600-\u06ff]")
CYRILLIC_SCRIPT = re.compile("[\u0400-\u04ff]")
SCRIPT_OF_LANGUAGE = {"ar": ARABIC_SCRIPT, "fa": ARABIC_SCRIPT, "uk": CYRILLIC_SCRIPT, "ru": CYRILLIC_SCRIPT}
LATIN_SCRIPT_LANGUAGES = ("de", "en", "tr")
RUSSIAN_ONLY_LETTERS = re.compile("[ыэъё]", re.IGNORECASE)
UKRAINIAN_ONLY_LETTERS = re.compile("[іїєґ]", re.IGNORECASE)


def vocabulary_validator() -> Draft202012Validator:
    """A validator for vocabulary files that resolves the shared schema files offline."""
    schema = wegweiser_schema.schema("vocabulary")
    registry = wegweiser_schema.registry().with_resource(schema["$id"], Resource.from_contents(schema))
    return Draft202012Validator(schema, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER)


def problems(document: dict) -> list[str]:
    """Every schema violation in a vocabulary document, as 'pointer: message'."""
    errors = vocabulary_validator().iter_errors(document)
    return sorted(f"/{'/'.join(map(str, error.absolute_path))}: {error.message}" for error in errors)


def labels(name: str) -> list[tuple[str, str, str]]:
    """(term id, language, label) for every label in a vocabulary."""
    terms = wegweiser_schema.vocabulary(name)["terms"]
    return [(term["id"], language, label) for term in terms for language, label in term["label"].items()]


def terms_by_id(name: str) -> dict[str, dict]:
    """A vocabulary's terms keyed by id."""
    return {term["id"]: term for term in wegweiser_schema.vocabulary(name)["terms"]}


def test_vocabulary_schema_is_a_valid_2020_12_schema():
    schema = wegweiser_schema.schema("vocabulary")
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == "https://w3id.org/wegweiser/schema/v1/vocabulary.schema.json"


def test_the_package_lists_every_promised_vocabulary():
    assert set(wegweiser_schema.VOCABULARIES) == set(PROMISED_TERMS)


@pytest.mark.parametrize("name", VOCABULARIES)
def test_vocabulary_file_matches_the_schema(name):
    assert problems(wegweiser_schema.vocabulary(name)) == []


@pytest.mark.parametrize("name", VOCABULARIES)
def test_vocabulary_is_named_after_its_file(name):
    assert wegweiser_schema.vocabulary(name)["name"] == name


@pytest.mark.parametrize("name", VOCABULARIES)
def test_term_ids_are_unique(name):
    ids = [term["id"] for term in wegweiser_schema.vocabulary(name)["terms"]]
    assert sorted({i for i in ids if ids.count(i) > 1}) == []


@pytest.mark.parametrize("name", VOCABULARIES)
def test_term_ids_are_exactly_the_promised_ones(name):
    assert [term["id"] for term in wegweiser_schema.vocabulary(name)["terms"]] == PROMISED_TERMS[name]


@pytest.mark.parametrize("name", VOCABULARIES)
def test_term_ids_lookup_returns_the_promised_ids(name):
    assert wegweiser_schema.term_ids(name) == frozenset(PROMISED_TERMS[name])


@pytest.mark.parametrize("name", VOCABULARIES)
def test_no_label_is_blank(name):
    assert [(term_id, language) for term_id, language, label in labels(name) if not label.strip()] == []


@pytest.mark.parametrize("name", VOCABULARIES)
def test_each_term_is_labelled_differently_in_different_languages(name):
    copied = [term["id"] for term in wegweiser_schema.vocabulary(name)["terms"] if len(set(term["label"].values())) < 2]
    assert copied == []


@pytest.mark.parametrize("name", VOCABULARIES)
def test_labels_are_written_in_their_language_script(name):
    wrong_script = [
        (term_id, language, label)
        for term_id, language, label in labels(name)
        if language in SCRIPT_OF_LANGUAGE and not SCRIPT_OF_LANGUAGE[language].search(label)
    ]
    assert wrong_script == []


@pytest.mark.parametrize("name", VOCABULARIES)
def test_latin_script_labels_contain_no_arabic_or_cyrillic(name):
    swapped = [
        (term_id, language, label)
        for term_id, language, label in labels(name)
        if language in LATIN_SCRIPT_LANGUAGES and (ARABIC_SCRIPT.search(label) or CYRILLIC_SCRIPT.search(label))
    ]
    assert swapped == []


@pytest.mark.parametrize("name", VOCABULARIES)
def test_ukrainian_and_russian_labels_use_their_own_alphabets(name):
    mixed_up = [
        (term_id, language, label)
        for term_id, language, label in labels(name)
        if (language == "uk" and RUSSIAN_ONLY_LETTERS.search(label))
        or (language == "ru" and UKRAINIAN_ONLY_LETTERS.search(label))
    ]
    assert mixed_up == []


@pytest.mark.parametrize("name", VOCABULARIES)
def test_turkish_labels_are_not_copies_of_english(name):
    terms = wegweiser_schema.vocabulary(name)["terms"]
    copied = [term["id"] for term in terms if term["label"]["tr"].casefold() == term["label"]["en"].casefold()]
    assert copied == []


@pytest.mark.parametrize("name", VOCABULARIES)
def test_no_two_terms_share_a_label_in_any_language(name):
    seen: dict[tuple[str, str], str] = {}
    clashes = []
    for term_id, language, label in labels(name):
        other = seen.setdefault((language, label.casefold()), term_id)
        if other != term_id:
            clashes.append((language, label, other, term_id))
    assert clashes == []


@pytest.mark.parametrize("licence, conditions", LICENCE_CONDITIONS.items())
def test_licence_says_what_it_asks_of_re_publishers(licence, conditions):
    term = terms_by_id("licenses")[licence]
    assert (term["attribution_required"], term["share_alike"]) == conditions


@pytest.mark.parametrize("licence", PROMISED_TERMS["licenses"])
def test_licence_links_to_its_official_page(licence):
    url = urlsplit(terms_by_id("licenses")[licence]["url"])
    assert url.scheme == "https"
    assert url.hostname in LICENCE_HOSTS


@pytest.mark.parametrize("kind", PROMISED_TERMS["organisation-kinds"])
def test_organisation_kind_maps_to_a_schema_org_organisation_type(kind):
    assert terms_by_id("organisation-kinds")[kind].get("schema_org") in SCHEMA_ORG_ORGANISATION_TYPES


def test_licence_labels_need_only_german_and_english():
    document = copy.deepcopy(wegweiser_schema.vocabulary("licenses"))
    for term in document["terms"]:
        term["label"] = {"de": term["label"]["de"], "en": term["label"]["en"]}
    assert problems(document) == []


def drop_ukrainian_label(document: dict) -> None:
    """Remove one term's Ukrainian label."""
    del document["terms"][0]["label"]["uk"]


def capitalise_a_term_id(document: dict) -> None:
    """Give a topic term an id with capitals."""
    document["terms"][0]["id"] = "Language-Learning"


def use_a_licence_style_id(document: dict) -> None:
    """Give a topic term an id with a slash, which only licences may use."""
    document["terms"][0]["id"] = "language/learning"


def blank_a_label(document: dict) -> None:
    """Make one label whitespace only."""
    document["terms"][0]["label"]["de"] = "   "


def add_an_unknown_key(document: dict) -> None:
    """Add a key the format does not define."""
    document["terms"][0]["colour"] = "blue"


def give_a_topic_a_licence_url(document: dict) -> None:
    """Give a topic term a key that only licences have."""
    document["terms"][0]["url"] = "https://example.org/"


def drop_the_english_description(document: dict) -> None:
    """Remove one term's English description."""
    del document["terms"][0]["description"]["en"]


def shorten_the_version(document: dict) -> None:
    """Write the version without its patch number."""
    document["version"] = "1.0"


def misspell_the_taxonomy(document: dict) -> None:
    """Point a term at a taxonomy path with a wrong prefix."""
    document["terms"][0]["hsds"] = "OpenEligibility: Education"


def drop_licence_url(document: dict) -> None:
    """Remove a licence's official page."""
    del document["terms"][0]["url"]


def drop_attribution_flag(document: dict) -> None:
    """Remove whether a licence requires attribution."""
    del document["terms"][0]["attribution_required"]


def drop_licence_english_label(document: dict) -> None:
    """Remove a licence's English name."""
    del document["terms"][0]["label"]["en"]


def use_plain_http_for_licence(document: dict) -> None:
    """Link a licence over plain HTTP."""
    document["terms"][0]["url"] = "http://www.govdata.de/dl-de/by-2-0"


@pytest.mark.parametrize(
    "name, break_it, expected",
    [
        ("categories", drop_ukrainian_label, "/terms/0/label: 'uk' is a required property"),
        ("categories", capitalise_a_term_id, "/terms/0/id: 'Language-Learning' does not match"),
        ("categories", use_a_licence_style_id, "/terms/0/id: 'language/learning' does not match"),
        ("categories", blank_a_label, "/terms/0/label/de: '   ' does not match"),
        ("target-groups", add_an_unknown_key, "/terms/0: Additional properties are not allowed ('colour'"),
        ("organisation-kinds", give_a_topic_a_licence_url, "/terms/0: Additional properties are not allowed ('url'"),
        ("target-groups", drop_the_english_description, "/terms/0/description: 'en' is a required property"),
        ("categories", shorten_the_version, "/version: '1.0' does not match"),
        ("categories", misspell_the_taxonomy, "/terms/0/hsds: 'OpenEligibility: Education' does not match"),
        ("licenses", drop_licence_url, "/terms/0: 'url' is a required property"),
        ("licenses", drop_attribution_flag, "/terms/0: 'attribution_required' is a required property"),
        ("licenses", drop_licence_english_label, "/terms/0/label: 'en' is a required property"),
        ("licenses", use_plain_http_for_licence, "/terms/0/url: 'http://www.govdata.de/dl-de/by-2-0' does not match"),
    ],
)
def test_schema_rejects_a_broken_vocabulary(name, break_it, expected):
    document = copy.deepcopy(wegweiser_schema.vocabulary(name))
    break_it(document)
    found = problems(document)
    assert any(problem.startswith(expected) for problem in found), found
