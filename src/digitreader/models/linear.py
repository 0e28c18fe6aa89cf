"""`softmax`: multinomial logistic regression on the 784 pixels, the TensorFlow beginners' tutorial model.

Reference: TF "MNIST for ML beginners" (about 92% on MNIST test). A baseline, not for reading real images.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from digitreader.contract import IMAGE_SIZE, NUM_CLASSES
from digitreader.models.base import DigitModel, ModelConfig
from digitreader.models.recipe import Recipe
from digitreader.models.registry import ModelSpec, register_model


@dataclass(frozen=True)
class SoftmaxConfig(ModelConfig):
    """No architecture to choose: one linear layer. The tutorial feeds raw [0, 1] pixels (mean 0, std 1)."""


class Softmax(DigitModel):
    """logits = W x + b on the flattened image."""

    def __init__(self, config: SoftmaxConfig) -> None:
        super().__init__(config)
        self.fc = nn.Linear(IMAGE_SIZE * IMAGE_SIZE, NUM_CLASSES)
        # The tutorial starts from zeros (the problem is convex, so it converges to the same place).
        nn.init.zeros_(self.fc.weight)
        nn.init.zeros_(self.fc.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.normalise(x).flatten(1))


register_model(
    ModelSpec(
        name="softmax",
        config_cls=SoftmaxConfig,
        model_cls=Softmax,
        recipe=Recipe(optimizer="sgd", lr=0.01, batch_size=100, epochs=25, momentum=0.0),
        description="linear 784->10 (TF beginners' tutorial), ~92%",
    )
)
