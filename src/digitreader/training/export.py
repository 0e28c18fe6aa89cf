"""Checkpoint -> the ONNX file `Recognizer.load` reads, checked against torch before it is written.

Steps, in order:
1. load the checkpoint (safe load, no pickle) and build its model in eval mode (logits, normalisation inside);
2. export model + softmax with the TorchScript-based exporter (`dynamo=False`): input ``image`` float32
   ``[N, 1, 28, 28]`` in [0, 1] with a dynamic batch, output ``probabilities`` ``[N, 10]``;
3. run ONNX Runtime and torch on the same images (1,000 MNIST test digits, or seeded synthetic images where
   MNIST is absent) and refuse to write unless the largest probability difference is within `TOLERANCE`;
4. with `int8`: quantise the checked float graph (`quantize.py`: static QDQ, calibrated on MNIST training
   digits) and refuse to write unless it reads the check images like the float graph (`quantize.passes`);
5. attach the metadata (``metadata_props["digitreader"]``, JSON, see `contract.FORMAT`) and write the file
   atomically (`onnx_io.write_model`): a failed export never leaves a partial or unchecked file.

Optionally `write_card` writes the JSON card the bundled model carries (see ``weights/README.md``).
Torch is imported here (the `train` extra); the reading path never imports this module.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

from digitreader.contract import FORMAT, IMAGE_SIZE, INPUT_NAME, NUM_CLASSES, OUTPUT_NAME
from digitreader.errors import ModelError
from digitreader.files import atomic_write_bytes
from digitreader.training import quantize
from digitreader.training.checkpoint import build_model_from_checkpoint, load_checkpoint
from digitreader.training.onnx_io import (
    ExportResult,
    check_images,
    checkpoint_metadata,
    export_record,
    onnx_bytes,
    run_onnx,
    write_model,
)

log = logging.getLogger(__name__)

TOLERANCE = 1e-4  # max |p_onnx - p_torch| over every probability of every checked image
N_CHECK = 1000  # images compared between ONNX Runtime and torch


def export_onnx(
    checkpoint: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    data_dir: str | os.PathLike[str] | None = None,
    n_check: int = N_CHECK,
    tolerance: float = TOLERANCE,
    int8: bool = False,
) -> ExportResult:
    """Export `checkpoint` to `out` (ONNX + metadata), checked against torch on `n_check` images.

    `int8`: write the float graph quantised to 8 bits instead, calibrated on MNIST training digits from
    `data_dir` and checked against the float graph (see `export_model`). Raises `ModelError` (one line naming
    the file) when the checkpoint cannot be used or a check fails; `out` is then left untouched.
    """
    source = Path(checkpoint)
    ckpt = load_checkpoint(source)
    model = build_model_from_checkpoint(ckpt)
    metadata = checkpoint_metadata(ckpt, source)
    metadata["labels"] = list(range(NUM_CLASSES))
    metadata["source"]["epoch"] = ckpt.epoch
    return export_with_data(model, out, metadata, data_dir, n_check, tolerance, int8)


def export_with_data(
    model: Any,
    out: str | os.PathLike[str],
    metadata: dict[str, Any],
    data_dir: str | os.PathLike[str] | None,
    n_check: int,
    tolerance: float,
    int8: bool,
) -> ExportResult:
    """`export_model` checked on `n_check` images from `data_dir` (`check_images`), and with `int8`
    calibrated on its MNIST training digits (`quantize.calibration_images`)."""
    images, labels, check_data = check_images(data_dir, n_check)
    return export_model(
        model,
        out,
        metadata,
        images=images,
        labels=labels,
        check_data=check_data,
        tolerance=tolerance,
        int8=int8,
        calibration=quantize.calibration_images(data_dir) if int8 else None,
    )


def export_model(
    model: Any,
    out: str | os.PathLike[str],
    metadata: dict[str, Any],
    *,
    images: np.ndarray,
    labels: np.ndarray | None = None,
    check_data: str = "given",
    tolerance: float = TOLERANCE,
    int8: bool = False,
    calibration: tuple[np.ndarray, str] | None = None,
) -> ExportResult:
    """Export a torch `model` (logits, input [N, 1, 28, 28] in [0, 1]) with softmax to `out`, checked.

    `images` are uint8 `(N, 28, 28)` digit images (ink bright) used for the check; `labels` (optional) give
    the accuracy recorded in the metadata. The file is written only when the check passes.

    `int8`: the checked float graph is quantised (`quantize.quantize_int8`) with `calibration` (uint8 images
    and their source's name; default `quantize.calibration_images(None)`), and the int8 graph is written
    only when it agrees with the float graph on `images` (argmax >= `quantize.MIN_AGREEMENT`, max |prob
    difference| <= `quantize.MAX_PROB_DIFF`) and its batch is still dynamic.
    """
    import torch

    out_path = Path(out)
    wrapped = _with_softmax(model)
    dummy = torch.zeros(2, 1, IMAGE_SIZE, IMAGE_SIZE)
    axes = {INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}}
    proto_bytes = onnx_bytes(wrapped, dummy, INPUT_NAME, axes, out_path)
    batch = images.astype(np.float32)[:, None] / 255.0
    with torch.inference_mode():
        expected = wrapped(torch.from_numpy(batch)).numpy()
    got = run_onnx(proto_bytes, batch, out_path)
    diff = float(np.abs(got - expected).max())
    agreement = float((got.argmax(1) == expected.argmax(1)).mean())
    if not np.isfinite(diff) or diff > tolerance:
        raise ModelError(
            f"{out_path}: not written: ONNX Runtime and torch differ by {diff:.3g} on {len(batch)} "
            f"{check_data} images (tolerance {tolerance:g})"
        )
    _check_dynamic_batch(proto_bytes, batch, got, tolerance, out_path)
    accuracy = _accuracy(got, labels)
    quantization = None
    if int8:
        calibration = calibration if calibration is not None else quantize.calibration_images(None)
        proto_bytes, got, quantization = quantize.quantize_checked(
            proto_bytes, batch, got, calibration, accuracy, out_path
        )
        _check_dynamic_batch(proto_bytes, batch, got, tolerance, out_path)
        accuracy = _accuracy(got, labels)
    metadata = dict(metadata)
    metadata.setdefault("format", FORMAT)
    metadata.setdefault("labels", list(range(NUM_CLASSES)))
    metadata["export"] = export_record(
        checked_images=len(batch),
        check_data=check_data,
        max_abs_diff=diff,
        argmax_agreement=agreement,
        onnx_accuracy=accuracy,
    )
    if quantization is not None:
        metadata["export"]["quantization"] = quantization
    _, sha256 = write_model(out_path, proto_bytes, metadata)
    log.info("wrote %s (max |ONNX - torch| = %.2g on %d images)", out_path, diff, len(batch))
    return ExportResult(
        path=out_path,
        sha256=sha256,
        metadata=metadata,
        images_checked=len(batch),
        check_data=check_data,
        max_abs_diff=diff,
        argmax_agreement=agreement,
        accuracy=accuracy,
        quantization=quantization,
    )


def _accuracy(probs: np.ndarray, labels: np.ndarray | None) -> float | None:
    """Fraction of the checked images read right (None without labels)."""
    return None if labels is None else float((probs.argmax(1) == labels[: len(probs)]).mean())


def _check_dynamic_batch(
    model_bytes: bytes, batch: np.ndarray, full: np.ndarray, tolerance: float, out_path: Path
) -> None:
    """The dynamic batch really is dynamic: one image and an odd count give the full batch's answers."""
    for n in (1, 7):
        small = run_onnx(model_bytes, batch[:n], out_path)
        if float(np.abs(small - full[:n]).max()) > tolerance:
            raise ModelError(f"{out_path}: not written: batch of {n} differs from the full batch")


def write_card(
    result: ExportResult,
    card: str | os.PathLike[str],
    *,
    command: str,
    data: str,
    notes: str = "",
    commit: str | None = None,
) -> None:
    """Write the JSON card for an exported model (the format is documented in ``weights/README.md``).

    `commit` is the code's commit, taken before the export wrote anything (`git_commit()` when None): a
    model exported into the checkout makes it "-dirty" by its own file.
    """
    meta = result.metadata
    body = {
        "file": result.path.name,
        "sha256": result.sha256,
        "model": meta.get("model"),
        "metrics": meta.get("metrics", {}),
        "export_check": meta.get("export", {}),
        "data": data,
        "recipe": meta.get("recipe", {}),
        "source_checkpoint": meta.get("source", {}),
        "command": command,
        "commit": git_commit() if commit is None else commit,
        "notes": notes,
    }
    atomic_write_bytes(Path(card), (json.dumps(body, indent=2, sort_keys=False) + "\n").encode())


def git_commit() -> str | None:
    """The checkout's HEAD commit (with "-dirty" when files differ), or None outside a git checkout."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=True
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def _with_softmax(model: Any) -> Any:
    """model + softmax as one eval-mode torch module: the ONNX file returns probabilities."""
    import torch

    return torch.nn.Sequential(model, torch.nn.Softmax(dim=1)).eval()
