"""Wegweiser: federated open-data feeds of local integration offers."""
__version__ = "0.1.0"
