"""The publisher's toolkit: build, write, read, validate and convert Wegweiser feeds."""
from feeds.feed import Feed, event, offer, organisation, record, tombstone
from feeds.problems import Problem

__all__ = ["Feed", "Problem", "event", "offer", "organisation", "record", "tombstone"]
