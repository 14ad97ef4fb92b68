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


def _bundled_registry() -> str:
    return str(files("feeds").joinpath("examples", "sources.toml"))


SETTINGS = {s.name: s for s in (
    Setting("db", "sqlite:///wegweiser.sqlite", "the directory's database: sqlite:///path/to/file.sqlite"),
    Setting("sources", "", "the registry of sources (TOML); empty: the bundled example district"),
    Setting("contact", "", "a URL where publishers reach the regional office, sent in the User-Agent"),
    Setting("workers", "8", "how many sources are harvested at the same time"),
)}


def value(name: str) -> str:
    """The setting from the environment, else its default."""
    setting = SETTINGS[name]
    found = os.environ.get(setting.environment, setting.default)
    if name == "sources" and not found:
        return _bundled_registry()
    return found
