"""What a training run is asked to do and what it gives back, and the recipe it trains with.

`TrainConfig` is one `digits train` (None: the model's recipe decides); `resolve_recipe` applies its
overrides to the registered recipe and `check_recipe` refuses bad hyperparameters in one line. Torch-free:
the loop (`train`), the sequence reader's loop (`sequence`) and the launcher (`launch`) all import it.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from digitreader.errors import DigitreaderError
from digitreader.models.recipe import OPTIMIZERS, SCHEDULES, Recipe


@dataclass(frozen=True)
class TrainConfig:
    """One run of `digits train`. None means "the model's recipe decides"."""

    model: str
    out: Path
    epochs: int | None = None
    steps: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    seed: int = 0
    resume: bool = False
    dry_run: bool = False
    data: Path | None = None  # a user dataset folder (`digits data build`) instead of MNIST
    with_mnist: bool = False  # add MNIST's training images to the user dataset
    data_dir: Path | None = None  # where the MNIST files are (or go)
    threads: int | None = None  # torch CPU threads
    device: str = "auto"  # cpu, cuda, or auto (cuda when there is a GPU); see training/distributed.py
    progress: bool = True  # tqdm bar on stderr
    tensorboard: bool = True
    recipe: Recipe | None = None  # replaces the registered recipe (experiments, tests)
    model_config: dict[str, Any] = field(default_factory=dict)  # architecture fields to change
    init: Path | None = None  # start from this checkpoint's weights (a new run: fine-tuning them)


@dataclass(frozen=True)
class TrainResult:
    """Where the run left its files and what it measured (`metrics` of the best checkpoint)."""

    out: Path
    best: Path | None
    last: Path | None
    metrics: dict[str, Any]
    interrupted: bool = False


def resolve_recipe(base: Recipe, cfg: TrainConfig) -> Recipe:
    """The recipe with the command-line overrides applied, checked (--epochs, --steps replace each other)."""
    recipe = cfg.recipe or base
    if cfg.epochs is not None:
        recipe = dataclasses.replace(recipe, epochs=cfg.epochs, steps=None)
    if cfg.steps is not None:
        recipe = dataclasses.replace(recipe, steps=cfg.steps, epochs=None)
    recipe = recipe.replace(batch_size=cfg.batch_size, lr=cfg.lr)
    check_recipe(recipe)
    return recipe


def check_recipe(recipe: Recipe) -> None:
    """Raise DigitreaderError naming the first bad hyperparameter."""
    if not recipe.lr > 0 or not math.isfinite(recipe.lr):
        raise DigitreaderError(f"learning rate must be > 0 (got {recipe.lr})")
    if recipe.batch_size < 1:
        raise DigitreaderError(f"batch size must be >= 1 (got {recipe.batch_size})")
    if recipe.steps is not None:
        if recipe.steps < 1:
            raise DigitreaderError(f"steps must be >= 1 (got {recipe.steps})")
    elif recipe.epochs is None or recipe.epochs < 1:
        raise DigitreaderError(f"epochs must be >= 1 (got {recipe.epochs})")
    if recipe.optimizer not in OPTIMIZERS:
        raise DigitreaderError(
            f"unknown optimizer {recipe.optimizer!r} (choose from {', '.join(OPTIMIZERS)})"
        )
    if recipe.schedule not in SCHEDULES:
        raise DigitreaderError(f"unknown schedule {recipe.schedule!r} (choose from {', '.join(SCHEDULES)})")
