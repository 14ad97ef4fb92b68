"""A source's harvest state and when to try it next.

Backoff by error class: passing trouble (timeouts, server errors, rate limits, broken
connections) is retried ever later, doubling from the source's interval up to a day, with jitter so
that sources that failed together do not return together; lasting trouble (not found, unreadable
feed, refused address) is reported and retried slowly, every six hours or the interval if longer.
"""
import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from feeds.feed import utc_timestamp

PASSING = frozenset({"timeout", "server-error", "rate-limited", "network"})
DATABASE_RETRY = timedelta(minutes=2)  # our own database failed, not the feed: try again soon
BACKOFF_CAP = timedelta(hours=24)
SLOW_RETRY = timedelta(hours=6)
JITTER = 0.2


def utc_now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def stamp(moment: datetime) -> str:
    """A UTC moment as stored: ISO 8601 with Z."""
    return utc_timestamp(moment)


def parse_stamp(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def retry_delay(error_class: str, failures_in_row: int, interval: timedelta,
                retry_after: float | None = None, rng: random.Random | None = None) -> timedelta:
    """How long to wait after the ``failures_in_row``-th failure of this class in a row."""
    rng = rng or random
    if error_class == "database":
        return DATABASE_RETRY
    if error_class in PASSING:
        delay = min(BACKOFF_CAP, interval * 2 ** max(0, failures_in_row - 1))
        delay *= 1 + rng.uniform(-JITTER, JITTER)
    else:
        delay = max(interval, SLOW_RETRY)
    if retry_after:
        delay = max(delay, timedelta(seconds=retry_after))
    return delay


@dataclass
class SourceState:
    """What the aggregator knows of a source between harvests (one row of the sources table)."""

    id: str
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    last_attempt: str | None = None
    last_success: str | None = None
    status: str = "new"
    http_status: int | None = None
    bytes: int | None = None
    duration_ms: int | None = None
    accepted: int = 0
    rejected: int = 0
    withdrawn: int = 0
    failures_in_row: int = 0
    failure_class: str | None = None
    last_error: str | None = None
    next_check: str | None = None
    shrink_held_since: str | None = None
    shrink_confirmations: int = 0
    notice: str | None = None

    def is_due(self, now: datetime) -> bool:
        return self.next_check is None or parse_stamp(self.next_check) <= now

    def attempted(self, now: datetime, http_status: int | None, size: int | None, duration: float) -> None:
        """Note the facts of a fetch, whatever came of it."""
        self.last_attempt = stamp(now)
        self.http_status, self.bytes, self.duration_ms = http_status, size, round(duration * 1000)

    def succeeded(self, now: datetime, interval: timedelta, *, unchanged: bool = False) -> None:
        """The feed was read (or is unchanged): clear the failure count and plan the next check."""
        self.status = "unchanged" if unchanged else "ok"
        self.last_success = stamp(now)
        self.failures_in_row, self.failure_class, self.last_error = 0, None, None
        self.next_check = stamp(now + interval)

    def failed(self, now: datetime, interval: timedelta, error_class: str, message: str,
               retry_after: float | None = None) -> None:
        """The feed could not be used: count the failure and back off by its class."""
        self.status = "failed"
        self.failures_in_row += 1
        self.failure_class, self.last_error = error_class, message
        self.next_check = stamp(now + retry_delay(error_class, self.failures_in_row, interval, retry_after))
