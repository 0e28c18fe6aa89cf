"""`crnn`: the sequence reader. Reads a whole line of digits (separators included) without cutting it into
digits: convolutions see the strokes, a bidirectional LSTM reads them in context, CTC aligns the output.

Input: a strip float [N, 1, 32, W] in [0, 1], ink bright (`vision.strip`). Output: logits [N, T, C] with
T = W / `stride` columns and C = `ctc.NUM_CLASSES` (blank + digits + separators); exported to ONNX as
probabilities (softmax over C).

The convolutions halve the strip's height five times and its width twice (4 px per feature column); the
LSTM reads the feature columns and the output layer gives `4 / stride` output columns for each, so two
narrow characters in 4 px of strip ("11", the zeros of a pen-joined "000") can still be told apart with a
blank between them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from digitreader.contract import STRIP_HEIGHT
from digitreader.ctc import ALPHABET, NUM_CLASSES
from digitreader.models.base import DigitModel, ModelConfig
from digitreader.models.recipe import Recipe
from digitreader.models.registry import ModelSpec, register_model

FEATURE_STRIDE = 4  # strip pixels per feature column (two 2x2 poolings)


@dataclass(frozen=True)
class CrnnConfig(ModelConfig):
    height: int = STRIP_HEIGHT  # strip height in pixels
    channels: tuple[int, ...] = (32, 64, 96, 96, 160)  # conv widths: 32, 16, 8, 8, 4 px high
    hidden: int = 128  # LSTM units per direction
    layers: int = 2  # stacked bidirectional LSTMs
    stride: int = 2  # strip pixels per output column (a divisor of FEATURE_STRIDE)
    dropout: float = 0.1  # before the LSTM and the output layer
    classes: int = NUM_CLASSES

    def __post_init__(self) -> None:
        if self.height != 32:
            raise ValueError("height must be 32 (the convolutions halve it five times)")
        if len(self.channels) != 5 or min(self.channels) < 1:
            raise ValueError("channels: five positive widths")
        if self.stride < 1 or FEATURE_STRIDE % self.stride:
            raise ValueError(f"stride must divide {FEATURE_STRIDE}")
        if self.hidden < 1 or self.layers < 1 or self.classes < 2:
            raise ValueError("hidden, layers >= 1 and classes >= 2")


def _conv(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


class Crnn(DigitModel):
    """CNN + BiLSTM + CTC over a 32-pixel strip; `forward` gives logits [N, T, classes]."""

    config: CrnnConfig

    def __init__(self, config: CrnnConfig) -> None:
        super().__init__(config)
        c = config.channels
        self.features = nn.Sequential(
            *_conv(1, c[0]),
            nn.MaxPool2d(2),  # 16 x W/2
            *_conv(c[0], c[1]),
            nn.MaxPool2d(2),  # 8 x W/4
            *_conv(c[1], c[2]),
            *_conv(c[2], c[3]),
            nn.MaxPool2d((2, 1)),  # 4 x W/4
            *_conv(c[3], c[4]),
            nn.MaxPool2d((2, 1)),  # 2 x W/4
        )
        self.split = FEATURE_STRIDE // config.stride
        self.project = nn.Linear(2 * c[4], config.hidden)
        self.dropout = nn.Dropout(config.dropout)
        self.rnn = nn.LSTM(
            config.hidden,
            config.hidden,
            num_layers=config.layers,
            bidirectional=True,
            batch_first=True,
            dropout=config.dropout if config.layers > 1 else 0.0,
        )
        self.head = nn.Linear(2 * config.hidden, config.classes * self.split)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.features(self.normalise(x))  # [N, C, 2, W/4]
        n, c, h, w = f.shape
        f = f.permute(0, 3, 1, 2).reshape(n, w, c * h)
        out, _ = self.rnn(torch.relu(self.project(self.dropout(f))))
        # Each feature column gives `split` output columns.
        return self.head(self.dropout(out)).reshape(n, w * self.split, self.config.classes)

    def preprocessing(self) -> dict[str, Any]:
        """What the model reads (checkpoints and ONNX metadata carry it): `vision.strip` strips."""
        return {
            "strip_height": self.config.height,
            "stride": self.config.stride,
            "width_multiple": FEATURE_STRIDE,
            "ink": "bright",
            "range": [0.0, 1.0],
            "alphabet": ALPHABET,
            "blank": 0,
        }

    def columns(self, width: int) -> int:
        """Output columns for a strip `width` pixels wide."""
        return (width // FEATURE_STRIDE) * self.split


_CRNN_RECIPE = Recipe(
    optimizer="adamw",
    lr=2e-3,
    batch_size=64,
    epochs=None,
    steps=8000,  # ~45 min on 2 cores (one torch thread; the other core makes the lines)
    schedule="onecycle",
    warmup=0.05,
    final_lr_fraction=0.02,
    momentum=0.9,
    weight_decay=0.01,
    ema=0.998,
    notes="synthetic written numbers from MNIST training digits (data.strings), generated on the fly",
)

register_model(
    ModelSpec(
        name="crnn",
        config_cls=CrnnConfig,
        model_cls=Crnn,
        recipe=_CRNN_RECIPE,
        description="sequence reader: CNN + BiLSTM + CTC over a line of digits and separators",
        kind="sequence",
    )
)
