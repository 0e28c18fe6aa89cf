"""What a read returns: a `Reading` made of `Digit`s, and their JSON form (shared by CLI and HTTP)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Digit:
    """One digit found in an image: its label, the model's confidence, and its box (x, y, w, h) in input pixels."""

    label: int
    confidence: float
    box: tuple[int, int, int, int]

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "confidence": round(float(self.confidence), 6), "box": list(self.box)}


@dataclass(frozen=True)
class Reading:
    """The digits read in one image, in reading order; `text` has a newline between lines of digits."""

    text: str
    digits: tuple[Digit, ...] = ()
    notes: tuple[str, ...] = field(default=())

    def to_dict(self, path: str | None = None) -> dict[str, Any]:
        """The JSON object of `digits read --json` and of `POST /v1/read`."""
        out: dict[str, Any] = {"path": path, "text": self.text, "digits": [d.to_dict() for d in self.digits]}
        if self.notes:
            out["notes"] = list(self.notes)
        return out
