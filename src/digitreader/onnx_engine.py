"""ONNX Runtime behind the `Recognizer`: find the model, check it is one of ours, run batches.

The bundled default is ``weights/default.onnx``; its card ``weights/default.json`` records the file's SHA-256,
checked at every load (a corrupted or swapped file is refused). Any other model is an ``.onnx`` file written
by `digits export`: input ``image`` float32 ``[N, 1, 28, 28]`` in [0, 1], output ``probabilities``
``[N, 10]``, and a ``digitreader`` metadata entry (JSON) whose ``format`` starts with ``digitreader-onnx/``.
The card format is documented in ``weights/README.md``.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
from pathlib import Path
from typing import Any

import numpy as np

from digitreader.contract import (
    FORMAT_PREFIX,
    INPUT_NAME,
    METADATA_KEY,
    NUM_CLASSES,
    OUTPUT_NAME,
    check_preprocessing,
)
from digitreader.errors import DigitreaderError, ModelError
from digitreader.files import one_line, sha256_bytes

log = logging.getLogger(__name__)

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
DEFAULT_MODEL = WEIGHTS_DIR / "default.onnx"
DEFAULT_CARD = WEIGHTS_DIR / "default.json"
MAX_BATCH = 4096  # digits per ONNX Runtime call: bounds memory for huge read_many calls


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class OnnxEngine:
    """One ONNX Runtime session and the model's metadata. `classify` is safe to call from many threads."""

    def __init__(
        self, session: Any, path: Path, metadata: dict[str, Any], card: dict[str, Any] | None
    ) -> None:
        self._session = session
        self.path = path
        self.metadata = metadata
        self.card = card
        labels = metadata.get("labels", list(range(NUM_CLASSES)))
        self.labels: list[int] = [int(v) for v in labels]

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None, *, threads: int | None = None) -> OnnxEngine:
        """The bundled default (verified against its card) when `path` is None, else the given .onnx file."""
        card = None
        if path is None:
            card = read_card(DEFAULT_CARD, DEFAULT_MODEL)
            model_path = DEFAULT_MODEL
        else:
            model_path = Path(path).expanduser()
        data = read_model_bytes(model_path)
        if card is not None:
            check_against_card(data, model_path, card, DEFAULT_CARD)
        session = session_for(data, model_path, threads)
        metadata = check_classifier(session, model_path)
        log.debug("loaded %s (model %s)", model_path, metadata.get("model"))
        return cls(session, model_path, metadata, card)

    def classify(self, batch: np.ndarray) -> np.ndarray:
        """``(N, 28, 28)`` uint8 digit images (or ``(N, 1, 28, 28)`` float in [0, 1]) -> ``(N, 10)``."""
        batch = np.asarray(batch)
        if batch.ndim == 3:
            batch = batch[:, None]
        if batch.ndim != 4 or batch.shape[1:] != (1, 28, 28):
            raise DigitreaderError(
                f"digit batch of shape {batch.shape}: expected (N, 28, 28) or (N, 1, 28, 28)"
            )
        if len(batch) == 0:
            return np.zeros((0, NUM_CLASSES), np.float32)
        if batch.dtype == np.uint8:
            inputs = batch.astype(np.float32) * np.float32(1 / 255)
        else:
            inputs = batch.astype(np.float32, copy=False)
        parts = [
            self._session.run([OUTPUT_NAME], {INPUT_NAME: inputs[i : i + MAX_BATCH]})[0]
            for i in range(0, len(inputs), MAX_BATCH)
        ]
        return np.concatenate(parts).astype(np.float32, copy=False)


def read_card(card_path: Path, model_path: Path) -> dict[str, Any]:
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"{card_path}: the bundled model's card is missing") from None
    except (OSError, ValueError) as exc:
        raise ModelError(f"{card_path}: unreadable model card ({exc})") from None
    if not isinstance(card, dict) or not isinstance(card.get("sha256"), str):
        raise ModelError(f"{card_path}: the model card has no sha256 for {model_path.name}")
    return card


def check_against_card(data: bytes, model_path: Path, card: dict[str, Any], card_path: Path) -> None:
    """`ModelError` unless a bundled model's bytes have the SHA-256 its card records."""
    digest = sha256_bytes(data)
    if digest != card.get("sha256"):
        raise ModelError(
            f"{model_path}: SHA-256 {digest[:12]}... does not match its card {card_path.name} "
            f"({str(card.get('sha256'))[:12]}...): the bundled model is damaged or was replaced"
        )


def read_model_bytes(path: Path) -> bytes:
    if not path.exists():
        raise ModelError(f"{path}: no such model file")
    if path.is_dir():
        raise ModelError(f"{path}: is a directory, not an ONNX model file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not data:
        raise ModelError(f"{path}: empty file, not an ONNX model")
    if data[:4] == b"PK\x03\x04" or data[:2] == b"\x80\x02":  # torch.save's zip, or its older pickle
        raise ModelError(
            f"{path}: a PyTorch checkpoint, not an ONNX model; export it first: "
            f"digits export {shlex.quote(str(path))} --out model.onnx"
        )
    return data


def session_for(data: bytes, path: Path, threads: int | None) -> Any:
    import onnxruntime as ort

    from digitreader.onnx_scan import external_tensors

    if outside := external_tensors(data):  # ORT would look for them in the current directory
        names = ", ".join(outside[:3]) + (", ..." if len(outside) > 3 else "")
        raise ModelError(
            f"{path}: keeps tensors in external files ({names}); digitreader models are self-contained"
        )

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or available_cpus()
    options.inter_op_num_threads = 1  # a small sequential graph: parallelism lives inside the ops
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # errors only: ORT's warnings are not the user's business
    # No busy-waiting: a read makes one or a few small ORT calls between OpenCV steps, and spinning threads
    # burn the cores OpenCV, the server's workers and other processes need. Measured on the busy 2-core dev
    # machine, 4 digits per call, 2 threads: CPU 2.5 ms -> 1.2 ms per call, p99 13 ms -> 1.8 ms.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(data, sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # ORT raises its own exception types for protobuf and graph errors
        raise ModelError(f"{path}: not an ONNX model ORT can load ({one_line(exc, 200)})") from None


def model_metadata(session: Any, path: Path) -> dict[str, Any]:
    """The ``digitreader`` metadata of a loaded model (JSON object), checked for our format."""
    raw = session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
    if raw is None:
        raise ModelError(f"{path}: no '{METADATA_KEY}' metadata (not exported by `digits export`)")
    try:
        metadata = json.loads(raw)
    except ValueError:
        raise ModelError(f"{path}: its '{METADATA_KEY}' metadata is not JSON") from None
    if not isinstance(metadata, dict) or not str(metadata.get("format", "")).startswith(FORMAT_PREFIX):
        raise ModelError(f"{path}: metadata format is not {FORMAT_PREFIX}*")
    return metadata


def check_classifier(session: Any, path: Path) -> dict[str, Any]:
    """The model's digitreader metadata, after checking its input and output are the ones we feed and read
    and its preprocessing is ours (`contract.check_preprocessing`)."""
    metadata = model_metadata(session, path)
    if metadata.get("kind", "classifier") != "classifier":
        raise ModelError(
            f"{path}: a {metadata.get('kind')} model, not a digit classifier (digits read --model takes it; "
            "to score it on real numbers: python -m benchmarks.read_real --sequence FILE)"
        )
    check_preprocessing(metadata, path, "classifier")
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if len(inputs) != 1 or inputs[0].name != INPUT_NAME or inputs[0].type != "tensor(float)":
        got = ", ".join(f"{i.name} {i.type}" for i in inputs)
        raise ModelError(f"{path}: expected one float input '{INPUT_NAME}', found {got}")
    if list(inputs[0].shape)[1:] != [1, 28, 28] or len(inputs[0].shape) != 4:
        raise ModelError(f"{path}: input shape {inputs[0].shape}, expected [N, 1, 28, 28]")
    names = [o.name for o in outputs]
    if OUTPUT_NAME not in names:
        raise ModelError(f"{path}: no '{OUTPUT_NAME}' output (found {', '.join(names)})")
    out_shape = list(outputs[names.index(OUTPUT_NAME)].shape)
    if len(out_shape) != 2 or out_shape[1] != NUM_CLASSES:
        raise ModelError(f"{path}: output shape {out_shape}, expected [N, {NUM_CLASSES}]")
    labels = metadata.get("labels", list(range(NUM_CLASSES)))
    if not isinstance(labels, list) or len(labels) != NUM_CLASSES:
        raise ModelError(f"{path}: metadata labels must list {NUM_CLASSES} digits")
    return metadata
