"""`lenet-tf`: the convolutional network of TensorFlow's "Deep MNIST for experts" tutorial, layer for layer.

5x5 conv 32 -> ReLU -> 2x2 max-pool -> 5x5 conv 64 -> ReLU -> 2x2 max-pool -> fc 1024 -> ReLU -> dropout 0.5
-> fc 10, 'SAME' padding, weights from a truncated normal (std 0.1) and biases 0.1, trained with Adam 1e-4,
batch 50, 20,000 steps. The tutorial reports about 99.2% on MNIST test.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from digitreader.contract import NUM_CLASSES
from digitreader.models.base import DigitModel, ModelConfig
from digitreader.models.recipe import Recipe
from digitreader.models.registry import ModelSpec, register_model


@dataclass(frozen=True)
class LenetTfConfig(ModelConfig):
    """The tutorial feeds raw [0, 1] pixels (mean 0, std 1)."""

    conv1: int = 32  # channels of the first 5x5 convolution
    conv2: int = 64  # channels of the second 5x5 convolution
    fc: int = 1024  # width of the fully connected layer
    dropout: float = 0.5  # the tutorial's keep_prob 0.5


class LenetTf(DigitModel):
    def __init__(self, config: LenetTfConfig) -> None:
        super().__init__(config)
        self.conv1 = nn.Conv2d(1, config.conv1, 5, padding=2)
        self.conv2 = nn.Conv2d(config.conv1, config.conv2, 5, padding=2)
        self.fc1 = nn.Linear(7 * 7 * config.conv2, config.fc)
        self.dropout = nn.Dropout(config.dropout)
        self.fc2 = nn.Linear(config.fc, NUM_CLASSES)
        layers: tuple[nn.Conv2d | nn.Linear, ...] = (self.conv1, self.conv2, self.fc1, self.fc2)
        for layer in layers:
            # The tutorial's weight_variable / bias_variable.
            nn.init.trunc_normal_(layer.weight, std=0.1, a=-0.2, b=0.2)
            nn.init.constant_(layer.bias, 0.1)  # type: ignore[arg-type]  # always has a bias here

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv1(self.normalise(x))), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = self.dropout(F.relu(self.fc1(x.flatten(1))))
        return self.fc2(x)


register_model(
    ModelSpec(
        name="lenet-tf",
        config_cls=LenetTfConfig,
        model_cls=LenetTf,
        recipe=Recipe(optimizer="adam", lr=1e-4, batch_size=50, epochs=None, steps=20_000, momentum=0.9),
        description="TF 'Deep MNIST' CNN: conv5x5 32, conv5x5 64, fc 1024, dropout; ~99.2%",
    )
)
