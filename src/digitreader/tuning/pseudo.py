"""Unlabelled pictures -> training strips labelled by the reader itself, where its two readers agree.

Self-training: a picture's own reading becomes its label only when the segmentation reader (digits cut and
classified one by one) and the sequence reader (the line read whole) read the same digits in it, on its one
band of writing; the label is the sequence reader's text (its separators). Pictures where they disagree,
with several bands or with nothing read are left out: a wrong label taught is worse than none. The
agreement check is the proof-reading; the before/after table on labelled pictures is the proof.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from digitreader import budget
from digitreader.ctc import digits_only
from digitreader.data.user_files import IMAGE_SUFFIXES
from digitreader.errors import DataError, DigitreaderError
from digitreader.tuning.source import Labelled, read_bytes
from digitreader.vision.load import load_image
from digitreader.vision.pipeline import locate
from digitreader.vision.sequence import bands, line_strip, read_line

Classify = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class PseudoLabelled:
    name: str
    strip: np.ndarray  # uint8 (32, W): the strip reading cuts
    text: str  # what both readers read (the sequence reader's separators)


def list_unlabelled(folder: str | os.PathLike[str]) -> list[Labelled]:
    """The pictures under `folder` (any depth; hidden files and links leading outside it left out)."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise DataError(f"{root}: no such folder of unlabelled pictures")
    inside = root.resolve()
    out = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(p.startswith(".") for p in rel.parts) or path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        if path.is_file() and path.resolve().is_relative_to(inside):
            out.append(Labelled(path, rel.as_posix(), ""))
    return out


def pseudo_label(
    items: Iterable[Labelled],
    classify: Classify,
    read_strip: Callable[[np.ndarray], np.ndarray],
    stride: int,
    read_segmented: Callable[[np.ndarray], str],
) -> Iterator[tuple[Labelled, PseudoLabelled | None, str]]:
    """Each item with its pseudo-labelled strip (None when left out) and why it was left out ("" if not).

    `read_strip`: the sequence reader (strip -> probabilities); `read_segmented`: the segmentation reader
    (a grayscale picture -> its text in number mode)."""
    for item in items:
        try:
            with budget.read_budget(budget.resolve_read_seconds(None), item.name):
                gray = load_image(read_bytes(item), name=item.name)
                found = locate(gray, "number", classify)
                groups = bands(found.lines)
                if len(groups) != 1:
                    yield item, None, "no writing" if not groups else "several lines of writing"
                    continue
                line = read_line(gray, groups[0], found.dark_ink, read_strip, stride)
                sequence_text = "".join(c.char for c in line.chars)
                segmented_text = read_segmented(gray)
        except DigitreaderError as exc:
            yield item, None, str(exc).removeprefix(f"{item.name}: ")
            continue
        digits = digits_only(sequence_text)
        if not digits or digits != digits_only(segmented_text):
            yield item, None, "the two readers disagree"
            continue
        boxes = [c.box for c in groups[0]]
        x0, y0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
        x1, y1 = max(b[0] + b[2] for b in boxes), max(b[1] + b[3] for b in boxes)
        strip = line_strip(gray, (x0, y0, x1 - x0, y1 - y0), found.dark_ink).strip
        yield item, PseudoLabelled(item.name, strip, sequence_text), ""
