"""What every model family shares: a frozen config holding the preprocessing constants, and a module base
class that applies them inside `forward`, so every consumer (torch, ONNX Runtime, the browser) feeds the same
float [N, 1, 28, 28] image in [0, 1], ink bright."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn


@dataclass(frozen=True)
class ModelConfig:
    """Base of every family's architecture config; `mean`/`std` normalise the [0, 1] input in the model."""

    mean: float = 0.0
    std: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        """Plain types only (tuples become lists), for checkpoints and JSON."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}


class DigitModel(nn.Module):
    """A classifier of 28x28 digit images: input float [N, 1, 28, 28] in [0, 1], output logits [N, 10]."""

    config: ModelConfig

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the config's mean/std (constants, so ONNX export bakes them into the graph)."""
        if self.config.mean == 0.0 and self.config.std == 1.0:
            return x
        return (x - self.config.mean) / self.config.std


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
