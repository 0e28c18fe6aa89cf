"""The `Recognizer`: one ONNX model loaded once, reading digits in any image, many images batched together.

    >>> from digitreader import Recognizer
    >>> r = Recognizer.load()                      # the bundled default, verified against its card
    >>> r.read("examples/cheque_4096.jpg").text
    '4096'

A read, in order:
1. `vision.load.load_image`: any input -> grayscale uint8 (bad or huge inputs refused, one line each);
2. `vision.pipeline.find_digits`: lines and digits located, each framed MNIST-style as a 28x28 image; the
   pipeline may call `classify` to decide where touching digits are cut, and those probabilities are kept;
3. every digit still unclassified, across all images of a `read_many`, goes through ONNX Runtime in one batch
   (each digit with its one-pixel shifts, probabilities averaged: `vision.shifts`);
4. `Reading`: per digit label, confidence, box (input pixels); text: a line's digits, lines joined by "\\n".

This module never imports torch (a test checks it): reading needs numpy, Pillow, OpenCV and ONNX Runtime only.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from digitreader import budget
from digitreader.errors import DigitreaderError
from digitreader.onnx_engine import OnnxEngine
from digitreader.reading import Digit, Reading
from digitreader.vision.shifts import shift_averaged

log = logging.getLogger(__name__)

MODES = ("auto", "digit", "number")
NO_DIGITS = "no digits found"


class Recognizer:
    """Reads handwritten digits with one ONNX model. Thread-safe: share one instance (the server does)."""

    def __init__(self, engine: OnnxEngine, *, read_seconds: float | None = None) -> None:
        self._engine = engine
        self.read_seconds = budget.resolve_read_seconds(read_seconds)

    @classmethod
    def load(
        cls, path: str | Path | None = None, *, threads: int | None = None, read_seconds: float | None = None
    ) -> Recognizer:
        """The bundled default model (`path=None`, verified against its card's SHA-256) or an .onnx file.

        `threads`: ONNX Runtime intra-op threads (default: the CPUs this process may use). `read_seconds`:
        CPU seconds one picture may take before its read stops with `ReadTimeoutError` (default:
        $DIGITREADER_READ_SECONDS, else 5; 0: no limit). Raises `ModelError`, naming the file, when it is
        missing, not ONNX, lacks digitreader metadata or has the wrong shapes.
        """
        return cls(OnnxEngine.load(path, threads=threads), read_seconds=read_seconds)

    # ------------------------------------------------------------------------------------------ metadata

    @property
    def path(self) -> Path:
        """The model file."""
        return self._engine.path

    @property
    def model_name(self) -> str:
        """The model's registry name (from its metadata)."""
        return str(self._engine.metadata.get("model", "unknown"))

    @property
    def metrics(self) -> dict[str, Any]:
        """The metrics recorded when the model was exported (e.g. MNIST test accuracy)."""
        return dict(self._engine.metadata.get("metrics") or {})

    @property
    def metadata(self) -> dict[str, Any]:
        """The model's whole ``digitreader`` metadata (JSON object)."""
        return dict(self._engine.metadata)

    @property
    def card(self) -> dict[str, Any] | None:
        """The bundled model's card (weights/default.json); None for a model loaded from a path."""
        return None if self._engine.card is None else dict(self._engine.card)

    def __repr__(self) -> str:
        return f"Recognizer(model={self.model_name!r}, path={str(self.path)!r})"

    # ------------------------------------------------------------------------------------------ reading

    def classify(self, batch: np.ndarray) -> np.ndarray:
        """Probabilities ``(N, 10)`` float32 of digit images ``(N, 28, 28)`` uint8 (ink bright, framed).

        Each digit is classified as framed; one the model is unsure of (top probability under
        `vision.shifts.UNSURE_BELOW`) is classified again moved by one pixel each way, and the five answers
        averaged: steadier on hard digits, for the model's work on those digits only.
        """
        return shift_averaged(self._engine.classify)(batch)

    def read(self, image: Any, mode: str = "auto") -> Reading:
        """Read the digits in one image (a path, bytes, a PIL image or a numpy array).

        `mode`: "digit" (the whole image is one digit), "number" (one or more lines of digits) or "auto".
        """
        return self.read_many([image], mode=mode)[0]

    def read_many(self, images: Iterable[Any], mode: str = "auto") -> list[Reading]:
        """Read several images; the digits of all of them go through the model in a few large batches.

        Raises the first image's `ImageError` if one cannot be loaded (callers that want to go on with the
        others load each with `vision.load.load_image` first and pass the arrays).
        """
        from digitreader.vision.load import load_image
        from digitreader.vision.pipeline import find_digits

        check_mode(mode)
        located, notes = [], []
        for image in images:  # each picture under its own CPU budget (`digitreader.budget`)
            with budget.read_budget(self.read_seconds, budget.label_of(image)) as spent:
                located.append(find_digits(load_image(image), mode, self.classify))
            notes.append(tuple(spent.notes))
        # What the pipeline left unclassified, from every image, in one batch (the model's cost is per call).
        pending = [c for lines in located for line in lines for c in line if c.probs is None]
        found: dict[int, np.ndarray] = {}
        if pending:
            probs = self.classify(np.stack([c.image for c in pending]))
            found = {id(c): p for c, p in zip(pending, probs, strict=True)}
        return [self._reading(lines, found, n) for lines, n in zip(located, notes, strict=True)]

    def _reading(
        self, lines: Sequence[Sequence[Any]], found: dict[int, np.ndarray], notes: tuple[str, ...] = ()
    ) -> Reading:
        labels = self._engine.labels
        digits: list[Digit] = []
        texts: list[str] = []
        for line in lines:
            text = ""
            for candidate in line:
                given = candidate.probs if candidate.probs is not None else found[id(candidate)]
                probs = np.asarray(given, dtype=np.float64)
                best = int(probs.argmax())
                x, y, w, h = (int(v) for v in candidate.box)
                digit = Digit(
                    label=labels[best],
                    confidence=float(probs[best]),
                    box=(x, y, w, h),
                    probabilities=tuple(float(p) for p in probs),
                )
                digits.append(digit)
                text += str(digit.label)
            if text:
                texts.append(text)
        if not digits:
            return Reading(text="", digits=(), notes=(NO_DIGITS, *notes))
        return Reading(text="\n".join(texts), digits=tuple(digits), notes=notes)


def check_mode(mode: str) -> str:
    """`mode` if it is one of `MODES`; a one-line `DigitreaderError` otherwise."""
    if mode not in MODES:
        raise DigitreaderError(f"mode {mode!r}: choose one of {', '.join(MODES)}")
    return mode
