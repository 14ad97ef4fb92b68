"""Links on pages: the current filter with one thing changed, and feed-supplied URLs made safe."""
from urllib.parse import urlencode, urlsplit

from flask import Flask, request, url_for

SAFE_SCHEMES = frozenset({"http", "https", "mailto", "tel"})


def url_with(endpoint: str | None = None, **changes) -> str:
    """The current page's URL (or another endpoint's, or a path of this site) with its query
    parameters, some replaced or removed (a value of None removes); lists repeat the parameter."""
    args = request.args.to_dict(flat=False)
    for name, value in changes.items():
        key = "from" if name == "from_" else name
        if value is None or value == [] or value == "":
            args.pop(key, None)
        else:
            args[key] = value if isinstance(value, list) else [str(value)]
    if endpoint is None:
        # A page no route answers (404) links to the start page: its raw path could lead off the site.
        base = url_for(request.endpoint or "pages.home", **(request.view_args or {}))
    elif endpoint.startswith("/"):
        base = request.script_root + endpoint
    else:
        base = url_for(endpoint)
    query = urlencode([(k, v) for k, values in args.items() for v in values])
    return f"{base}?{query}" if query else base


def safe_href(url: str | None) -> str | None:
    """The URL if its scheme is http, https, mailto or tel, else None: a feed's ``javascript:`` or
    ``data:`` link never becomes clickable."""
    if not url or not isinstance(url, str):
        return None
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return None
    return url.strip() if scheme in SAFE_SCHEMES else None


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(url_with=url_with, safe_href=safe_href)
