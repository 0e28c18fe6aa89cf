"""Labelled pictures -> what fine-tuning learns from and scores on.

Each picture is read as reading reads it (`vision.load.load_image`), and a number picture becomes a
training strip the way reading cuts one (`vision.sequence`): the lines located in number mode
(`vision.pipeline.locate`), regrouped into bands, the band's strip cut by `line_strip`. A picture whose
layout gives several bands (two lines of writing, or a number the layout split) gives no training strip:
which part of its text belongs to which band is not known. It is still scored: the held-out part is read
whole, by the whole reader.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from digitreader import budget
from digitreader.errors import DigitreaderError
from digitreader.tuning.source import Labelled, read_bytes
from digitreader.vision.load import load_image
from digitreader.vision.pipeline import locate
from digitreader.vision.sequence import bands, line_strip

log = logging.getLogger(__name__)

Classify = Callable[[np.ndarray], np.ndarray]
SEVERAL_BANDS = "several lines of writing (no training strip)"


@dataclass(frozen=True)
class Picture:
    """A readable labelled picture: its grayscale pixels and, when it has one band of writing, its strip."""

    item: Labelled
    gray: np.ndarray  # uint8 2-D
    strip: np.ndarray | None  # uint8 (32, W), ink bright; None when the layout gave several bands


def read_pictures(
    items: Iterable[Labelled], classify: Classify
) -> Iterator[tuple[Labelled, Picture | None, str]]:
    """Each item with its `Picture` (None when unreadable) and the reason it is not usable ("" when it is).
    Each picture is read under reading's CPU budget (`budget`): a hostile file costs bounded time."""
    for item in items:
        try:
            with budget.read_budget(budget.resolve_read_seconds(None), item.name):
                gray = load_image(read_bytes(item), name=item.name)
                strip, reason = number_strip(gray, classify)
        except DigitreaderError as exc:
            yield item, None, str(exc).removeprefix(f"{item.name}: ")
            continue
        except Exception as exc:  # one odd file must not end a long run; it is listed with its reason
            log.debug("unexpected error decoding %s", item.name, exc_info=True)
            yield item, None, f"cannot decode ({type(exc).__name__}: {exc})"
            continue
        if strip is None and reason != SEVERAL_BANDS:
            yield item, None, reason
        else:
            yield item, Picture(item, gray, strip), ""


def number_strip(gray: np.ndarray, classify: Classify) -> tuple[np.ndarray | None, str]:
    """The strip reading would cut from a one-band picture, or None and why not."""
    found = locate(gray, "number", classify)
    groups = bands(found.lines)
    if not groups:
        return None, "no writing found (blank picture)"
    if len(groups) > 1:
        return None, SEVERAL_BANDS
    boxes = [c.box for c in groups[0]]
    x0, y0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
    x1, y1 = max(b[0] + b[2] for b in boxes), max(b[1] + b[3] for b in boxes)
    return line_strip(gray, (x0, y0, x1 - x0, y1 - y0), found.dark_ink).strip, ""
