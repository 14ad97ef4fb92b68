"""Wegweiser."""
