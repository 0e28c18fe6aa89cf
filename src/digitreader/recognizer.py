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
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from digitreader import budget, bulk
from digitreader.contract import check_mode
from digitreader.onnx_engine import OnnxEngine
from digitreader.reading import Digit, Reading
from digitreader.vision.sequence import bands, choose_reading, read_line, switch_to_number
from digitreader.vision.shifts import shift_averaged

if TYPE_CHECKING:
    from digitreader.sequence_engine import SequenceEngine
    from digitreader.vision.pipeline import Located

log = logging.getLogger(__name__)

NO_DIGITS = "no digits found"


class Recognizer:
    """Reads handwritten digits with a digit classifier and, for lines of digits, a sequence reader.
    Thread-safe: share one instance (the server does)."""

    def __init__(
        self, engine: OnnxEngine, sequence: SequenceEngine | None = None, *, read_seconds: float | None = None
    ) -> None:
        self._engine = engine
        self._sequence = sequence
        self.read_seconds = budget.resolve_read_seconds(read_seconds)

    @classmethod
    def load(
        cls,
        path: str | Path | None = None,
        *,
        threads: int | None = None,
        sequence: str | Path | bool | None = None,
        read_seconds: float | None = None,
    ) -> Recognizer:
        """The bundled models (`path=None`, each verified against its card's SHA-256) or an .onnx file.

        `path` may be a digit classifier or a sequence reader (from `digits export`); the other model is the
        bundled one. `sequence`: a sequence reader's .onnx file, or False to read numbers by segmentation
        and the classifier alone. `threads`: ONNX Runtime intra-op threads (default: the CPUs this process
        may use). `read_seconds`: CPU seconds one picture may take before its read stops with
        `ReadTimeoutError` (default: $DIGITREADER_READ_SECONDS, else 5; 0: no limit). Raises `ModelError`,
        naming the file, when it is missing, not ONNX, lacks digitreader metadata or has the wrong shapes.
        """
        from digitreader.sequence_engine import SequenceEngine, load_model_file

        engine: OnnxEngine | None = None
        reader: SequenceEngine | None = None
        if path is not None:
            given = load_model_file(path, threads=threads)
            if isinstance(given, SequenceEngine):
                reader = given
            else:
                engine = given
        if engine is None:
            engine = OnnxEngine.load(None, threads=threads)
        if sequence is False:
            reader = None
        elif sequence is not None and sequence is not True:
            reader = SequenceEngine.load(sequence, threads=threads)
        elif reader is None:
            reader = SequenceEngine.load(None, threads=threads)
        return cls(engine, reader, read_seconds=read_seconds)

    # ------------------------------------------------------------------------------------------ metadata

    @property
    def path(self) -> Path:
        """The model file."""
        return self._engine.path

    @property
    def sequence_path(self) -> Path | None:
        """The sequence reader's file (None when numbers are read by segmentation alone)."""
        return None if self._sequence is None else self._sequence.path

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

    def read_many(
        self, images: Iterable[Any], mode: str = "auto", *, workers: int | None = None
    ) -> list[Reading]:
        """Read several images; the digits of all of them go through the model in a few large batches.

        `workers`: processes reading side by side (None: one per core; 1: this process only). A short
        list is read in this process, where starting workers would cost more than it saves
        (`bulk.START_FROM`); the readings are the same either way. Raises the first image's `ImageError`
        if one cannot be loaded (`read_stream` goes through long lists; `digitreader.bulk.results` goes on
        past unreadable pictures).
        """
        from digitreader.fastpath import locate_small
        from digitreader.vision.load import load_image
        from digitreader.vision.pipeline import locate

        check_mode(mode)
        images = list(images)
        if workers != 1 and len(images) >= bulk.PARALLEL_FROM:
            return list(self.read_stream(images, mode, workers=workers))
        labels, grays, located, notes = [], [], [], []
        for image in images:  # each picture under its own CPU budget (`digitreader.budget`)
            labels.append(budget.label_of(image))
            with budget.read_budget(self.read_seconds, labels[-1]) as spent:
                grays.append(load_image(image))
                small = locate_small(grays[-1], mode, self.classify)  # the same, sooner, where it applies
                located.append(locate(grays[-1], mode, self.classify) if small is None else small)
            notes.append(tuple(spent.notes))
        # What the pipeline left unclassified, from every image, in one batch (the model's cost is per call).
        pending = [c for found in located for line in found.lines for c in line if c.probs is None]
        probs: dict[int, np.ndarray] = {}
        if pending:
            batch = self.classify(np.stack([c.image for c in pending]))
            probs = {id(c): p for c, p in zip(pending, batch, strict=True)}
        readings = []
        for label, gray, found, said in zip(labels, grays, located, notes, strict=True):
            # The sequence reader's part, under a budget of its own (a line costs it milliseconds).
            with budget.read_budget(self.read_seconds, label):
                readings.append(self._reading(gray, found, probs, said, auto=mode == "auto"))
        return readings

    def read_stream(
        self, images: Iterable[Any], mode: str = "auto", *, workers: int | None = None
    ) -> Iterator[Reading]:
        """`read_many` for long lists and generators: readings yielded in input order as they are made, with
        memory bounded (a few chunks per worker in flight). An image that cannot be read raises its error
        where its reading would come."""
        for result in bulk.results(self, images, mode, workers):
            if isinstance(result, Reading):
                yield result
            else:
                raise result.error

    def close(self) -> None:
        """Stop the worker processes `read_many` and `read_stream` started, if any (they also stop when
        this recognizer is garbage-collected, or at exit)."""
        bulk.close(self)

    def _reading(
        self,
        gray: np.ndarray,
        found: Located,
        probs: dict[int, np.ndarray],
        notes: tuple[str, ...] = (),
        *,
        auto: bool = False,
    ) -> Reading:
        digits: list[Digit] = []
        texts: list[str] = []
        number = found.mode == "number"
        for line in bands(found.lines) if number and self._sequence is not None else found.lines:
            segmented = [self._digit(c, probs) for c in line]
            text, line_digits = "".join(str(d.label) for d in segmented), segmented
            # Lines of a number are read whole too; so is a picture auto mode took for one digit, which
            # becomes a number when the sequence reader is clearly surer of one.
            if self._sequence is not None and line and (number or auto):
                budget.check()
                read = read_line(gray, line, found.dark_ink, self._sequence.read, self._sequence.stride)
                if number:
                    text, line_digits = choose_reading(read, segmented)
                elif switch_to_number(read.chars, segmented):
                    text, line_digits = choose_reading(read, [])
            digits += line_digits
            if text:
                texts.append(text)
        if not digits:
            return Reading(text="", digits=(), notes=(NO_DIGITS, *notes))
        return Reading(text="\n".join(texts), digits=tuple(digits), notes=notes)

    def _digit(self, candidate: Any, found: dict[int, np.ndarray]) -> Digit:
        given = candidate.probs if candidate.probs is not None else found[id(candidate)]
        probs = np.asarray(given, dtype=np.float64)
        best = int(probs.argmax())
        x, y, w, h = (int(v) for v in candidate.box)
        return Digit(
            label=self._engine.labels[best],
            confidence=float(probs[best]),
            box=(x, y, w, h),
            probabilities=tuple(float(p) for p in probs),
        )
