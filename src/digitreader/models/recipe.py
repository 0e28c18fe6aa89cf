"""How a model is trained: one frozen, typed place for every hyperparameter (units in the comments).

A `Recipe` travels inside each checkpoint as a plain dict (`recipe_to_dict`) and comes back with
`recipe_from_dict`, so a run can be resumed, reproduced or reported from the checkpoint alone.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "onecycle", "cosine")


@dataclass(frozen=True)
class Augmentation:
    """Strength of each random distortion applied to training batches (0 turns one off).

    The distortions imitate real handwriting and the reading path's framing: slant and rotation, size,
    position, stroke thickness and small wobbles of the pen.
    """

    rotate_deg: float = 0.0  # rotation drawn uniformly from [-rotate_deg, +rotate_deg] degrees
    scale: float = 0.0  # zoom drawn uniformly from [1 - scale, 1 + scale]
    shear_deg: float = 0.0  # horizontal shear (slant) drawn uniformly from [-shear_deg, +shear_deg] degrees
    shift_px: float = 0.0  # translation drawn uniformly from [-shift_px, +shift_px] pixels, each axis
    thickness: float = 0.0  # probability that a sample's strokes are thickened or thinned (half each)
    elastic_px: float = 0.0  # peak displacement of a smooth random warp, in pixels
    probability: float = 1.0  # fraction of samples that are distorted at all (the rest pass through)
    styles: float = 0.0  # share of 1s and 7s drawn continental: up-stroke, bar (`training.styles`)

    @property
    def enabled(self) -> bool:
        """Whether any distortion is switched on."""
        strengths = (
            self.rotate_deg,
            self.scale,
            self.shear_deg,
            self.shift_px,
            self.thickness,
            self.elastic_px,
            self.styles,
        )
        return self.probability > 0 and any(s > 0 for s in strengths)


@dataclass(frozen=True)
class Recipe:
    """A model's default training recipe. `steps`, when set, gives the length of a run, else `epochs`."""

    optimizer: str = "sgd"  # one of OPTIMIZERS
    lr: float = 0.01  # peak learning rate
    batch_size: int = 100  # samples per optimiser step
    epochs: int | None = 10  # passes over the training set
    steps: int | None = None  # optimiser steps (used instead of epochs when not None)
    schedule: str = "constant"  # one of SCHEDULES
    warmup: float = 0.0  # fraction of the run spent ramping the learning rate up (onecycle)
    final_lr_fraction: float = 0.0  # learning rate at the end of an annealed run, as a fraction of `lr`
    momentum: float = 0.9  # SGD momentum, or Adam's beta1
    nesterov: bool = False  # SGD only
    weight_decay: float = 0.0  # decoupled for adamw, L2 for sgd/adam
    label_smoothing: float = 0.0  # cross-entropy label smoothing, 0..1
    augment: Augmentation = field(default_factory=Augmentation)
    ema: float | None = None  # per-step decay of an exponential moving average of the weights, e.g. 0.999
    notes: str = ""  # where the recipe comes from, or what it reached

    def replace(self, **changes: Any) -> Recipe:
        """A copy with some fields changed (None values are ignored, so CLI flags can be passed in)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})


def recipe_to_dict(recipe: Recipe) -> dict[str, Any]:
    """The recipe as plain types (safe for `torch.load(weights_only=True)` and JSON)."""
    return dataclasses.asdict(recipe)


def recipe_from_dict(data: dict[str, Any]) -> Recipe:
    """Inverse of `recipe_to_dict`; unknown keys (from a newer version) are ignored."""
    known = {f.name for f in dataclasses.fields(Recipe)}
    values = {k: v for k, v in data.items() if k in known}
    if values.get("steps") == 0:  # early checkpoints wrote 0 for "no step count"
        values["steps"] = None
    if isinstance(values.get("augment"), dict):
        aug_known = {f.name for f in dataclasses.fields(Augmentation)}
        values["augment"] = Augmentation(**{k: v for k, v in values["augment"].items() if k in aug_known})
    return Recipe(**values)


def describe(recipe: Recipe) -> str:
    """A one-line summary for tables: optimiser, lr, batch, length, schedule and the extras in use."""
    length = f"{recipe.steps} steps" if recipe.steps else f"{recipe.epochs} ep"
    parts = [f"{recipe.optimizer} lr {recipe.lr:g}", f"bs {recipe.batch_size}", length]
    if recipe.schedule != "constant":
        parts.append(recipe.schedule)
    if recipe.weight_decay:
        parts.append(f"wd {recipe.weight_decay:g}")
    if recipe.label_smoothing:
        parts.append(f"ls {recipe.label_smoothing:g}")
    if recipe.augment.enabled:
        parts.append("aug")
    if recipe.ema:
        parts.append(f"ema {recipe.ema:g}")
    return ", ".join(parts)
