"""Static 8-bit quantisation of an exported float graph (`digits export --int8`), and its check against it.

Steps, in order (`export.export_model` runs them after the float graph has passed its check against torch):
1. calibration images (`calibration_images`): a seeded sample of `CALIBRATION_COUNT` digits from the MNIST
   *training* split (never test: the check runs on test digits), or seeded synthetic images without MNIST;
2. `quantize_int8`: ONNX Runtime's pre-processing (shape inference, graph clean-up), then static QDQ
   quantisation: weights int8 per output channel, activations uint8 with ranges from the calibration images
   (MinMax); Softmax and Gemm stay float;
3. `quantize_checked`: the int8 graph against the float graph on the check images, refused (`ModelError`,
   so `export_model` writes nothing) unless argmax agreement >= `MIN_AGREEMENT` and max |prob difference|
   <= `MAX_PROB_DIFF`.

ONNX Runtime runs QDQ graphs natively (it fuses them into int8 kernels), so the reading path needs nothing
new. Measured on the bundled cnn, 1 ORT thread: 2.3x the float graph's digits/s at batch 1, 2.2x at 16,
2.6x at 256; the file is a quarter of the size.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from digitreader.contract import INPUT_NAME
from digitreader.data.mnist import load_mnist
from digitreader.errors import DataError, ModelError
from digitreader.files import one_line
from digitreader.training.onnx_io import run_onnx, synthetic_images

log = logging.getLogger(__name__)

CALIBRATION_COUNT = 512  # digits whose activations set the uint8 ranges
CALIBRATION_SEED = 0  # which training digits are drawn
SYNTHETIC_SEED = 1  # synthetic calibration images differ from the synthetic check images (seed 0)
CALIBRATION_BATCH = 64
# The int8 graph replaces the float one only when it reads the same digits: on the bundled cnn it agrees on
# 100% of the 10,000 test digits with max |prob diff| 0.020, so these leave room for a different model's
# rounding without letting through one that reads differently (at most 2 of the 1,000 check digits change).
MIN_AGREEMENT = 0.998
MAX_PROB_DIFF = 0.05
# The 10-way last layer (Gemm) stays float: a sliver of the work, and on the bundled cnn quantising it too
# moved probabilities further from the float graph (max |diff| 0.026 against 0.020, same argmax).
FLOAT_OPS = ("Softmax", "Gemm")
SCHEME = (
    "QDQ static: int8 weights per channel (7-bit range), uint8 activations (MinMax calibration); "
    "Gemm, Softmax float"
)


def calibration_images(
    data_dir: str | os.PathLike[str] | None, n: int = CALIBRATION_COUNT
) -> tuple[np.ndarray, str]:
    """`n` seeded digits from the MNIST training split, uint8 ``(n, 28, 28)``, and their source's name.

    Without usable MNIST training files: `n` synthetic images (seed `SYNTHETIC_SEED`) and "synthetic".
    """
    try:
        train = load_mnist(data_dir, download=False).train_images
    except DataError as exc:
        log.warning("MNIST training files unusable (%s); calibrating on synthetic images", exc)
        return synthetic_images(n, seed=SYNTHETIC_SEED), "synthetic"
    pick = np.random.default_rng(CALIBRATION_SEED).choice(len(train), min(n, len(train)), replace=False)
    return train[pick], "MNIST train"


def quantize_int8(model_bytes: bytes, calibration: np.ndarray) -> bytes:
    """A float ONNX graph (input ``image``) -> its static int8 QDQ graph, calibrated on `calibration`.

    `calibration`: uint8 digit images ``(N, 28, 28)``. The input's ``metadata_props`` are carried over.
    Raises `ModelError` (without a file name: the caller names its file) when quantisation fails.
    """
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    batch = calibration.astype(np.float32)[:, None] / 255.0

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            chunks = range(0, len(batch), CALIBRATION_BATCH)
            self._feeds = iter([{INPUT_NAME: batch[i : i + CALIBRATION_BATCH]} for i in chunks])

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self._feeds, None)

    source = onnx.load_from_string(model_bytes)
    # The quantiser's API takes paths: it works in a temp dir that goes with it.
    with tempfile.TemporaryDirectory(prefix="digitreader-int8-") as tmp:
        float_path, pre_path, int8_path = (Path(tmp) / name for name in ("f.onnx", "pre.onnx", "q.onnx"))
        float_path.write_bytes(model_bytes)
        try:
            # Symbolic shape inference is for transformer graphs; ONNX's own inference covers ours.
            with _quiet():
                quant_pre_process(str(float_path), str(pre_path), skip_symbolic_shape=True)
                keep_float = [n.name for n in onnx.load(str(pre_path)).graph.node if n.op_type in FLOAT_OPS]
                quantize_static(
                    str(pre_path),
                    str(int8_path),
                    Reader(),
                    quant_format=QuantFormat.QDQ,
                    per_channel=True,
                    # 7-bit weights: without VNNI (AVX2, AVX-512 before Cascade Lake) ONNX Runtime's
                    # uint8 x int8 kernels can saturate on full-range weights, and the check below runs
                    # only on the exporting machine. Same speed here; the bundled cnn's largest
                    # probability change vs float goes from 0.020 to 0.041, argmax agreement still 100%.
                    reduce_range=True,
                    activation_type=QuantType.QUInt8,
                    weight_type=QuantType.QInt8,
                    nodes_to_exclude=keep_float,
                )
            quantized = onnx.load(str(int8_path))
        except Exception as exc:  # the quantiser raises many types; the user needs one line
            raise ModelError(f"int8 quantisation failed ({one_line(exc, 300)})") from None
    if not any(t.data_type == onnx.TensorProto.INT8 for t in quantized.graph.initializer):
        # e.g. an MLP: all its layers are Gemm. An "int8" file that is the float graph would mislead.
        raise ModelError("no weights were quantised (Gemm layers stay float): export without --int8")
    del quantized.metadata_props[:]
    quantized.metadata_props.extend(source.metadata_props)
    return bytes(quantized.SerializeToString())


def quantize_checked(
    float_bytes: bytes,
    batch: np.ndarray,
    float_probs: np.ndarray,
    calibration: tuple[np.ndarray, str],
    float_accuracy: float | None,
    out_path: Path,
) -> tuple[bytes, np.ndarray, dict[str, Any]]:
    """`float_bytes` quantised, its probabilities on `batch` (float32 ``[N, 1, 28, 28]``) and its `record`.

    `float_probs`: the float graph's probabilities on `batch`; `calibration`: uint8 images and their source's
    name. Raises `ModelError` (one line: `out_path` not written, and why) unless the int8 graph reads `batch`
    like the float graph.
    """
    images, source = calibration
    try:
        int8_bytes = quantize_int8(float_bytes, images)
    except ModelError as exc:  # the quantiser's reason; the file is named here
        raise ModelError(f"{out_path}: not written: {exc}") from None
    probs = run_onnx(int8_bytes, batch, out_path)
    agreement, diff = compare(probs, float_probs)
    if not passes(agreement, diff):
        raise ModelError(
            f"{out_path}: not written: the int8 graph agrees with the float graph on {agreement:.1%} of "
            f"{len(batch)} images, max |prob diff| {diff:.3g} (needs >= {MIN_AGREEMENT:.1%} and <= "
            f"{MAX_PROB_DIFF:g}): export without --int8"
        )
    log.info("int8: argmax agreement %.2f%%, max |prob diff| %.3g vs float", agreement * 100, diff)
    return int8_bytes, probs, record(source, len(images), agreement, diff, float_accuracy)


def compare(int8_probs: np.ndarray, float_probs: np.ndarray) -> tuple[float, float]:
    """Argmax agreement (fraction of images) and max |probability difference| of int8 against float."""
    agreement = float((int8_probs.argmax(1) == float_probs.argmax(1)).mean())
    return agreement, float(np.abs(int8_probs - float_probs).max())


def passes(agreement: float, max_diff: float) -> bool:
    """Whether the int8 graph reads like the float one (`MIN_AGREEMENT`, `MAX_PROB_DIFF`)."""
    return agreement >= MIN_AGREEMENT and bool(np.isfinite(max_diff)) and max_diff <= MAX_PROB_DIFF


def record(source: str, count: int, agreement: float, max_diff: float, float_accuracy: Any) -> dict[str, Any]:
    """The ``quantization`` entry of the metadata's ``export`` record."""
    import onnxruntime

    return {
        "scheme": SCHEME,
        "calibration_data": source,
        "calibration_images": count,
        "calibration_seed": SYNTHETIC_SEED if source == "synthetic" else CALIBRATION_SEED,
        "argmax_agreement_vs_float": agreement,
        "max_abs_diff_vs_float": max_diff,
        "float_onnx_accuracy": float_accuracy,
        "onnxruntime_version": onnxruntime.__version__,
    }


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The quantiser's warnings silenced: they narrate its own choices (e.g. per-tensor ranges for a BatchNorm
    that per-channel does not fit), and the check against the float graph is what judges the result."""
    root = logging.getLogger()
    guard = logging.NullHandler()
    root.addHandler(guard)  # else its bare `logging.warning` calls would leave a basicConfig handler on root
    previous = root.manager.disable
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(previous)
        root.removeHandler(guard)
