"""ONNX Runtime behind the sequence reader: find the model, check it is one of ours, read strips.

The bundled reader is ``weights/sequence.onnx``; its card ``weights/sequence.json`` records the file's
SHA-256, checked at every load. Any other is an ``.onnx`` file written by `digits export` from a `crnn`
checkpoint: input ``strip`` float32 ``[N, 1, 32, W]`` in [0, 1], output ``probabilities`` ``[N, T, C]``,
and ``digitreader`` metadata with ``kind: "sequence"`` and the alphabet it reads (`ctc.ALPHABET`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from digitreader.contract import OUTPUT_NAME, STRIP_HEIGHT, STRIP_INPUT_NAME, check_preprocessing
from digitreader.ctc import ALPHABET, NUM_CLASSES
from digitreader.errors import ModelError
from digitreader.onnx_engine import (
    WEIGHTS_DIR,
    OnnxEngine,
    check_against_card,
    check_classifier,
    model_metadata,
    read_card,
    read_model_bytes,
    session_for,
)

DEFAULT_SEQUENCE_MODEL = WEIGHTS_DIR / "sequence.onnx"
DEFAULT_SEQUENCE_CARD = WEIGHTS_DIR / "sequence.json"


class SequenceEngine:
    """One ONNX Runtime session of a sequence reader. `read` is safe to call from many threads."""

    def __init__(self, session: Any, path: Path, metadata: dict[str, Any]) -> None:
        self._session = session
        self.path = path
        self.metadata = metadata
        prep = metadata.get("preprocessing") or {}
        self.stride = int(prep.get("stride", 2))
        self.width_multiple = int(prep.get("width_multiple", 4))

    @classmethod
    def load(
        cls, path: str | os.PathLike[str] | None = None, *, threads: int | None = None
    ) -> SequenceEngine:
        """The bundled reader (verified against its card) when `path` is None, else the given .onnx file."""
        model_path = DEFAULT_SEQUENCE_MODEL if path is None else Path(path).expanduser()
        data = read_model_bytes(model_path)
        if path is None:
            card = read_card(DEFAULT_SEQUENCE_CARD, model_path)
            check_against_card(data, model_path, card, DEFAULT_SEQUENCE_CARD)
        session = session_for(data, model_path, threads)
        metadata = check_sequence_model(session, model_path)
        return cls(session, model_path, metadata)

    def read(self, strip: np.ndarray) -> np.ndarray:
        """Per-column probabilities ``(T, C)`` of one strip ``(32, W)`` uint8 (ink bright)."""
        strip = np.asarray(strip)
        if strip.ndim != 2 or strip.shape[0] != STRIP_HEIGHT or strip.dtype != np.uint8:
            raise ModelError(
                f"strip of shape {strip.shape} and dtype {strip.dtype}: expected ({STRIP_HEIGHT}, W) uint8"
            )
        m = self.width_multiple
        width = -(-max(strip.shape[1], m) // m) * m
        x = np.zeros((1, 1, STRIP_HEIGHT, width), np.float32)
        x[0, 0, :, : strip.shape[1]] = strip * np.float32(1 / 255)
        probs = self._session.run([OUTPUT_NAME], {STRIP_INPUT_NAME: x})[0][0]
        return np.asarray(probs, np.float32)


def load_model_file(
    path: str | os.PathLike[str], *, threads: int | None = None
) -> OnnxEngine | SequenceEngine:
    """An .onnx file from `digits export`: a digit classifier or a sequence reader, as its metadata says."""
    model_path = Path(path).expanduser()
    session = session_for(read_model_bytes(model_path), model_path, threads)
    if model_metadata(session, model_path).get("kind") == "sequence":
        return SequenceEngine(session, model_path, check_sequence_model(session, model_path))
    return OnnxEngine(session, model_path, check_classifier(session, model_path), None)


def check_sequence_model(session: Any, path: Path) -> dict[str, Any]:
    """The model's metadata, after checking it is a sequence reader with the input, output, alphabet and
    preprocessing we use."""
    metadata = model_metadata(session, path)
    if metadata.get("kind") != "sequence":
        raise ModelError(f"{path}: not a sequence reader (its metadata kind is {metadata.get('kind')!r})")
    if metadata.get("alphabet") != ALPHABET:
        raise ModelError(f"{path}: reads the alphabet {metadata.get('alphabet')!r}, not {ALPHABET!r}")
    check_preprocessing(metadata, path, "sequence")
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if (
        len(inputs) != 1
        or inputs[0].name != STRIP_INPUT_NAME
        or list(inputs[0].shape)[1:3] != [1, STRIP_HEIGHT]
    ):
        got = ", ".join(f"{i.name} {i.shape}" for i in inputs)
        raise ModelError(
            f"{path}: expected one input '{STRIP_INPUT_NAME}' [N, 1, {STRIP_HEIGHT}, W], found {got}"
        )
    names = [o.name for o in outputs]
    if OUTPUT_NAME not in names:
        raise ModelError(f"{path}: no '{OUTPUT_NAME}' output (found {', '.join(names)})")
    shape = list(outputs[names.index(OUTPUT_NAME)].shape)
    if len(shape) != 3 or shape[2] != NUM_CLASSES:
        raise ModelError(f"{path}: output shape {shape}, expected [N, T, {NUM_CLASSES}]")
    return metadata
