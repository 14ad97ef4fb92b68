"""What a parser makes of a fetched body, whatever its format: records in the shared format."""
from dataclasses import dataclass, field

from feeds.problems import Problem


@dataclass
class Parsed:
    """Records read from one page of a source, with the problems met while reading it.

    Records are dicts in the shared feed schema (organisations, offers, events, tombstones among
    them); the envelope fields are None where the format has no such thing and the harvester
    fills them from the source's registry entry.
    """

    organisations: list[dict] = field(default_factory=list)
    offers: list[dict] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    posts: list[dict] = field(default_factory=list)  # news items: {id, title, url, published, summary}
    problems: list[Problem] = field(default_factory=list)
    publisher: dict | None = None
    default_language: str | None = None
    timezone: str | None = None
    next_url: str | None = None  # the next page of a paged feed, absolute
    alternates: list[str] = field(default_factory=list)  # feeds an HTML page links to, absolute

    @property
    def record_count(self) -> int:
        return len(self.organisations) + len(self.offers) + len(self.events)
