"""`mlp`: a fully connected network (ReLU hidden layers, dropout), the classic pre-convolution baseline."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from digitreader.contract import IMAGE_SIZE, MNIST_MEAN, MNIST_STD, NUM_CLASSES
from digitreader.models.base import DigitModel, ModelConfig
from digitreader.models.recipe import Recipe
from digitreader.models.registry import ModelSpec, register_model


@dataclass(frozen=True)
class MlpConfig(ModelConfig):
    mean: float = MNIST_MEAN
    std: float = MNIST_STD
    hidden: tuple[int, ...] = (512, 256)  # width of each hidden layer
    dropout: float = 0.2  # after each hidden layer


class Mlp(DigitModel):
    """Flatten -> [Linear -> ReLU -> Dropout] per hidden layer -> Linear."""

    def __init__(self, config: MlpConfig) -> None:
        super().__init__(config)
        layers: list[nn.Module] = []
        width = IMAGE_SIZE * IMAGE_SIZE
        for hidden in config.hidden:
            layers += [nn.Linear(width, hidden), nn.ReLU(inplace=True), nn.Dropout(config.dropout)]
            width = hidden
        layers.append(nn.Linear(width, NUM_CLASSES))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.normalise(x).flatten(1))


register_model(
    ModelSpec(
        name="mlp",
        config_cls=MlpConfig,
        model_cls=Mlp,
        recipe=Recipe(
            optimizer="adamw", lr=1e-3, batch_size=128, epochs=15, schedule="cosine", weight_decay=1e-4
        ),
        description="MLP 784-512-256-10 with dropout, ~98%",
    )
)
