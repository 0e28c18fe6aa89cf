"""Checkpoint -> the ONNX file `Recognizer.load` reads, checked against torch before it is written.

Steps, in order:
1. load the checkpoint (safe load, no pickle) and build its model in eval mode (logits, normalisation inside);
2. export model + softmax with the TorchScript-based exporter (`dynamo=False`): input ``image`` float32
   ``[N, 1, 28, 28]`` in [0, 1] with a dynamic batch, output ``probabilities`` ``[N, 10]``;
3. run ONNX Runtime and torch on the same images (1,000 MNIST test digits, or seeded synthetic images where
   MNIST is absent) and refuse to write unless the largest probability difference is within `TOLERANCE`;
4. with `int8`: quantise the checked float graph (`quantize.py`: static QDQ, calibrated on MNIST training
   digits) and refuse to write unless it reads the check images like the float graph (`quantize.passes`);
5. attach the metadata (``metadata_props["digitreader"]``, JSON, see `FORMAT`) and write the file atomically
   (temp file beside it, then `os.replace`): a failed export never leaves a partial or unchecked file.

Optionally `write_card` writes the JSON card the bundled model carries (see ``weights/README.md``).
Torch is imported here (the `train` extra); the reading path never imports this module.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import io
import json
import logging
import os
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np

from digitreader.contract import FORMAT, IMAGE_SIZE, INPUT_NAME, METADATA_KEY, NUM_CLASSES, OUTPUT_NAME
from digitreader.errors import DataError, ModelError
from digitreader.files import atomic_write_bytes, one_line

log = logging.getLogger(__name__)

OPSET = 17
TOLERANCE = 1e-4  # max |p_onnx - p_torch| over every probability of every checked image
N_CHECK = 1000  # images compared between ONNX Runtime and torch


@dataclass(frozen=True)
class ExportResult:
    """What `export_onnx` wrote and how it was checked."""

    path: Path
    sha256: str  # of the written .onnx file
    metadata: dict[str, Any]
    images_checked: int
    check_data: str  # "MNIST test" or "synthetic"
    max_abs_diff: float  # of the float graph against torch (int8: see `quantization`)
    argmax_agreement: float  # fraction of checked images where ONNX and torch pick the same digit
    accuracy: float | None  # the written graph's accuracy on the checked MNIST images (None without labels)
    quantization: dict[str, Any] | None = None  # the int8 record (see `quantize.record`); None for float


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
    from digitreader.training.checkpoint import build_model_from_checkpoint, load_checkpoint

    source = Path(checkpoint)
    ckpt = load_checkpoint(source)
    model = build_model_from_checkpoint(ckpt)
    metadata = {
        "format": FORMAT,
        "model": ckpt.model_name,
        "config": jsonable(ckpt.config),
        "preprocessing": jsonable(ckpt.preprocessing),
        "labels": list(range(NUM_CLASSES)),
        "metrics": jsonable(ckpt.metrics),
        "recipe": jsonable(ckpt.recipe),
        "source": {
            "checkpoint": source.name,
            "sha256": sha256_file(source),
            "epoch": ckpt.epoch,
            "step": ckpt.step,
        },
    }
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
    from digitreader.training.quantize import calibration_images

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
        calibration=calibration_images(data_dir) if int8 else None,
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
    proto_bytes = _export_bytes(wrapped, out_path)
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
        from digitreader.training import quantize

        calibration = calibration if calibration is not None else quantize.calibration_images(None)
        proto_bytes, got, quantization = quantize.quantize_checked(
            proto_bytes, batch, got, calibration, accuracy, out_path
        )
        _check_dynamic_batch(proto_bytes, batch, got, tolerance, out_path)
        accuracy = _accuracy(got, labels)
    metadata = dict(metadata)
    metadata.setdefault("format", FORMAT)
    metadata.setdefault("labels", list(range(NUM_CLASSES)))
    metadata["export"] = {
        "checked_images": len(batch),
        "check_data": check_data,
        "max_abs_diff": diff,
        "argmax_agreement": agreement,
        "onnx_accuracy": accuracy,
        "torch_version": torch.__version__,
        "opset": OPSET,
        "exported_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if quantization is not None:
        metadata["export"]["quantization"] = quantization
    data = with_metadata(proto_bytes, metadata)
    atomic_write(out_path, data)
    log.info("wrote %s (max |ONNX - torch| = %.2g on %d images)", out_path, diff, len(batch))
    return ExportResult(
        path=out_path,
        sha256=hashlib.sha256(data).hexdigest(),
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


def check_images(data_dir: str | os.PathLike[str] | None, n: int = N_CHECK) -> tuple[np.ndarray, Any, str]:
    """The first `n` MNIST test digits and labels; without MNIST, `n` seeded synthetic images (no labels)."""
    from digitreader.data.idx import read_idx
    from digitreader.data.mnist import TEST_IMAGES, TEST_LABELS, resolve_data_dir

    directory = resolve_data_dir(data_dir)
    found = [_existing(directory, spec.name) for spec in (TEST_IMAGES, TEST_LABELS)]
    if found[0] is not None and found[1] is not None:
        try:
            images, labels = read_idx(found[0]), read_idx(found[1])
            return images[:n], labels[:n].astype(np.int64), "MNIST test"
        except DataError as exc:
            log.warning("MNIST test files unusable (%s); checking on synthetic images", exc)
    return synthetic_images(n), None, "synthetic"


def _existing(directory: Path, name: str) -> Path | None:
    """`name` as published (.gz) or unpacked, whichever is there."""
    for candidate in (directory / name, directory / name.removesuffix(".gz")):
        if candidate.exists():
            return candidate
    return None


def synthetic_images(n: int, seed: int = 0) -> np.ndarray:
    """Seeded stand-ins for digits (strokes, blobs, noise) for the export check where MNIST is absent."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, IMAGE_SIZE, IMAGE_SIZE), np.float32)
    yy, xx = np.mgrid[0:IMAGE_SIZE, 0:IMAGE_SIZE]
    for i in range(n):
        for _ in range(rng.integers(1, 4)):  # a few thick line segments
            (x0, y0), (x1, y1) = rng.uniform(6, 22, (2, 2))
            t = np.clip(
                ((xx - x0) * (x1 - x0) + (yy - y0) * (y1 - y0)) / ((x1 - x0) ** 2 + (y1 - y0) ** 2 + 1e-6),
                0,
                1,
            )
            dist = np.hypot(xx - (x0 + t * (x1 - x0)), yy - (y0 + t * (y1 - y0)))
            images[i] = np.maximum(images[i], np.clip(2.5 - dist, 0, 1))
    images += rng.uniform(0, 0.1, images.shape).astype(np.float32)
    return np.clip(images * 255, 0, 255).astype(np.uint8)


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
    atomic_write(Path(card), (json.dumps(body, indent=2, sort_keys=False) + "\n").encode())


def sha256_file(path: str | os.PathLike[str]) -> str:
    """SHA-256 (hex) of a file, read in chunks."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise ModelError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return digest.hexdigest()


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


def _export_bytes(module: Any, out_path: Path) -> bytes:
    import torch

    buffer = io.BytesIO()
    dummy = torch.zeros(2, 1, IMAGE_SIZE, IMAGE_SIZE)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the exporter's deprecation chatter; failures still raise
            torch.onnx.export(
                module,
                (dummy,),
                cast(Any, buffer),  # the legacy exporter writes to file objects; its hint says paths only
                dynamo=False,
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
                opset_version=OPSET,
                do_constant_folding=True,
            )
    except Exception as exc:  # the exporter raises many types; the user needs one line
        raise ModelError(f"{out_path}: not written: ONNX export failed ({one_line(exc, 300)})") from None
    return buffer.getvalue()


def run_onnx(model_bytes: bytes, batch: np.ndarray, out_path: Path) -> np.ndarray:
    """The probabilities a graph gives `batch` through ONNX Runtime; one-line ModelError naming `out_path`."""
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
        (probs,) = session.run([OUTPUT_NAME], {INPUT_NAME: batch})
    except Exception as exc:
        raise ModelError(f"{out_path}: not written: ONNX Runtime cannot run the export ({exc})") from None
    return np.asarray(probs, dtype=np.float32)


def with_metadata(model_bytes: bytes, metadata: dict[str, Any]) -> bytes:
    import onnx

    proto = onnx.load_from_string(model_bytes)
    del proto.metadata_props[:]
    entry = proto.metadata_props.add()
    entry.key = METADATA_KEY
    entry.value = json.dumps(metadata, sort_keys=True)
    proto.producer_name = "digitreader"
    onnx.checker.check_model(proto)
    return bytes(proto.SerializeToString())


def atomic_write(path: Path, data: bytes) -> None:
    """Write beside the target and rename: readers see the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, data)


def jsonable(value: Any) -> Any:
    """Dataclasses, tuples, numpy scalars and paths -> plain JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    return json.loads(json.dumps(value, default=_json_default))


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return str(value)
