"""Registry of named models (timm style): name -> frozen config dataclass + module class + default recipe.

    >>> from digitreader.models.registry import build_model, get_spec
    >>> model = build_model("cnn")                     # default config
    >>> model = build_model("mlp", {"hidden": [512]})  # some fields changed
    >>> get_spec("cnn").recipe.epochs

Each family lives in its own module and registers itself with `register_model`; the families are imported
on first use of the registry so that importing this module stays cheap.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from digitreader.errors import ModelError
from digitreader.models.base import DigitModel, ModelConfig, count_parameters
from digitreader.models.recipe import Recipe

# Modules whose import registers their models, in the order `digits models` lists them.
_FAMILIES = ("linear", "mlp", "lenet", "cnn", "fast", "record", "crnn")
_REGISTRY: dict[str, ModelSpec] = {}
_loaded = False


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
        """A freshly initialised module (train mode)."""
        return self.model_cls(self.make_config(overrides))

    def parameter_count(self) -> int:
        """Trainable parameters of the default config."""
        return count_parameters(self.build())


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
    """Every registered model, in registration order."""
    _load_families()
    return list(_REGISTRY.values())


def get_spec(name: str) -> ModelSpec:
    """The spec registered under `name`; an unknown name raises ModelError listing the known ones."""
    _load_families()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ModelError(f"unknown model {name!r}; known models: {', '.join(_REGISTRY)}") from None


def build_model(name: str, config: Mapping[str, Any] | None = None) -> DigitModel:
    """Build the registered model `name` with its default config, or with `config` fields changed."""
    return get_spec(name).build(config)
