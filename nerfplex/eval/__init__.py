"""Metrics and mesh I/O."""
