"""The pieces of a training step that a recipe configures: optimiser, learning-rate schedule, and the
exponential moving average of the weights (the recipe's overrides and checks: `training.config`)."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import torch
from torch import nn

from digitreader.models.recipe import Recipe


def make_optimizer(model: nn.Module, recipe: Recipe) -> torch.optim.Optimizer:
    """The recipe's optimiser; weight decay applies to weight matrices and kernels, not biases or BN."""
    decay = [p for p in model.parameters() if p.ndim > 1]
    other = [p for p in model.parameters() if p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": recipe.weight_decay}, {"params": other, "weight_decay": 0.0}]
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=recipe.lr, momentum=recipe.momentum, nesterov=recipe.nesterov)
    betas = (recipe.momentum, 0.999)
    if recipe.optimizer == "adam":
        return torch.optim.Adam(groups, lr=recipe.lr, betas=betas)
    return torch.optim.AdamW(groups, lr=recipe.lr, betas=betas)


def lr_factor(recipe: Recipe, total_steps: int) -> Callable[[int], float]:
    """Multiplier of the peak lr at each step: constant; cosine; or onecycle (linear warm-up, cosine down)."""
    final = recipe.final_lr_fraction
    warmup = round(recipe.warmup * total_steps) if recipe.schedule != "constant" else 0

    def factor(step: int) -> float:
        if recipe.schedule == "constant":
            return 1.0
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
        return final + (1 - final) * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


class Ema:
    """Exponential moving average of every float tensor of a model's state (weights and BN statistics)."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        self.module = copy.deepcopy(model).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        # Short memory early on, so the average is not dominated by the random initialisation.
        decay = min(self.decay, (1 + step) / (10 + step))
        for mine, theirs in zip(self.module.state_dict().values(), model.state_dict().values(), strict=True):
            if mine.dtype.is_floating_point:
                mine.lerp_(theirs, 1 - decay)
            else:
                mine.copy_(theirs)
