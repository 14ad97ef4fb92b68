"""The `wegweiser` command: the publisher's tools, the aggregator, and the directory's web app."""
import json
import logging
import os
import sys
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import click

from aggregator import fetch, health, store
from aggregator import harvest as harvest_run
from aggregator import schedule as scheduler
from aggregator.backends import DATABASE_ERRORS, shown_url
from aggregator import sources as registry
from feeds import convert as converter
from feeds import validate as validator
from wegweiser import __version__, report, settings

EXIT_OK, EXIT_PROBLEMS, EXIT_UNREADABLE = 0, 1, 2


def _is_url(source: str) -> bool:
    return urlsplit(source).scheme.lower() in ("http", "https")


def _load(source: str) -> bytes:
    """A local file's bytes, or a URL's body fetched with the size and time limits of the harvester.
    Private addresses are allowed: a publisher may check a feed on their own machine first."""
    if _is_url(source):
        try:
            return fetch.fetch(source, allow_private=True).body
        except fetch.FetchError as exc:
            raise ValueError(str(exc)) from exc
    return Path(source).read_bytes()


def _resolve(base: str, link: str) -> str:
    """A ``next`` link relative to the page it is on, for URLs and for local files alike."""
    if _is_url(base) or _is_url(link):
        return urljoin(base, link)
    return _normalise(str(Path(base).parent / link))


def _normalise(source: str) -> str:
    """One spelling per local file, so a page reached twice is recognised."""
    return source if _is_url(source) else os.path.normpath(source)


@click.group()
@click.version_option(__version__, prog_name="wegweiser")
def main() -> None:
    """Publish, check and collect feeds of local integration offers and events."""


@main.command()
@click.argument("sources", nargs=-1, required=True, metavar="PATH_OR_URL...")
@click.option("--json", "as_json", is_flag=True, help="Print the problems as JSON instead of one line each.")
@click.option("--today", type=click.DateTime(["%Y-%m-%d"]), help="Check dates as of this day (YYYY-MM-DD) instead of today.")
@click.option("--no-follow", is_flag=True, help="Check only the given page, not the pages its `next` links lead to.")
def validate(sources: tuple[str, ...], as_json: bool, today, no_follow: bool) -> None:
    """Check JSON feeds and iCalendar files far beyond the schema.

    Prints one problem a line, FILE:LINE:COL: error|warning: /json/pointer: message (hint).
    Exit status: 0 no errors (warnings allowed), 1 errors, 2 a file could not be read at all.
    """
    day = today.date() if today else date.today()
    chains = [validator.validate_pages(_normalise(source), _load, today=day, resolve=_resolve, follow=not no_follow)
              for source in sources]
    reports = _each_page_once(chains)
    _print_json(reports) if as_json else _print_lines(reports)
    if any(r.unreadable for r in reports):
        sys.exit(EXIT_UNREADABLE)
    sys.exit(EXIT_PROBLEMS if any(r.errors for r in reports) else EXIT_OK)


def _each_page_once(chains: list[list[validator.Report]]) -> list[validator.Report]:
    """One report per page: a page named on the command line that is also a later page of
    another feed is reported as part of that feed, where its references can be resolved."""
    continued = {page.source for chain in chains for page in chain[1:]}
    reports: dict[str, validator.Report] = {}
    for chain in chains:
        for position, page in enumerate(chain):
            if position > 0 or page.source not in continued:
                reports.setdefault(page.source, page)
    return list(reports.values())


def _print_lines(reports: list[validator.Report]) -> None:
    for found in reports:
        if found.unreadable:
            line, column = found.unreadable_at
            click.echo(f"{found.source}:{line}:{column}: error: cannot read: {found.unreadable}")
            continue
        for problem in found.problems:
            click.echo(problem.format(found.source))
        summary = f"{found.errors} error{'s' * (found.errors != 1)}, {found.warnings} warning{'s' * (found.warnings != 1)}"
        click.echo(f"{found.source}: {found.records} records checked, {summary}", err=True)


def _print_json(reports: list[validator.Report]) -> None:
    files = [{
        "file": r.source,
        "records": r.records,
        "errors": r.errors,
        "warnings": r.warnings,
        "unreadable": r.unreadable,
        "problems": [p.as_json(r.source) for p in r.problems],
    } for r in reports]
    click.echo(json.dumps({"files": files, "errors": sum(r.errors for r in reports),
                           "warnings": sum(r.warnings for r in reports)}, ensure_ascii=False, indent=2))


@main.command()
@click.argument("sheet", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--publisher-id", required=True, help="Your stable publisher id, e.g. de.lindenau.bruecke.")
@click.option("--publisher-name", required=True, help="Your organisation's name as people know it.")
@click.option("--kind", required=True, help="Kind of organisation, a term of schema/vocabularies/organisation-kinds.json.")
@click.option("--town", required=True, help="The town you work in.")
@click.option("--ags", default="", help="The town's official municipality key (8 digits).")
@click.option("--license", "license_id", default="dl-de/by-2-0", show_default=True, help="Licence of the data.")
@click.option("--language", default="de", show_default=True, help="The language most texts in the sheet are written in.")
@click.option("--timezone", default="Europe/Berlin", show_default=True, help="The time zone of the sheet's dates and times.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write the feed here instead of to standard output.")
def convert(sheet: Path, publisher_id: str, publisher_name: str, kind: str, town: str, ags: str,
            license_id: str, language: str, timezone: str, output: Path | None) -> None:
    """Turn a spreadsheet saved as CSV (one row per offer or event) into a feed.

    Problems are printed one a line as SHEET:ROW:COLUMN: error|warning: /pointer: message (hint).
    The feed is written only when there is no error. Exit status: 0 written, 1 errors, 2 the file
    could not be read. The columns: feeds/templates/README.md.
    """
    try:
        data = sheet.read_bytes()
    except OSError as exc:
        click.echo(f"{sheet}:1:1: error: cannot read: {validator.describe_read_failure(exc)}")
        sys.exit(EXIT_UNREADABLE)
    publisher = converter.publisher_from_options(publisher_id, publisher_name, kind, town, ags=ags,
                                                 license=license_id, language=language)
    result = converter.convert_csv(data, publisher=publisher, default_language=language, timezone=timezone,
                                   filename=str(sheet))
    for problem in result.problems:
        click.echo(problem.format(str(sheet)), err=True)
    if not result.encoding:
        sys.exit(EXIT_UNREADABLE)
    if result.errors:
        click.echo(f"{sheet}: {len(result.errors)} errors: no feed written; correct the cells named above", err=True)
        sys.exit(EXIT_PROBLEMS)
    if output:
        result.feed.write(output)
    else:
        click.echo(result.feed.dumps(), nl=False)
    records = sum(len(result.feed.document.get(n, [])) for n in ("offers", "events"))
    click.echo(f"{sheet}: read as {result.encoding}, {records} records written to {output or 'standard output'}", err=True)


def _open_run(sources_path: str, db: str, only: tuple[str, ...]):
    """The store and the chosen sources, or exit 2 with the reason: the run cannot happen."""
    try:
        sources = registry.load_registry(sources_path)
    except registry.RegistryError as exc:
        click.echo(str(exc), err=True)
        sys.exit(EXIT_UNREADABLE)
    except OSError as exc:
        click.echo(f"{sources_path}: cannot read the registry: {validator.describe_read_failure(exc)}", err=True)
        sys.exit(EXIT_UNREADABLE)
    unknown = sorted(set(only) - {s.id for s in sources})
    if unknown:
        click.echo(f"{sources_path}: no source with id {', '.join(unknown)}; known: {', '.join(s.id for s in sources)}", err=True)
        sys.exit(EXIT_UNREADABLE)
    try:
        db_store = store.Store.open(db)
    except (ValueError, *DATABASE_ERRORS) as exc:
        click.echo(f"{shown_url(db)}: cannot open the database: {exc}", err=True)
        sys.exit(EXIT_UNREADABLE)
    db_store.retire_sources({s.id for s in sources}, health.stamp(health.utc_now()))
    return db_store, [s for s in sources if not only or s.id in only]


def _sources_option(function):
    return click.option("--sources", "sources_path", default=lambda: settings.value("sources"),
                        help="The registry of sources (TOML). Default: WEGWEISER_SOURCES, else the bundled example district.")(function)


def _db_option(function):
    return click.option("--db", default=lambda: settings.value("db"),
                        help="The database URL: sqlite:///wegweiser.sqlite or postgresql://user:password@host/db. Default: WEGWEISER_DB.")(function)


def _workers_option(function):
    return click.option("--workers", type=click.IntRange(1, 64), default=lambda: int(settings.value("workers")),
                        help="How many sources are harvested at the same time. Default: WEGWEISER_WORKERS or 8.")(function)


@main.command()
@_sources_option
@_db_option
@click.option("--source", "only", multiple=True, metavar="ID", help="Harvest only this source (repeatable).")
@_workers_option
def harvest(sources_path: str, db: str, only: tuple[str, ...], workers: int) -> None:
    """Harvest every source (or the named ones) once and print a summary table.

    Exit status 0 when the run completed, even if sources failed (their failures are recorded on
    them); 2 when the run could not happen (registry or database unusable, unknown source id).
    """
    db_store, sources = _open_run(sources_path, db, only)
    fetcher = fetch.Fetcher(contact=settings.value("contact") or None)
    with report.progress(len(sources)) as advance:
        outcomes = harvest_run.harvest_all(db_store, sources, fetcher, workers=workers, on_done=advance)
    report.summary(outcomes)
    db_store.close()


@main.command()
@_sources_option
@_db_option
@_workers_option
@click.option("--lease", "lease_seconds", type=click.IntRange(5, 86400), default=lambda: int(settings.value("lease")),
              help="Seconds a harvester holds a source without renewing; after a crash, others take it over "
                   "this long after. Default: WEGWEISER_LEASE or 600.")
def schedule(sources_path: str, db: str, workers: int, lease_seconds: int) -> None:
    """Harvest every source on its own interval until stopped (SIGTERM or Ctrl-C).

    Several of these may run at once, on one machine or several, against one database: each due
    source is harvested by one of them, and the sources of one that dies are taken over.
    """
    db_store, sources = _open_run(sources_path, db, ())
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    fetcher = fetch.Fetcher(contact=settings.value("contact") or None)
    scheduler.run_forever(db_store, sources, fetcher, workers, timedelta(seconds=lease_seconds))
    db_store.close()


def _serve(db: str, port: int) -> None:
    """Serve the directory at ``db`` on 127.0.0.1 until stopped."""
    from webapp import create_app
    try:
        app = create_app(db)
    except (ValueError, *DATABASE_ERRORS) as exc:
        click.echo(f"{shown_url(db)}: cannot open the database: {exc}", err=True)
        sys.exit(EXIT_UNREADABLE)
    click.echo(f"Serving the directory {db} on http://127.0.0.1:{port}/ (Ctrl-C stops)", err=True)
    # Werkzeug's threaded server is enough on one machine; for a public site see the README (gunicorn).
    app.run(host="127.0.0.1", port=port, threaded=True, load_dotenv=False)


def _port_option(function):
    return click.option("--port", type=click.IntRange(1, 65535), default=lambda: int(settings.value("port")),
                        help="The port to listen on (127.0.0.1). Default: WEGWEISER_PORT or 5000.")(function)


@main.command()
@_db_option
@_port_option
def serve(db: str, port: int) -> None:
    """Serve the directory's pages, calendar feeds, API and merged feed on http://127.0.0.1:PORT/.

    Reads the store the harvester writes; run `wegweiser schedule` beside it to keep it current.
    Exit status 2 when the database cannot be opened or (SQLite) does not exist yet.
    """
    path = db.removeprefix("sqlite:///") if db.startswith("sqlite:///") or "://" not in db else None
    if path is not None and not Path(path).is_file():
        click.echo(f"{db}: there is no directory at {path} yet; fill it first with `wegweiser harvest --db {db}`, "
                   "or try `wegweiser demo`", err=True)
        sys.exit(EXIT_UNREADABLE)
    _serve(db, port)


@main.command()
@click.option("--db", default="sqlite:///wegweiser-demo.sqlite", show_default=True,
              help="Where to keep the demonstration directory.")
@_port_option
def demo(db: str, port: int) -> None:
    """Harvest the bundled example district into a local SQLite file and serve it on http://127.0.0.1:PORT/."""
    db_store, sources = _open_run(settings.bundled_registry(), db, ())
    with report.progress(len(sources)) as advance:
        outcomes = harvest_run.harvest_all(db_store, sources, fetch.Fetcher(), workers=4, on_done=advance)
    report.summary(outcomes)
    db_store.close()
    _serve(db, port)
