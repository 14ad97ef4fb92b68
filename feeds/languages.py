"""Language names as people write them ('Türkisch', 'Turkish', 'Türkçe', 'tr') turned into BCP 47 tags."""
import re
from functools import cache

import langcodes

from feeds.suggest import fold

# The names langcodes does not resolve as integration work means them; other names are looked up by
# langcodes. Dari needs no entry: langcodes gives fa-AF, its tag for Dari (it reads 'prs' as fa-AF too),
# so Dari counselling stays apart from Farsi (fa).
LANGUAGE_EXCEPTIONS = {
    "Kurmandschi": "kmr", "Kurmancî": "kmr",  # langcodes knows only the English spelling, Kurmanji
    "Gebärdensprache": "gsg",  # in Germany, sign language without a name is German Sign Language
    "DGS": "gsg",  # read as a tag, 'dgs' would be Dogoso, a language of Burkina Faso
}
# The German names of the languages asked for most often. They are found without their umlauts too
# (langcodes reads 'Rumanisch' as Romani), and 'did you mean' offers them.
COMMON_LANGUAGES = (
    "Deutsch", "Englisch", "Französisch", "Spanisch", "Italienisch", "Portugiesisch", "Niederländisch", "Türkisch",
    "Arabisch", "Persisch", "Farsi", "Dari", "Paschtu", "Kurdisch", "Sorani", "Zazaki", "Ukrainisch", "Russisch",
    "Polnisch", "Rumänisch", "Bulgarisch", "Serbisch", "Kroatisch", "Bosnisch", "Albanisch", "Mazedonisch",
    "Griechisch", "Ungarisch", "Tschechisch", "Romanes", "Tigrinya", "Amharisch", "Somali", "Oromo", "Swahili", "Urdu",
    "Hindi", "Bengalisch", "Punjabi", "Tamil", "Vietnamesisch", "Chinesisch", "Georgisch", "Armenisch",
    "Aserbaidschanisch", "Tschetschenisch", "Hebräisch", "Deutsche Gebärdensprache",
)
LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*")


@cache
def _language_names() -> dict[str, str]:
    """The exceptions and the common languages by folded name, so case and accents do not matter."""
    common = {fold(name): tag for name in COMMON_LANGUAGES if (tag := _found_language(name, "und"))}
    return common | {fold(name): tag for name, tag in LANGUAGE_EXCEPTIONS.items()}


def _written_tag(text: str) -> str | None:
    """The text in standard form when it is a language tag ('TR', 'fa-af'), else None."""
    if LANGUAGE_TAG.fullmatch(text) and langcodes.tag_is_valid(text):
        return langcodes.standardize_tag(text)
    return None


def _named_language(text: str) -> str | None:
    """A common language named in any language ('Turkish', 'Türkçe'), else any language named in German."""
    # langcodes also reads a name with more after it, and across all languages short names abound: so it reads
    # 'Beratung' as Bira ('Bera') and 'Hausaufgaben' as Hausa. Such answers count only for the common languages.
    anywhere = _found_language(text, "und")
    if anywhere in _language_names().values():
        return anywhere
    return _found_language(text, "de")


def _found_language(name: str, language: str) -> str | None:
    """The tag langcodes finds for a language name written in ``language`` ('und': any), else None."""
    if "\x00" in name:  # language_data's index of names fails on NUL instead of finding nothing
        return None
    try:
        return langcodes.find(name, language).to_tag()
    except (LookupError, ValueError):
        return None


def language_tag(text: str) -> str | None:
    """A BCP 47 tag from a language name ('Türkisch', 'Turkish', 'Türkçe') or a tag ('tr', 'fa-AF'), else None."""
    return _language_names().get(fold(text)) or _written_tag(text) or _named_language(text)


def known_language_names() -> tuple[str, ...]:
    """The names offered in 'did you mean' suggestions."""
    return COMMON_LANGUAGES + tuple(LANGUAGE_EXCEPTIONS)
