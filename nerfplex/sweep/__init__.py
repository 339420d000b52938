"""Experiment grids: a spec (base config, axes, seeds), executors (local processes, Ray), result tables."""
