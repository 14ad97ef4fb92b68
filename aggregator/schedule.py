"""Harvest every source on its own interval until stopped.

APScheduler runs one job per source (interval with jitter, so sources registered together do
not all fire at once); at most ``workers`` run at once and never two runs of one source
(max_instances=1). A source in backoff after failures waits for its next check. Any error is
caught per run, so one source never stops the others; SIGTERM and SIGINT stop cleanly, letting
running harvests finish their transaction. Once a day, every event's dates are expanded again for
the window around the new day, so series without an end never run out of dates in lists and feeds.
"""
import logging
import signal
from datetime import timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from aggregator.fetch import Fetcher
from aggregator.harvest import harvest_source
from aggregator.health import utc_now
from aggregator.sources import Source
from aggregator.store import Store

log = logging.getLogger("wegweiser.schedule")
JITTER_SHARE = 0.1  # of the interval, at most 5 minutes


def run_due(store: Store, source: Source, fetcher: Fetcher, jitter: float = 0) -> None:
    """One scheduled run: harvest the source if its next check has come; never raises.

    The trigger fires up to ``jitter`` seconds early or late around the interval, so a check
    planned one interval after the last run counts as due that much early."""
    try:
        if not store.source_state(source.id).is_due(utc_now() + timedelta(seconds=jitter)):
            return
        outcome = harvest_source(store, source, fetcher)
        log.info("%s: %s %s", source.id, outcome.status, outcome.message)
    except Exception:  # a bug must not stop the schedule; it is logged with its traceback
        log.exception("%s: the harvest failed unexpectedly", source.id)


def refresh_dates(store: Store) -> None:
    """Move the window of every event's stored dates on to today; never raises."""
    try:
        log.info("dates of %d events expanded for the window around today", store.refresh_occurrences(utc_now()))
    except Exception:  # logged with its traceback; the harvests go on
        log.exception("expanding the dates of events failed")


def build_scheduler(store: Store, sources: list[Source], fetcher: Fetcher, workers: int) -> BlockingScheduler:
    """A scheduler with one interval job per source, each first run right away."""
    scheduler = BlockingScheduler(executors={"default": ThreadPoolExecutor(max_workers=workers)}, timezone="UTC")
    store.register_sources(sources)
    now = utc_now()
    for source in sources:
        jitter = min(300, int(source.interval.total_seconds() * JITTER_SHARE))
        scheduler.add_job(run_due, IntervalTrigger(seconds=int(source.interval.total_seconds()), jitter=jitter),
                          args=(store, source, fetcher, jitter), id=source.id, name=source.name, next_run_time=now,
                          max_instances=1, coalesce=True, misfire_grace_time=None)
    scheduler.add_job(refresh_dates, CronTrigger(hour=3, minute=17, timezone="Europe/Berlin"), args=(store,),
                      id="refresh-dates", name="dates of events", max_instances=1, coalesce=True, misfire_grace_time=None)
    return scheduler


def run_forever(store: Store, sources: list[Source], fetcher: Fetcher, workers: int) -> None:
    """Run the schedule until SIGTERM or SIGINT."""
    scheduler = build_scheduler(store, sources, fetcher, workers)

    def stop(signum, frame) -> None:
        log.info("stopping after the running harvests (signal %s)", signum)
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    scheduler.start()
