"""Datasets: parsers, the SceneData they produce, and ray batches."""
