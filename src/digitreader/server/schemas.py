"""Response models of the HTTP API: the JSON of `digits read --json`, the health check, and errors."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class DigitOut(BaseModel):
    """One digit: its label, the model's confidence, and its box (x, y, w, h) in the uploaded image."""

    label: int = Field(ge=0, le=9)
    confidence: float = Field(ge=0.0, le=1.0)
    box: tuple[int, int, int, int]
    probabilities: list[float] | None = Field(
        default=None, description="All ten class probabilities (index = digit); only with `details=true`."
    )


class ReadingOut(BaseModel):
    """What `POST /v1/read` returns: exactly the object `digits read --json` prints for one image."""

    path: str | None = Field(description="The uploaded file's name, or null for a raw image body.")
    text: str = Field(
        description='The number as written, separators kept ("10.4", "1,250", "12 345"); a newline between '
        "lines."
    )
    digits_text: str = Field(description='The digits alone ("104", "1250"); a newline between lines.')
    digits: list[DigitOut]
    notes: list[str] | None = Field(default=None, description="Remarks about the reading, if any.")


class HealthOut(BaseModel):
    """`GET /healthz`: the server is up and which model it reads with."""

    status: Literal["ok"]
    model: str
    max_body_bytes: int
    max_pixels: int
    corrections: bool = False  # whether POST /v1/corrections saves (the server has a corrections folder)


class CorrectionOut(BaseModel):
    """`POST /v1/corrections`: where the picture was saved, inside the corrections folder."""

    saved: str
    text: str


class ErrorOut(BaseModel):
    """Every error: one plain sentence saying what was wrong."""

    detail: str
