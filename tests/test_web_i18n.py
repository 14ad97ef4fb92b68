"""The interface in six languages: every string of the templates and modules is in the catalogues,
translated in each language with its placeholders and plural forms, the compiled catalogues are those
of the translations, and pages come in the visitor's language."""
import gettext
import io
import re
from html.parser import HTMLParser

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_keywords, parse_mapping_cfg
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po
from flask_babel import ngettext

from tests.conftest import REPO
from webapp.i18n import LANGUAGES

WEBAPP = REPO / "webapp"
TRANSLATIONS = WEBAPP / "translations"
# As in the README's extract command: pybabel's keywords and lazy_gettext.
KEYWORDS = DEFAULT_KEYWORDS | parse_keywords(["lazy_gettext"])
EXTRACT = "pybabel extract -F webapp/babel.cfg -k lazy_gettext -c TRANSLATORS: --project=Wegweiser " \
          "-o webapp/translations/messages.pot webapp"
UPDATE = "pybabel update -i webapp/translations/messages.pot -d webapp/translations --ignore-obsolete"
COMPILE = "pybabel compile -d webapp/translations"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")

# The plural form each language's Plural-Forms expression must choose for a count (index into msgstr[]).
PLURAL_INDEX = {
    "de": {0: 1, 1: 0, 2: 1, 21: 1},
    "en": {0: 1, 1: 0, 2: 1, 21: 1},
    "tr": {0: 1, 1: 0, 2: 1, 21: 1},
    # zero, one, two, few (3-10), many (11-99), other (100-102, ...), by the hundreds as well.
    "ar": {0: 0, 1: 1, 2: 2, 3: 3, 10: 3, 11: 4, 99: 4, 100: 5, 102: 5, 103: 3, 111: 4},
    # one (1, 21, not 11), few (2-4, 22-24, not 12-14), many (the rest).
    "uk": {1: 0, 21: 0, 11: 2, 2: 1, 4: 1, 22: 1, 12: 2, 5: 2, 0: 2, 111: 2},
    "ru": {1: 0, 21: 0, 11: 2, 2: 1, 4: 1, 22: 1, 12: 2, 5: 2, 0: 2, 111: 2},
}


def read_catalogue(language: str) -> Catalog:
    """A language's translations as committed (the .po file)."""
    with (TRANSLATIONS / language / "LC_MESSAGES" / "messages.po").open("rb") as file:
        return read_po(file, locale=language)


def read_template() -> Catalog:
    """The strings to translate as committed (messages.pot)."""
    with (TRANSLATIONS / "messages.pot").open("rb") as file:
        return read_po(file)


def extracted() -> Catalog:
    """The strings the sources mark for translation today, found as the extract command finds them."""
    with (WEBAPP / "babel.cfg").open() as file:
        method_map, options_map = parse_mapping_cfg(file)
    catalog = Catalog()
    for filename, line, message, comments, context in extract_from_dir(
            WEBAPP, method_map, options_map, keywords=KEYWORDS, comment_tags=["TRANSLATORS:"]):
        catalog.add(message, None, [(filename, line)], auto_comments=comments, context=context)
    return catalog


def keys(catalog: Catalog) -> set:
    """Each string's context and id (a pair of singular and plural for counted strings)."""
    return {(message.context, message.id) for message in catalog if message.id}


def contents(catalog: Catalog) -> dict:
    """Each message's translation (plural forms as a tuple), by context and id."""
    def fixed(value):
        return tuple(value) if isinstance(value, list) else value

    return {(m.context, fixed(m.id)): fixed(m.string) for m in catalog}


def placeholders(text: str) -> set[str]:
    """The names of the %(name)s values a text takes."""
    return set(PLACEHOLDER.findall(text))


def shown(key) -> str:
    """A string as a failure message quotes it."""
    context, msgid = key
    text = " / ".join(msgid) if isinstance(msgid, tuple) else msgid
    return f"{context}: {text!r}" if context else repr(text)


def test_the_template_has_every_string_the_sources_mark():
    in_sources, in_template = keys(extracted()), keys(read_template())
    new, gone = in_sources - in_template, in_template - in_sources
    assert not new and not gone, (
        "webapp/translations/messages.pot is not up to date with the sources.\n"
        + "".join(f"  new string: {shown(key)}\n" for key in sorted(new, key=shown))
        + "".join(f"  no longer used: {shown(key)}\n" for key in sorted(gone, key=shown))
        + f"Run:\n  {EXTRACT}\n  {UPDATE}\nthen translate the new strings in every catalogue and run:\n  {COMPILE}")


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_string_is_translated_with_its_placeholders(language):
    catalogue = read_catalogue(language)
    problems = []
    for source in read_template():
        if not source.id:
            continue
        message = catalogue.get(source.id, context=source.context)
        key = shown((source.context, source.id))
        if message is None:
            problems.append(f"missing (run {UPDATE}): {key}")
            continue
        if message.fuzzy:
            problems.append(f"marked fuzzy, check the translation and remove the flag: {key}")
        forms = message.string if isinstance(message.string, tuple) else (message.string,)
        if source.pluralizable and len(forms) != catalogue.num_plurals:
            problems.append(f"{len(forms)} plural forms instead of {catalogue.num_plurals}: {key}")
        wanted = placeholders(" ".join(source.id) if source.pluralizable else source.id)
        for index, form in enumerate(forms):
            if not form.strip():
                problems.append(f"form {index} not translated: {key}")
                continue
            have = placeholders(form)
            # A plural form may spell out its count ("one", "two"); every other value must appear.
            if have - wanted or wanted - have - ({"num"} if source.pluralizable else set()):
                problems.append(f"form {index} has placeholders {sorted(have)} instead of {sorted(wanted)}: {key}")
            # Templates format every translation with %, and Jinja takes it as markup: a stray % breaks
            # the page, and < or & would not be escaped.
            stray = PLACEHOLDER.sub("", form).replace("%%", "")
            if "%" in stray or any(mark in form and mark not in str(source.id) for mark in "<&"):
                problems.append(f"form {index} has a % sign, < or & of its own: {key}")
    assert not problems, f"webapp/translations/{language}/LC_MESSAGES/messages.po:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_plural_rule_chooses_the_forms_the_language_needs(language):
    catalogue = read_catalogue(language)
    rule = gettext.c2py(catalogue.plural_expr)
    chosen = {count: rule(count) for count in PLURAL_INDEX[language]}
    assert chosen == PLURAL_INDEX[language], catalogue.plural_forms
    assert catalogue.num_plurals == max(PLURAL_INDEX[language].values()) + 1


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_compiled_catalogue_holds_the_translations(language):
    compiled = io.BytesIO()
    write_mo(compiled, read_catalogue(language))
    compiled.seek(0)
    with (TRANSLATIONS / language / "LC_MESSAGES" / "messages.mo").open("rb") as file:
        on_disk = read_mo(file)
    expected = read_mo(compiled)
    assert contents(on_disk) == contents(expected), \
        f"webapp/translations/{language}/LC_MESSAGES/messages.mo is older than its .po file; run: {COMPILE}"


@pytest.mark.parametrize(("language", "count", "words"), [
    ("de", 1, "1 Angebot"), ("de", 17, "17 Angebote"),
    ("tr", 17, "17 hizmet"),
    ("uk", 21, "21 послуга"), ("uk", 3, "3 послуги"), ("uk", 12, "12 послуг"),
    ("ru", 1, "1 услуга"), ("ru", 22, "22 услуги"), ("ru", 17, "17 услуг"),
    ("ar", 2, "خدمتان"), ("ar", 5, "5 خدمات"), ("ar", 17, "17 خدمةً"), ("ar", 100, "100 خدمة"),
])
def test_counts_take_the_languages_plural_forms(app, language, count, words):
    with app.test_request_context(f"/?lang={language}"):
        assert ngettext("%(num)s offer", "%(num)s offers", count) == words


# --- pages in the visitor's language ---------------------------------------------------------------

# The main menu's link to the events, as each language names it.
EVENTS = {"de": "Veranstaltungen", "en": "Events", "tr": "Etkinlikler", "ar": "الفعاليات", "uk": "Заходи",
          "ru": "Мероприятия"}


class Page(HTMLParser):
    """The <html> element's lang and dir, and the text of each main-menu link by its target."""

    def __init__(self, html: str):
        super().__init__()
        self.root: dict = {}
        self.menu: dict[str, str] = {}
        self._in_menu = False
        self._link: str | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "html":
            self.root = attrs
        elif tag == "nav":
            self._in_menu = "languages" not in (attrs.get("class") or "")
        elif tag == "a" and self._in_menu:
            self._link = attrs["href"].split("?")[0]
            self.menu[self._link] = ""

    def handle_endtag(self, tag):
        if tag == "nav":
            self._in_menu = False
        elif tag == "a":
            self._link = None

    def handle_data(self, data):
        if self._link:
            self.menu[self._link] += data.strip()


def page(client, url: str = "/", **headers) -> Page:
    """A page as served with these request headers, parsed."""
    response = client.get(url, headers=headers)
    assert response.status_code == 200, url
    return Page(response.get_data(as_text=True))


@pytest.mark.parametrize("language", LANGUAGES)
def test_lang_parameter_gives_the_page_in_that_language(app, language):
    shown_page = page(app.test_client(), f"/?lang={language}")
    assert shown_page.menu["/events"] == EVENTS[language]
    assert shown_page.root == {"lang": language, "dir": "rtl" if language == "ar" else "ltr"}


def test_german_without_a_choice_or_a_language_header(app):
    shown_page = page(app.test_client())
    assert shown_page.root == {"lang": "de", "dir": "ltr"}
    assert shown_page.menu["/events"] == "Veranstaltungen"


def test_german_when_the_browser_asks_only_for_languages_the_interface_lacks(app):
    shown_page = page(app.test_client(), **{"Accept-Language": "fr-FR,fr;q=0.9,it;q=0.5"})
    assert shown_page.root["lang"] == "de"


@pytest.mark.parametrize(("header", "language"), [
    ("uk-UA,uk;q=0.9,en-US;q=0.8,en;q=0.7", "uk"),   # as Chrome sends it
    ("fr-FR,fr;q=0.9,ar;q=0.8,en;q=0.5", "ar"),      # the first one the interface has
    ("tr-TR", "tr"),                                 # a region alone
])
def test_the_browser_language_is_taken(app, header, language):
    shown_page = page(app.test_client(), "/events", **{"Accept-Language": header})
    assert shown_page.root == {"lang": language, "dir": "rtl" if language == "ar" else "ltr"}
    assert shown_page.menu["/events"] == EVENTS[language]


def test_the_chosen_language_stays_on_the_next_pages(app):
    client = app.test_client()
    page(client, "/?lang=ar")
    later = page(client, "/organisations", **{"Accept-Language": "en"})
    assert later.root == {"lang": "ar", "dir": "rtl"}
    assert later.menu["/events"] == "الفعاليات"


def test_choosing_again_replaces_the_kept_language(app):
    client = app.test_client()
    page(client, "/?lang=ar")
    page(client, "/?lang=tr")
    assert page(client, "/events").menu["/events"] == "Etkinlikler"


def test_error_pages_are_translated_too(app):
    response = app.test_client().get("/offers/no-such-offer?lang=ru")
    assert response.status_code == 404
    assert "Не найдено" in response.get_data(as_text=True)
