"""The regional directory as a Flask app: search pages, event calendar, iCal subscriptions, the JSON
and CSV API, the merged directory as a feed, source health and the feed validator.

Nothing here writes to the directory: the harvester (aggregator/) fills the store, the app reads it.
"""
from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from aggregator.store import Store
from wegweiser import settings


def create_app(db_url: str | None = None, test_config: dict | None = None) -> Flask:
    """The app over the directory at ``db_url`` (default: the ``db`` setting)."""
    app = Flask(__name__)
    app.config.from_mapping(
        DATABASE=db_url or settings.value("db"),
        REGION_NAME=settings.value("region_name"),
        REGION_ID=settings.value("region_id"),
        REGION_KIND=settings.value("region_kind"),
        REGION_LICENSE=settings.value("region_license"),
        PUBLIC_URL=settings.value("public_url").rstrip("/"),
        VALIDATE_MAX_BYTES=5 * 1024 * 1024,
        VALIDATE_PER_MINUTE=10,
        # Per process: with several web workers, point it at a shared store (redis://...) to limit per client.
        RATELIMIT_STORAGE_URI="memory://",
        MAX_CONTENT_LENGTH=6 * 1024 * 1024,
    )
    if test_config:
        app.config.update(test_config)
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    app.extensions["wegweiser_store"] = Store.open(app.config["DATABASE"])
    if app.config["PUBLIC_URL"]:
        # Behind a reverse proxy: trust its one hop for scheme and host, so links and webcal:// URLs are right.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)

    from webapp import api, calendar, errors, federation, i18n, links, office, pages, present
    i18n.init_app(app)
    links.init_app(app)
    present.init_app(app)
    errors.init_app(app)
    for module in (pages, calendar, api, federation, office):
        app.register_blueprint(module.blueprint)
    app.after_request(_security_headers)
    return app


# The pages need no script at all: a policy without script sources means that even text a feed
# managed to smuggle into a page as markup could not run (JSON-LD blocks are data, not scripts).
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none'; "
                           "form-action 'self'; frame-ancestors 'none'; img-src 'self' https: data:")


def _security_headers(response):
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    return response
