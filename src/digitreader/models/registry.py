"""Registry of named models (timm style): name -> frozen config dataclass + module class + default recipe.

    >>> from digitreader.models.registry import build_model, get_spec
    >>> model = build_model("cnn")                     # default config
    >>> model = build_model("mlp", {"hidden": [512]})  # some fields changed
    >>> get_spec("cnn").recipe.epochs

Each family lives in its own module and registers itself with `register_model`; the families are imported
on first use of the registry so that importing this module stays cheap.

Configs can come from files (a checkpoint's `config`), so `build` checks one before allocating anything:
every number finite, every size an integer in [0, `MAX_SIZE`] (and all of them together too), and the
module built first on PyTorch's "meta" device (shapes only, no memory) to count its parameters against
`MAX_PARAMETERS`. A layer size of -5 or a 10^6 x 10^6 layer is a one-line `ModelError`, not a traceback
or gigabytes.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from digitreader.errors import ModelError
from digitreader.files import one_line
from digitreader.models.base import DigitModel, ModelConfig, count_parameters
from digitreader.models.recipe import Recipe

# Modules whose import registers their models, in the order `digits models` lists them.
_FAMILIES = ("linear", "mlp", "lenet", "cnn", "fast", "record", "crnn")
_REGISTRY: dict[str, ModelSpec] = {}
_loaded = False
MAX_SIZE = (
    8192  # largest integer a config may hold (a width, a depth, a kernel): the models here use <= 1,024
)
MAX_PARAMETERS = 50_000_000  # the largest registered model has 3.3 M


@dataclass(frozen=True)
class ModelSpec:
    """One registered model: how to configure it, build it and train it."""

    name: str
    config_cls: type[ModelConfig]
    model_cls: type[DigitModel]
    recipe: Recipe
    description: str
    kind: str = "classifier"  # "classifier": 28x28 digit -> 10 logits; "sequence": line strip -> CTC logits

    def make_config(self, overrides: Mapping[str, Any] | None = None) -> ModelConfig:
        """The default config with `overrides` applied (lists become tuples); unknown fields: ModelError."""
        fields = {f.name: f for f in dataclasses.fields(self.config_cls)}
        unknown = sorted(set(overrides or {}) - set(fields))
        if unknown:
            raise ModelError(f"model {self.name!r} has no config field(s) {', '.join(unknown)}")
        values: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in (overrides or {}).items()
        }
        try:
            return self.config_cls(**values)
        except (TypeError, ValueError) as exc:
            raise ModelError(f"model {self.name!r}: bad config {dict(overrides or {})}: {exc}") from None

    def build(self, overrides: Mapping[str, Any] | None = None) -> DigitModel:
        """A freshly initialised module (train mode), once its config has passed `check_config`."""
        config = self.make_config(overrides)
        self.check_config(config)
        return self.model_cls(config)

    def check_config(self, config: ModelConfig) -> None:
        """`ModelError` unless `config` holds sane numbers and builds a module of at most `MAX_PARAMETERS`
        parameters; nothing is allocated (the module is built on the meta device)."""
        total = 0
        for field in dataclasses.fields(config):
            value = getattr(config, field.name)
            for item in value if isinstance(value, tuple) else (value,):
                _check_number(self.name, field.name, item)
                total += item if isinstance(item, int) and not isinstance(item, bool) else 0
        if total > MAX_SIZE:  # thousands of layers take seconds to lay out, even on the meta device
            raise ModelError(
                f"model {self.name!r}: config {config.to_dict()} sizes add up to {total:,} "
                f"(at most {MAX_SIZE:,})"
            )
        import torch

        try:
            with torch.device("meta"):
                probe = self.model_cls(config)
        except Exception as exc:  # whatever torch says about impossible shapes
            reason = one_line(exc, 160)
            raise ModelError(
                f"model {self.name!r}: config {config.to_dict()} cannot be built ({reason})"
            ) from None
        size = sum(t.numel() for t in probe.parameters()) + sum(t.numel() for t in probe.buffers())
        if size > MAX_PARAMETERS:
            raise ModelError(
                f"model {self.name!r}: config {config.to_dict()} has {size:,} parameters "
                f"(at most {MAX_PARAMETERS:,})"
            )

    def parameter_count(self) -> int:
        """Trainable parameters of the default config."""
        return count_parameters(self.build())


def _check_number(model: str, field: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return  # not a number: the meta build judges it
    if isinstance(value, float) and not math.isfinite(value):
        raise ModelError(f"model {model!r}: config field {field} is {value!r}")
    if isinstance(value, int) and not 0 <= value <= MAX_SIZE:
        raise ModelError(f"model {model!r}: config field {field} is {value}, outside 0..{MAX_SIZE}")


def register_model(spec: ModelSpec) -> ModelSpec:
    """Add `spec` to the registry (called by each family module at import)."""
    if spec.name in _REGISTRY and _REGISTRY[spec.name] is not spec:
        raise ValueError(f"model name {spec.name!r} registered twice")
    _REGISTRY[spec.name] = spec
    return spec


def _load_families() -> None:
    global _loaded
    if not _loaded:
        for family in _FAMILIES:
            importlib.import_module(f"digitreader.models.{family}")
        _loaded = True


def list_specs() -> list[ModelSpec]:
    """Every registered model, family by family in `_FAMILIES` order (whichever module was imported first)."""
    _load_families()
    order = {f"digitreader.models.{family}": i for i, family in enumerate(_FAMILIES)}
    return sorted(_REGISTRY.values(), key=lambda s: order.get(s.model_cls.__module__, len(order)))


def get_spec(name: str) -> ModelSpec:
    """The spec registered under `name`; an unknown name raises ModelError listing the known ones."""
    _load_families()
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(s.name for s in list_specs())
        raise ModelError(f"unknown model {name!r}; known models: {known}") from None


def build_model(name: str, config: Mapping[str, Any] | None = None) -> DigitModel:
    """Build the registered model `name` with its default config, or with `config` fields changed."""
    return get_spec(name).build(config)
