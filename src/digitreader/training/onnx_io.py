"""What every ONNX export shares (classifier, ensemble, int8, sequence reader, fine-tuned models): a torch
module as ONNX bytes, ONNX Runtime run on bytes, the ``digitreader`` metadata attached, the checked file
written atomically, and the images a classifier export is checked on where MNIST is absent.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np

from digitreader.contract import FORMAT, IMAGE_SIZE, INPUT_NAME, METADATA_KEY, OUTPUT_NAME
from digitreader.errors import DataError, ModelError
from digitreader.files import atomic_write_bytes, one_line, sha256_bytes, sha256_file

log = logging.getLogger(__name__)

OPSET = 17


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote and how it was checked."""

    path: Path
    sha256: str  # of the written .onnx file
    metadata: dict[str, Any]
    images_checked: int
    check_data: str  # "MNIST test" or "synthetic"
    max_abs_diff: float  # of the float graph against torch (int8: see `quantization`)
    argmax_agreement: float  # fraction of checked images where ONNX and torch pick the same digit
    accuracy: float | None  # the written graph's accuracy on the checked MNIST images (None without labels)
    quantization: dict[str, Any] | None = None  # the int8 record (see `quantize.record`); None for float


def onnx_bytes(
    module: Any, dummy: Any, input_name: str, dynamic_axes: dict[str, dict[int, str]], out_path: Path
) -> bytes:
    """`module` (eval mode) exported with the TorchScript-based exporter (`dynamo=False`) at `OPSET`, input
    `input_name`, output `contract.OUTPUT_NAME`; a one-line `ModelError` naming `out_path` when it fails."""
    import torch

    buffer = io.BytesIO()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the exporter's deprecation chatter; failures still raise
            torch.onnx.export(
                module,
                (dummy,),
                cast(Any, buffer),  # the legacy exporter writes to file objects; its hint says paths only
                dynamo=False,
                input_names=[input_name],
                output_names=[OUTPUT_NAME],
                dynamic_axes=dynamic_axes,
                opset_version=OPSET,
                do_constant_folding=True,
            )
    except Exception as exc:  # the exporter raises many types; the user needs one line
        raise ModelError(f"{out_path}: not written: ONNX export failed ({one_line(exc, 300)})") from None
    return buffer.getvalue()


def session(model_bytes: bytes, out_path: Path) -> Any:
    """An ONNX Runtime session of an export being checked; a one-line `ModelError` naming `out_path`."""
    import onnxruntime as ort

    try:
        return ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ModelError(f"{out_path}: not written: ONNX Runtime cannot load the export ({exc})") from None


def run_onnx(model_bytes: bytes, batch: np.ndarray, out_path: Path) -> np.ndarray:
    """The probabilities a classifier graph gives `batch` through ONNX Runtime; one-line ModelError naming
    `out_path`."""
    import onnxruntime as ort

    try:
        sess = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
        (probs,) = sess.run([OUTPUT_NAME], {INPUT_NAME: batch})
    except Exception as exc:
        raise ModelError(f"{out_path}: not written: ONNX Runtime cannot run the export ({exc})") from None
    return np.asarray(probs, dtype=np.float32)


def with_metadata(model_bytes: bytes, metadata: dict[str, Any]) -> bytes:
    """The graph with `metadata` as its one ``digitreader`` entry (JSON), checked by `onnx.checker`."""
    import onnx

    proto = onnx.load_from_string(model_bytes)
    del proto.metadata_props[:]
    entry = proto.metadata_props.add()
    entry.key = METADATA_KEY
    entry.value = json.dumps(metadata, sort_keys=True)
    proto.producer_name = "digitreader"
    onnx.checker.check_model(proto)
    return bytes(proto.SerializeToString())


def checkpoint_metadata(ckpt: Any, source: Path) -> dict[str, Any]:
    """The metadata entries an export takes from its checkpoint (`checkpoint.Checkpoint`): model, config,
    preprocessing, metrics, recipe, and the source file with its SHA-256."""
    return {
        "format": FORMAT,
        "model": ckpt.model_name,
        "config": jsonable(ckpt.config),
        "preprocessing": jsonable(ckpt.preprocessing),
        "metrics": jsonable(ckpt.metrics),
        "recipe": jsonable(ckpt.recipe),
        "source": {"checkpoint": source.name, "sha256": sha256_file(source), "step": ckpt.step},
    }


def export_record(**checks: Any) -> dict[str, Any]:
    """The metadata's ``export`` entry: how the export was checked (`checks`), with what torch and opset,
    when."""
    import torch

    return {
        **checks,
        "torch_version": torch.__version__,
        "opset": OPSET,
        "exported_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def write_model(out_path: Path, model_bytes: bytes, metadata: dict[str, Any]) -> tuple[bytes, str]:
    """Attach `metadata` and write the file atomically (its folder made if need be); its bytes and
    SHA-256."""
    data = with_metadata(model_bytes, metadata)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out_path, data)
    return data, sha256_bytes(data)


def check_images(data_dir: str | os.PathLike[str] | None, n: int) -> tuple[np.ndarray, Any, str]:
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
