"""Interface languages (Flask-Babel catalogues under webapp/translations) and the choice of the
language a feed's text is shown in.

The visitor's language comes from ``?lang=``, else the cookie it set, else the browser's
Accept-Language, else German. Feed text is shown in that language where the feed has it, else in
the record's first language, and the page marks it with ``lang`` and ``dir``.
"""
from flask import Flask, request
from flask_babel import Babel, get_locale
from markupsafe import Markup, escape

from aggregator.query import REGION_TIMEZONE

# Interface languages, in the order the language menu lists them, each named in itself.
LANGUAGES = {"de": "Deutsch", "en": "English", "tr": "Türkçe", "ar": "العربية", "uk": "Українська", "ru": "Русский"}
DEFAULT = "de"
RIGHT_TO_LEFT = frozenset({"ar", "fa", "he", "ur", "ps", "ckb", "yi"})
COOKIE = "lang"


def select_locale() -> str:
    chosen = request.args.get("lang") or request.cookies.get(COOKIE)
    if chosen in LANGUAGES:
        return chosen
    # The browser's languages in its order of preference, by their language part: "uk-UA, en;q=0.5" is
    # Ukrainian, although werkzeug's best_match would prefer the exact "en".
    for tag, _quality in request.accept_languages:
        language = tag.split("-")[0].split("_")[0].lower()
        if language in LANGUAGES:
            return language
    return DEFAULT


def visitor_language() -> str:
    return str(get_locale() or DEFAULT)


def direction(tag: str) -> str:
    """``rtl`` for right-to-left scripts, by the primary language subtag."""
    return "rtl" if tag.split("-")[0].lower() in RIGHT_TO_LEFT else "ltr"


def pick(text: dict | None, language: str | None = None) -> tuple[str, str]:
    """The language and wording of a multilingual text for the visitor: theirs (also ``de`` for
    ``de-DE`` and back), else German, else the first one written."""
    if not text:
        return "", ""
    wanted = language or visitor_language()
    for tag in (wanted, *(t for t in text if t.split("-")[0] == wanted.split("-")[0]), DEFAULT):
        if tag in text:
            return tag, text[tag]
    first = next(iter(text))
    return first, text[first]


def localised(text: dict | None, element: str = "span", limit: int | None = None) -> Markup:
    """A feed text in the visitor's language as an element marked with its ``lang`` (and ``dir``),
    escaped: nothing a feed writes becomes markup. ``limit`` shortens it at a word to that many characters."""
    tag, wording = pick(text)
    if not wording:
        return Markup("")
    if limit and len(wording) > limit:
        wording = wording[:limit].rsplit(" ", 1)[0] + " …"
    return Markup(f'<{element} lang="{escape(tag)}" dir="{direction(tag)}">{escape(wording)}</{element}>')


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT)
    # Times of harvests and changes are shown in the region's zone; events in their own.
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", REGION_TIMEZONE)
    Babel(app, locale_selector=select_locale)

    @app.after_request
    def remember_choice(response):
        chosen = request.args.get("lang")
        # Only pages remember it: feeds and API answers are public and cached, and carry no cookie.
        if chosen in LANGUAGES and request.cookies.get(COOKIE) != chosen and response.mimetype == "text/html":
            response.set_cookie(COOKIE, chosen, max_age=365 * 24 * 3600, samesite="Lax")
        return response

    @app.context_processor
    def language_context():
        language = visitor_language()
        return {"LANGUAGES": LANGUAGES, "page_language": language, "page_direction": direction(language),
                "localised": localised, "pick": pick}
