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
    """The digits read in one image, in reading order; `text` has a newline between lines of digits."""

    text: str
    digits: tuple[Digit, ...] = ()
    notes: tuple[str, ...] = field(default=())

    def to_dict(self, path: str | None = None, details: bool = False) -> dict[str, Any]:
        """The JSON object of `digits read --json` and of `POST /v1/read`.

        `details=True` adds each digit's ten `probabilities` where the reader kept them (for charts).
        """
        out: dict[str, Any] = {
            "path": path,
            "text": self.text,
            "digits": [d.to_dict(details=details) for d in self.digits],
        }
        if self.notes:
            out["notes"] = list(self.notes)
        return out
