"""Harvest every source when its next check comes, until stopped, sharing the work with any other
harvester processes on the same database (on other machines too).

Every few seconds, and whenever a harvest ends, the process leases as many due sources as it has
free workers (on PostgreSQL with ``SELECT … FOR UPDATE SKIP LOCKED``, so processes asking at the
same moment take different sources), harvests them, and gives the leases back. While a harvest
runs its lease is renewed; a process that dies stops renewing, and once its leases run out the
other processes take those sources over. A harvester whose lease ran out (it hung, or lost the
database for longer than the lease) stores nothing: the store refuses its write.

Any error is caught per harvest, so one source never stops the others; SIGTERM and SIGINT stop
cleanly, letting running harvests finish their transaction. Once a day (03:17 in Berlin) one of
the processes expands every event's dates again for the window around the new day, so series
without an end never run out of dates in lists and feeds.
"""
import logging
import os
import secrets
import signal
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from aggregator.fetch import Fetcher
from aggregator.harvest import harvest_source
from aggregator.health import utc_now
from aggregator.sources import Source
from aggregator.store import LeaseLost, Store

log = logging.getLogger("wegweiser.schedule")
POLL = timedelta(seconds=5)        # how often a process looks for due sources besides when a harvest ends
LEASE = timedelta(minutes=10)      # how long a lease lasts unless renewed; renewed every third of it
REFRESH_ZONE = ZoneInfo("Europe/Berlin")


def harvester_name() -> str:
    """This process among all harvesters: host, process id and a tag (process ids repeat)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class Harvester:
    """One harvester process: leases due sources for its workers and harvests them."""

    def __init__(self, store: Store, sources: list[Source], fetcher: Fetcher, workers: int,
                 lease: timedelta = LEASE, name: str | None = None):
        self.store, self.fetcher, self.workers, self.lease = store, fetcher, workers, lease
        self.name = name or harvester_name()
        self.sources = {s.id: s for s in sources}
        self.running: set[str] = set()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="harvest")
        self._claiming = threading.Lock()
        self._stopping = False

    def claim(self) -> list[str]:
        """Lease due sources for the free workers and start their harvests; the ids. Never raises."""
        with self._claiming:
            if self._stopping:
                return []
            try:
                leased = self.store.lease_due(self.name, sorted(self.sources), utc_now(), self.lease,
                                              self.workers - len(self.running))
            except Exception:  # the database is away (a restart): the next poll tries again
                log.exception("leasing due sources failed")
                return []
            self.running.update(leased)
            for source_id in leased:
                self._pool.submit(self._harvest, source_id)
        return leased

    def _harvest(self, source_id: str) -> None:
        try:
            outcome = harvest_source(self.store, self.sources[source_id], self.fetcher, holder=self.name)
            log.info("%s: %s %s", source_id, outcome.status, outcome.message)
        except LeaseLost as lost:
            log.warning("%s", lost)
        except Exception:  # a bug or a lost database must not stop the schedule; logged with its traceback
            log.exception("%s: the harvest failed unexpectedly", source_id)
        finally:
            self._release(source_id)
        self.claim()  # the worker is free: take the next due source now, not at the next poll

    def _release(self, source_id: str) -> None:
        try:
            self.store.release_lease(self.name, source_id)
        except Exception:  # the lease runs out by itself
            log.exception("%s: giving the lease back failed", source_id)
        with self._claiming:
            self.running.discard(source_id)

    def renew(self) -> None:
        """Keep the leases of the running harvests; never raises."""
        with self._claiming:
            running = sorted(self.running)
        try:
            self.store.renew_leases(self.name, running, utc_now() + self.lease)
        except Exception:
            log.exception("renewing the leases of %s failed", ", ".join(running))

    def stop(self) -> None:
        """Take no more sources; wait for the running harvests to finish and give their leases back."""
        with self._claiming:
            self._stopping = True
        self._pool.shutdown(wait=True)


def refresh_dates(store: Store, now: datetime | None = None) -> None:
    """Move the window of every event's stored dates on to today, once a day among all harvester
    processes; never raises."""
    try:
        now = now or utc_now()
        if not store.claim_daily("refresh-dates", now.astimezone(REFRESH_ZONE).date().isoformat()):
            log.info("the dates of events were expanded today by another harvester")
            return
        log.info("dates of %d events expanded for the window around today", store.refresh_occurrences(now))
    except Exception:  # logged with its traceback; the harvests go on
        log.exception("expanding the dates of events failed")


def build_scheduler(harvester: Harvester) -> BlockingScheduler:
    """A scheduler that looks for due sources every few seconds (first right away), renews the
    harvester's leases, and expands the dates of events daily."""
    scheduler = BlockingScheduler(timezone="UTC")
    harvester.store.register_sources(list(harvester.sources.values()))
    scheduler.add_job(harvester.claim, IntervalTrigger(seconds=POLL.total_seconds()), id="claim",
                      name="lease due sources", next_run_time=utc_now(), max_instances=1, coalesce=True)
    scheduler.add_job(harvester.renew, IntervalTrigger(seconds=max(1, harvester.lease.total_seconds() / 3)), id="renew",
                      name="renew leases", max_instances=1, coalesce=True)
    scheduler.add_job(refresh_dates, CronTrigger(hour=3, minute=17, timezone=REFRESH_ZONE), args=(harvester.store,),
                      id="refresh-dates", name="dates of events", max_instances=1, coalesce=True, misfire_grace_time=None)
    return scheduler


def run_forever(store: Store, sources: list[Source], fetcher: Fetcher, workers: int, lease: timedelta = LEASE) -> None:
    """Run the schedule until SIGTERM or SIGINT."""
    harvester = Harvester(store, sources, fetcher, workers, lease)
    scheduler = build_scheduler(harvester)
    log.info("harvester %s: %d sources, %d workers, leases of %d s", harvester.name, len(sources), workers,
             lease.total_seconds())

    def stop(signum, frame) -> None:
        log.info("stopping after the running harvests (signal %s)", signum)
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    scheduler.start()
    harvester.stop()
