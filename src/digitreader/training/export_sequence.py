"""A sequence-reader checkpoint -> the ONNX file reading uses, checked against torch before it is written.

Steps, in order (those of `export` for classifiers, with strips instead of 28x28 digits):
1. load the checkpoint (safe load) and build the `crnn` in eval mode;
2. export it with a softmax: input ``strip`` float32 ``[N, 1, 32, W]`` in [0, 1], batch and width dynamic,
   output ``probabilities`` ``[N, T, classes]``;
3. run ONNX Runtime and torch on generated validation lines (`training.sequence.validation_lines`, MNIST
   validation digits) one by one, each at its own width, and refuse to write unless every probability
   agrees within `TOLERANCE` and the readings are the same;
4. attach the metadata (format, ``kind: sequence``, the preprocessing the strips need, the alphabet) and
   write the file atomically.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from digitreader.contract import OUTPUT_NAME, STRIP_HEIGHT, STRIP_INPUT_NAME
from digitreader.ctc import ALPHABET, NUM_CLASSES, greedy_decode, text_of
from digitreader.data.mnist import load_mnist
from digitreader.data.strings import DigitBank
from digitreader.errors import ModelError
from digitreader.training.checkpoint import build_model_from_checkpoint, load_checkpoint
from digitreader.training.onnx_io import (
    ExportResult,
    checkpoint_metadata,
    export_record,
    onnx_bytes,
    session,
    write_model,
)
from digitreader.training.sequence import pad_strips, validation_lines

log = logging.getLogger(__name__)

# Max |p_onnx - p_torch| over every column of every checked line. Float kernels of torch and ONNX Runtime
# differ by up to ~2.5e-4 on a model with extreme weights (a fine-tune ruined by a huge learning rate); a
# wrongly mapped graph differs by 0.1 or more, and the readings must match besides.
TOLERANCE = 1e-3
N_CHECK = 200  # generated lines compared between ONNX Runtime and torch


def export_sequence_onnx(
    checkpoint: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    data_dir: str | os.PathLike[str] | None = None,
    n_check: int = N_CHECK,
    tolerance: float = TOLERANCE,
) -> ExportResult:
    """Export a `crnn` checkpoint to `out`, checked against torch on `n_check` generated lines."""
    source = Path(checkpoint)
    ckpt = load_checkpoint(source)
    model = build_model_from_checkpoint(ckpt)
    out_path = Path(out)
    lines = validation_lines(DigitBank(*load_mnist(data_dir).split("validation")), n_check)
    proto_bytes, diff, same = checked_onnx(model, [s for s, _ in lines], out_path, tolerance)
    metadata = {
        **checkpoint_metadata(ckpt, source),
        "kind": "sequence",
        "alphabet": ALPHABET,
        "export": export_record(
            checked_lines=len(lines),
            check_data="generated lines of MNIST validation digits",
            max_abs_diff=diff,
            same_readings=same,
        ),
    }
    _, sha256 = write_model(out_path, proto_bytes, metadata)
    log.info("wrote %s (max |ONNX - torch| = %.2g on %d lines)", out_path, diff, len(lines))
    return ExportResult(
        path=out_path,
        sha256=sha256,
        metadata=metadata,
        images_checked=len(lines),
        check_data="generated lines",
        max_abs_diff=diff,
        argmax_agreement=same,
        accuracy=None,
    )


def checked_onnx(
    model: Any, strips: list[np.ndarray], out_path: Path, tolerance: float = TOLERANCE
) -> tuple[bytes, float, float]:
    """A `crnn` (eval mode) as ONNX bytes without metadata, after ONNX Runtime and torch read each of
    `strips` alike (every probability within `tolerance`, the same text); the largest difference and the
    fraction read alike. Raises `ModelError` naming `out_path` (not written) otherwise."""
    import torch

    wrapped = _WithSoftmax(model).eval()
    axes = {STRIP_INPUT_NAME: {0: "batch", 3: "width"}, OUTPUT_NAME: {0: "batch", 1: "columns"}}
    dummy = torch.zeros(2, 1, STRIP_HEIGHT, 64)
    proto_bytes = _with_class_dim(onnx_bytes(wrapped, dummy, STRIP_INPUT_NAME, axes, out_path))
    checking = session(proto_bytes, out_path)
    diff, same = 0.0, 0
    for strip in strips:
        x, _ = pad_strips([strip])
        with torch.inference_mode():
            expected = wrapped(x).numpy()
        got = checking.run([OUTPUT_NAME], {STRIP_INPUT_NAME: x.numpy()})[0]
        if got.shape != expected.shape:
            raise ModelError(f"{out_path}: not written: ONNX output {got.shape}, torch {expected.shape}")
        diff = max(diff, float(np.abs(got - expected).max()))
        same += text_of(greedy_decode(got[0])) == text_of(greedy_decode(expected[0]))
    if not np.isfinite(diff) or diff > tolerance or same != len(strips):
        raise ModelError(
            f"{out_path}: not written: ONNX Runtime and torch differ by {diff:.3g} on {len(strips)} lines "
            f"({len(strips) - same} read differently; tolerance {tolerance:g})"
        )
    return proto_bytes, diff, same / max(1, len(strips))


class _WithSoftmax:
    """The model with a softmax over classes, as one module (built lazily: torch is imported by callers)."""

    def __new__(cls, model: Any) -> Any:
        import torch

        class Wrapped(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.model = model

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                return self.model(x).softmax(-1)

        return Wrapped()


def _with_class_dim(model_bytes: bytes) -> bytes:
    """The output's class axis declared as the number it is (the exporter leaves it symbolic after the
    reshape that splits feature columns), so a reader can check the alphabet's size before reading."""
    import onnx

    proto = onnx.load_from_string(model_bytes)
    dims = proto.graph.output[0].type.tensor_type.shape.dim
    dims[2].Clear()
    dims[2].dim_value = NUM_CLASSES
    return bytes(proto.SerializeToString())
