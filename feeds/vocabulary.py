"""Reading the controlled vocabularies the way people write their terms: by id or by label in any language."""
from collections.abc import Iterable
from functools import cache

import wegweiser_schema
from feeds.suggest import fold


@cache
def _names(vocabulary: str) -> dict[str, str]:
    """Every id and label of a vocabulary, folded, mapped to its term id."""
    names = {}
    for term in wegweiser_schema.vocabulary(vocabulary)["terms"]:
        names.update({fold(label): term["id"] for label in term.get("label", {}).values()})
        names[fold(term["id"])] = term["id"]
    return names


def term_named(word: str, vocabulary: str) -> str | None:
    """The term a word names ('Beratung', 'danışmanlık', 'counselling' → counselling), or None."""
    return _names(vocabulary).get(fold(str(word)))


def terms_named(words: Iterable[str], vocabulary: str) -> list[str]:
    """The terms the words name, in order, each once; words naming none are left out, not guessed."""
    return list(dict.fromkeys(t for t in (term_named(w, vocabulary) for w in words) if t))
