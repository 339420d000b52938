"""Geometry: triangle-mesh I/O, marching-cubes extraction from any field, surface sampling, accuracy /
completion metrics, culling and the Replica / DTU protocols.

Imports only ``cameras``, ``distortion``, ``errors``, ``io`` and ``threads`` from nerfplex, so that both
``data/`` (ground-truth meshes of procedural scenes) and ``eval/`` (scoring a trained run) use it.
"""
