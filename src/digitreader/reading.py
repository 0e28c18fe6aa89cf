"""What a read returns: a `Reading` made of `Digit`s, and their JSON form (shared by CLI and HTTP)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Digit:
    """One digit found in an image: label, confidence, and box (x, y, w, h) in the input's pixels."""

    label: int
    confidence: float
    box: tuple[int, int, int, int]
    # All ten class probabilities (index = digit), when the reader kept them; only in JSON when asked for.
    probabilities: tuple[float, ...] | None = field(default=None, compare=False, repr=False)

    def to_dict(self, details: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "label": self.label,
            "confidence": round(float(self.confidence), 6),
            "box": list(self.box),
        }
        if details and self.probabilities is not None:
            out["probabilities"] = [round(float(p), 6) for p in self.probabilities]
        return out


@dataclass(frozen=True)
class Reading:
    """The digits read in one image, in reading order.

    `text` is the number as written, separators kept ("10.4", "1,250", "12 345", "555-0137", "-16.3"),
    with a newline between lines; `digits_text` is the same without separators ("104", "1250").
    """

    text: str
    digits: tuple[Digit, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def digits_text(self) -> str:
        """`text` without its separators: the digits alone, lines still joined by newlines."""
        return "".join(ch for ch in self.text if ch.isdigit() or ch == "\n")

    def to_dict(self, path: str | None = None, details: bool = False) -> dict[str, Any]:
        """The JSON object of `digits read --json` and of `POST /v1/read`.

        `details=True` adds each digit's ten `probabilities` where the reader kept them (for charts).
        """
        out: dict[str, Any] = {
            "path": path,
            "text": self.text,
            "digits_text": self.digits_text,
            "digits": [d.to_dict(details=details) for d in self.digits],
        }
        if self.notes:
            out["notes"] = list(self.notes)
        return out
