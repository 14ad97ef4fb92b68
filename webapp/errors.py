"""One error tree for the app, rendered as a page for people and as JSON for the API."""
from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _

from aggregator.backends import DATABASE_ERRORS


class WebError(Exception):
    """A request the app cannot answer as asked; the message says what to change."""

    status = 400
    retry_after: int | None = None  # seconds, for answers that say "come back later"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class BadRequest(WebError):
    """A parameter has a value the app cannot use."""

    status = 400


class NotFound(WebError):
    """No entry, source or page with that id."""

    status = 404


class TooManyRequests(WebError):
    """A client asked more often than the page allows."""

    status = 429


class Unavailable(WebError):
    """The directory's database does not answer (a restart, a failover): try again shortly."""

    status = 503
    retry_after = 30


def wants_json() -> bool:
    """API paths and ``.json`` documents answer errors in JSON."""
    return request.path.startswith("/api/") or request.path.endswith(".json")


def init_app(app: Flask) -> None:
    @app.errorhandler(WebError)
    def web_error(error: WebError):
        headers = {"Retry-After": str(error.retry_after)} if error.retry_after else {}
        if wants_json():
            return jsonify({"error": error.message, "status": error.status}), error.status, headers
        return render_template("error.html", message=error.message, status=error.status), error.status, headers

    def database_away(error):
        app.logger.error("the directory's database failed: %s", error)
        return web_error(Unavailable(_("The directory's database is not answering right now (it may be restarting). "
                                       "Please try again in a minute.")))

    for error_class in DATABASE_ERRORS:
        app.register_error_handler(error_class, database_away)

    @app.errorhandler(404)
    def not_found(_error):
        return web_error(NotFound(f"There is no page at {request.path}."))

    @app.errorhandler(413)
    def too_large(_error):
        limit = app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024)
        return web_error(BadRequest(f"The upload is larger than {limit} MB; upload a smaller file or give its URL."))
