"""Methods by name: each method is a config dataclass with ``build(scene, device) -> Model``.

The registry maps a method's name to ``"module:ConfigClass"`` and imports nothing of a method until it is
chosen, so importing the config tree does not load every method's model code. In-tree methods register
with one line in :data:`METHODS`; other packages add methods through the ``nerfplex.methods`` Python
entry-point group (docs/adding-a-method.md)::

    [project.entry-points."nerfplex.methods"]
    toy = "toy_method:ToyConfig"

A method's config class may define ``checks()`` (nerfplex/config_checks.py); its first docstring line is
the method's summary in ``nerfplex train --help``. In an experiment config the method's settings sit under
``model.<name>`` beside ``model.method`` (``--model.tensorf.n-voxel-final``), and only the chosen method's
section exists (:func:`model_config_class`).
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import importlib.metadata
from typing import TYPE_CHECKING, Annotated, Any, Optional

import tyro

from nerfplex.errors import NerfplexError

if TYPE_CHECKING:
    import torch

    from nerfplex.data.scene import SceneData
    from nerfplex.models.base import Model

METHODS: dict[str, str] = {
    "nerf": "nerfplex.models.vanilla_nerf:VanillaNeRFConfig",
    "tensorf": "nerfplex.models.tensorf:TensoRFConfig",
    "dvgo": "nerfplex.models.dvgo_config:DVGOConfig",
    "neus": "nerfplex.models.neus:NeuSConfig",
    "ngp": "nerfplex.models.ngp:NGPConfig",
}
"""The in-tree methods: name -> ``"module:ConfigClass"``."""

ENTRY_POINT_GROUP = "nerfplex.methods"
"""The entry-point group through which installed packages add methods (name = ``"module:ConfigClass"``)."""


def available_methods() -> dict[str, str]:
    """Every method's name -> ``"module:ConfigClass"``: the in-tree ones, then installed plug-ins (read
    afresh on each call; an in-tree name cannot be taken over by a plug-in)."""
    methods = dict(METHODS)
    for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        methods.setdefault(entry.name, entry.value)
    return methods


def method_config_class(name: str) -> type:
    """Import and return the config class of method ``name``; unknown or broken methods raise
    :class:`NerfplexError` naming what is available."""
    methods = available_methods()
    if name not in methods:
        raise NerfplexError(
            f"unknown method {name!r}. Available: {', '.join(methods)}. Installed packages add "
            f"methods through the '{ENTRY_POINT_GROUP}' entry-point group "
            f"(docs/adding-a-method.md)."
        )
    if not name.isidentifier() or name == "method":
        raise NerfplexError(
            f"method name {name!r} ({methods[name]}) must be a Python identifier other than "
            f"'method' (it becomes the config section model.{name})."
        )
    module_name, _, class_name = methods[name].partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as err:
        raise NerfplexError(
            f"method {name!r} ({methods[name]}) cannot be loaded: {err}. Reinstall the package that provides it."
        ) from None
    if not dataclasses.is_dataclass(cls) or not callable(getattr(cls, "build", None)):
        raise NerfplexError(
            f"method {name!r}: {methods[name]} must be a dataclass with a build(scene, device) -> Model method."
        )
    return cls


def method_summary(name: str) -> str:
    """The first line of the method's config docstring (for ``nerfplex train --help``)."""
    try:
        doc = method_config_class(name).__doc__ or ""
    except NerfplexError as err:
        return f"(cannot be loaded: {err})"
    return doc.strip().splitlines()[0] if doc.strip() else ""


@dataclasses.dataclass
class ModelConfig:
    """The method to train (``model.method``) and its settings (``model.<method>``, the only section)."""

    method: str = "tensorf"
    """The method's name (see ``nerfplex train --help``)."""

    @property
    def settings(self) -> Any:
        """The chosen method's config (the ``model.<method>`` section)."""
        return getattr(self, self.method)

    def __reduce__(self):
        # The class is made at run time (model_config_class): pickle by name and settings.
        return model_config, (self.method, self.settings)


@functools.cache
def model_config_class(name: str) -> type[ModelConfig]:
    """The ``model`` section of an experiment training method ``name``: ``method`` (not a flag: the method
    is chosen by name, ``nerfplex train NAME``) and one field ``name`` holding the method's config, so the
    flags read ``--model.NAME.FIELD``."""
    settings_class = method_config_class(name)
    return dataclasses.make_dataclass(
        f"{settings_class.__name__}Section",
        [
            ("method", Annotated[str, tyro.conf.Suppress], dataclasses.field(default=name)),
            (name, settings_class, dataclasses.field(default_factory=settings_class)),
        ],
        bases=(ModelConfig,),
        namespace={"__doc__": settings_class.__doc__, "__module__": __name__},
    )


def model_config(name: str, settings: Any = None) -> ModelConfig:
    """The ``model`` section for method ``name`` with ``settings`` (None: the config class's defaults)."""
    cls = model_config_class(name)
    return cls(**({} if settings is None else {name: settings}))


def build_model(config: ModelConfig, scene: SceneData, device: Optional[torch.device | str] = None) -> Model:
    """Instantiate the configured method for ``scene`` (its config's ``build``; grid methods size their grids
    to the scene's box). ``device``: where the model will run (None: CUDA if available); methods with
    CUDA-only implementations (``ngp`` on tiny-cuda-nn) choose by it."""
    return config.settings.build(scene, device)
