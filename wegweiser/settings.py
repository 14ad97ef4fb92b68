"""Every setting, declared once with its default and help; read through ``value(name)``.

Each can be set in the environment (the name in capitals with WEGWEISER_ in front) and most
also as a command-line option, which wins.
"""
import os
from dataclasses import dataclass
from importlib.resources import files


@dataclass(frozen=True)
class Setting:
    """One setting of the aggregator and the directory."""

    name: str
    default: str
    help: str

    @property
    def environment(self) -> str:
        return "WEGWEISER_" + self.name.upper()


def bundled_registry() -> str:
    """The registry of the bundled example district."""
    return str(files("feeds").joinpath("examples", "sources.toml"))


SETTINGS = {s.name: s for s in (
    Setting("db", "sqlite:///wegweiser.sqlite", "the directory's database: sqlite:///path/to/file.sqlite, or "
            "postgresql://user:password@host:port/database for several harvesters and web workers"),
    Setting("sources", "", "the registry of sources (TOML); empty: the bundled example district"),
    Setting("contact", "", "a URL where publishers reach the regional office, sent in the User-Agent"),
    Setting("workers", "8", "how many sources are harvested at the same time"),
    Setting("lease", "600", "seconds a harvester holds a source without renewing; a crashed harvester's sources are taken over after this"),
    Setting("port", "5000", "the port `wegweiser serve` listens on (on 127.0.0.1)"),
    Setting("region_name", "Wegweiser", "the directory's name: page titles, calendar names, the merged feed's publisher"),
    Setting("region_id", "", "the merged feed's publisher id (reverse domain or URL); empty: derived from the site's address"),
    Setting("region_kind", "district-integration-centre", "the merged feed's publisher kind, a term of schema/vocabularies/organisation-kinds.json"),
    Setting("region_license", "CC-BY-4.0", "the licence the merged feed is published under, a term of schema/vocabularies/licenses.json"),
    Setting("public_url", "", "the site's address as visitors reach it (https://...), when behind a proxy; empty: from each request"),
)}


def value(name: str) -> str:
    """The setting from the environment, else its default."""
    setting = SETTINGS[name]
    found = os.environ.get(setting.environment, setting.default)
    if name == "sources" and not found:
        return bundled_registry()
    return found
