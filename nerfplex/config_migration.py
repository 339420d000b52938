"""Older config files (YAML files, run folders' ``config.yaml``) read as the current schema.

Version history:

- **1**: ``model`` held a section for every in-tree method (``nerf``, ``tensorf``, ``dvgo``, ``neus``,
  ``ngp``) beside ``method``; only the chosen one was used.
- **2**: ``model`` holds ``method`` and that method's section only (methods are chosen by name and may
  come from plug-ins; nerfplex/models/registry.py).

Each step is a pure function on plain mappings, so any older file migrates by running the steps in order.
Files without ``schema_version`` are read as version 1 (:func:`nerfplex.config.load_config`); mappings
built in code (``--set`` overrides) without one are the current version.
"""

from __future__ import annotations

from nerfplex.errors import NerfplexError

SCHEMA_VERSION = 2
"""The version :func:`nerfplex.config.save_config` writes."""

V1_METHOD_SECTIONS = ("nerf", "tensorf", "dvgo", "neus", "ngp")
"""The per-method sections every version-1 ``model`` mapping could hold."""


def migrate(data: dict, default_method: str, source: str = "") -> dict:
    """``data`` (a mapping read from YAML, ``schema_version`` included or not: absent means current) as the
    current schema, without ``schema_version``. ``default_method``: the method of the config ``data`` is
    applied to, for files that do not name one."""
    data = dict(data)
    version = data.pop("schema_version", SCHEMA_VERSION)
    if version == 1:
        data = v1_to_v2(data, default_method)
    elif version != SCHEMA_VERSION:
        where = f"config {source} has" if source else "the config has"
        raise NerfplexError(
            f"{where} schema_version {version!r}; this nerfplex reads versions 1 and "
            f"{SCHEMA_VERSION}. Re-create it from configs/demo.yaml (or upgrade nerfplex)."
        )
    return data


def v1_to_v2(data: dict, default_method: str) -> dict:
    """Keep only the chosen method's section of ``model`` (``model.method``, else ``default_method``).

    The other methods' sections were unused in version 1. Keys that were never method sections stay, so
    a misspelt key is still reported."""
    model = data.get("model")
    if not isinstance(model, dict):
        return data
    method = model.get("method", default_method)
    kept = {
        key: value for key, value in model.items() if key == "method" or key == method or key not in V1_METHOD_SECTIONS
    }
    return {**data, "model": kept}
