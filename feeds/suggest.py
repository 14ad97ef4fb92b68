"""'Did you mean …?': the closest known value to what someone typed."""
import difflib
import unicodedata


def fold(text: str) -> str:
    """Lower-case, without accents or separators, so 'Beratung ' and 'beratung' compare equal."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().replace("ß", "ss").replace("ı", "i"))
    return "".join(c for c in decomposed if c.isalnum())


def did_you_mean(value: str, candidates, labels: dict[str, list[str]] | None = None) -> str | None:
    """The candidate closest to ``value``, matching ids and (if given) their labels in any language."""
    folded = {fold(c): c for c in candidates}
    for term, names in (labels or {}).items():
        folded.update({fold(name): term for name in names})
    key = fold(value)
    if key in folded:
        return folded[key]
    close = difflib.get_close_matches(key, list(folded), n=1, cutoff=0.6)
    return folded[close[0]] if close else None
