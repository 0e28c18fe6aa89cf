"""TensorBoard logging for a training run, degrading to a no-op (with one warning) when it cannot work.

Writes under OUT/tb: scalars (loss, accuracy, learning rate), a grid of input digits with the model's
predictions (wrong ones in red), and the model graph. View with `tensorboard --logdir OUT/tb`.
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

log = logging.getLogger(__name__)


class TensorBoard:
    """A thin, failure-tolerant wrapper around `torch.utils.tensorboard.SummaryWriter`."""

    def __init__(self, log_dir: Path, enabled: bool = True) -> None:
        self._writer: Any = None
        if not enabled:
            return
        try:
            from torch.utils.tensorboard import SummaryWriter  # imports tensorboard: only when logging

            self._writer = SummaryWriter(log_dir=str(log_dir))
        except Exception as exc:  # a missing or broken tensorboard must not stop training
            log.warning("TensorBoard logging off: %s", exc)

    def scalars(self, step: int, values: dict[str, float]) -> None:
        """One point per tag, e.g. {"train/loss": 0.3, "lr": 0.01}."""
        if self._writer is not None:
            for tag, value in values.items():
                self._writer.add_scalar(tag, value, step)

    def digits(
        self, tag: str, step: int, images: torch.Tensor, labels: torch.Tensor, predictions: torch.Tensor
    ) -> None:
        """A labelled grid of `images` (float [N, 1, 28, 28] in [0, 1]) drawn by `data.grid.save_grid`."""
        if self._writer is None or len(images) == 0:
            return
        try:
            from PIL import Image

            from digitreader.data.grid import save_grid

            with tempfile.TemporaryDirectory() as tmp:
                path = save_grid(
                    (images[:, 0].clamp(0, 1).numpy() * 255).round().astype(np.uint8),
                    labels.numpy(),
                    Path(tmp) / "grid.png",
                    predictions=predictions.numpy(),
                    columns=8,
                )
                with Image.open(path) as picture:
                    array = np.asarray(picture.convert("RGB"))
            self._writer.add_image(tag, array, step, dataformats="HWC")
        except Exception as exc:
            log.warning("TensorBoard image %s skipped: %s", tag, exc)

    def graph(self, model: nn.Module, example: torch.Tensor) -> None:
        """The model graph (tracing may fail for some modules; then it is skipped)."""
        if self._writer is None:
            return
        was_training = model.training
        try:
            model.eval()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # add_graph traces with torch.jit (deprecation warnings)
                self._writer.add_graph(model, example)
        except Exception as exc:
            log.warning("TensorBoard graph skipped: %s", exc)
        finally:
            model.train(was_training)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
