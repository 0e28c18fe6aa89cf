"""Realistic pictures of handwriting made from MNIST *test* digits (never training digits), with ground truth.

Two families, each a list of named styles that `make_*` cycles through (so every style gets its share):

- single digits (`make_single_digits`): pen on paper and chalk on a board, thin and thick pens, any size and
  position, rotation, uneven lighting and shadows, JPEG noise, faint grey backgrounds, blur, paper texture;
- numbers (`make_numbers`): 3-8 digits with varied spacing, touching pairs, slant, baseline drift, underlines,
  punctuation (thousands dots, commas, trailing dashes as in "1.250,-"), ruled, grid and guilloche paper
  (the fine wavy security patterns of cheques), sometimes two lines.

Sample `i` of a call is generated from `default_rng([seed, i])`, so it does not depend on `n` and a seed
always gives the same pictures. `Sample.text` holds the digits only (punctuation is not read), lines joined
by a newline; `Sample.boxes` gives each digit's ink box (x, y, w, h) in the same order.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from digitreader.data import render as draw
from digitreader.data.idx import read_idx
from digitreader.data.render import Box
from digitreader.errors import DataError

SINGLE_STYLES = (
    "clean",
    "chalkboard",
    "thin_pen",
    "thick_marker",
    "small_offcentre",
    "large_tight",
    "rotated",
    "shadow",
    "jpeg_noise",
    "grey_background",
    "blur",
    "paper_texture",
    "mixed",
)
NUMBER_STYLES = (
    "clean",
    "touching",
    "punctuation",
    "underline",
    "ruled",
    "grid",
    "guilloche",
    "slant_drift",
    "two_lines",
    "photo",
    "chalkboard",
    "mixed",
)


@dataclass(frozen=True)
class Sample:
    """One synthetic picture: uint8 gray (H, W) or RGB (H, W, 3), its digits, their boxes, and its style.

    `light_ink` is True for light ink on a dark ground (chalk on a board).
    """

    image: np.ndarray
    text: str
    boxes: tuple[Box, ...]
    style: str
    light_ink: bool = False


# ------------------------------------------------------------------------------------------ MNIST test


@lru_cache(maxsize=4)
def _test_digits(directory: str) -> tuple[np.ndarray, np.ndarray]:
    base = Path(directory)
    found = []
    for stem in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        paths = [p for p in (base / f"{stem}.gz", base / stem) if p.is_file()]
        if not paths:
            raise DataError(f"{base / (stem + '.gz')}: MNIST test file not found")
        found.append(read_idx(paths[0]))
    images, labels = found
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DataError(f"{base}: MNIST test images and labels do not match")
    return images.astype(np.uint8), labels.astype(np.int64)


def load_test_digits(data_dir: str | os.PathLike[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The MNIST *test* images (N, 28, 28) and labels (N,) from `data_dir` (default: as `load_mnist`)."""
    from digitreader.data.mnist import resolve_data_dir

    return _test_digits(str(resolve_data_dir(data_dir)))


# ----------------------------------------------------------------------------------------------- singles


def _single_look(style: str, rng: np.random.Generator) -> dict[str, float | bool | str]:
    look: dict[str, float | bool | str] = {"noise": rng.uniform(1, 3)}
    if style == "mixed":
        for key, p in (("board", 0.25), ("shadow", 0.3), ("light", 0.4), ("texture", 0.4), ("grey", 0.2)):
            look[key] = bool(rng.random() < p)
        look["blur"] = rng.uniform(0, 1.5) if rng.random() < 0.4 else 0.0
        look["jpeg"] = int(rng.integers(15, 60)) if rng.random() < 0.4 else 0
        look["noise"] = rng.uniform(1, 6)
    look["board"] = look.get("board", False) or style == "chalkboard"
    look["shadow"] = look.get("shadow", False) or style == "shadow"
    look["light"] = look.get("light", False) or style == "shadow"
    look["texture"] = look.get("texture", False) or style == "paper_texture"
    look["grey"] = look.get("grey", False) or style == "grey_background"
    if style == "jpeg_noise":
        look["jpeg"], look["noise"] = int(rng.integers(8, 30)), rng.uniform(4, 9)
    if style == "blur":
        look["blur"] = rng.uniform(1.0, 2.5)
    return look


def make_single_digit(image28: np.ndarray, label: int, style: str, rng: np.random.Generator) -> Sample:
    """One MNIST test digit photographed in `style` (one of SINGLE_STYLES)."""
    weight = {"thin_pen": rng.uniform(-1.2, -0.7), "thick_marker": rng.uniform(1.2, 2.2)}.get(style, 0.0)
    if style == "mixed":
        weight = rng.uniform(-1.0, 1.8)
    frame = int(rng.integers(48, 320))
    fraction = {"small_offcentre": rng.uniform(0.12, 0.3), "large_tight": rng.uniform(0.85, 1.0)}.get(
        style, rng.uniform(0.35, 0.8)
    )
    ink = draw.glyph(image28, frame * fraction, rng, weight=weight)
    angle = rng.uniform(-25, 25) if style in ("rotated", "mixed") else rng.uniform(-6, 6)
    ink = draw.affine(ink, angle=angle)
    h, w = ink.shape
    if style == "large_tight":
        H, W = h + int(rng.integers(0, max(1, h // 12))), w + int(rng.integers(0, max(1, w // 8)))
    else:
        H = max(int(frame * rng.uniform(0.8, 1.2)), h + 4)
        W = max(int(frame * rng.uniform(0.7, 1.4)), w + 4)
    x, y = int(rng.integers(0, W - w + 1)), int(rng.integers(0, H - h + 1))
    canvas = np.zeros((H, W), np.float32)
    draw.paste(canvas, ink, x, y)
    look = _single_look(style, rng)
    image = draw.render(canvas, rng, look)
    if style == "mixed" and rng.random() < 0.3:
        image = draw.to_colour(image, rng)
    board = bool(look["board"])
    return Sample(image, str(label), (draw.box(ink, x, y),), style, light_ink=board)


def make_single_digits(
    n: int,
    seed: int,
    *,
    styles: tuple[str, ...] = SINGLE_STYLES,
    data_dir: str | os.PathLike[str] | None = None,
) -> list[Sample]:
    """`n` single-digit pictures cycling through `styles`; reproducible from `seed`."""
    images, labels = load_test_digits(data_dir)
    out = []
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        k = int(rng.integers(len(images)))
        out.append(make_single_digit(images[k], int(labels[k]), styles[i % len(styles)], rng))
    return out


# ----------------------------------------------------------------------------------------------- numbers


def _number_line(
    images: np.ndarray, labels: np.ndarray, style: str, height: float, rng: np.random.Generator
) -> tuple[np.ndarray, str, list[Box]]:
    """One line of 3-8 digits as ink coverage, its text and digit boxes (relative to the returned image)."""
    n = int(rng.integers(3, 9))
    picks = rng.integers(len(images), size=n)
    slant = rng.uniform(-0.3, 0.35) if style in ("slant_drift", "mixed") else rng.uniform(-0.08, 0.1)
    drift = height * (rng.uniform(0.05, 0.15) if style in ("slant_drift", "mixed") else rng.uniform(0, 0.04))
    touching = style == "touching" or (style == "mixed" and rng.random() < 0.4)
    punctuate = style in ("punctuation", "mixed") and rng.random() < 0.85
    weight = rng.uniform(-0.6, 1.2)
    stroke = height * 0.11 * (1 + 0.4 * weight)
    # Thousands separators count from the right; a trailing ",-" or "-" as written after amounts.
    sep = str(rng.choice([".", ",", "'"])) if punctuate else ""
    tail = str(rng.choice(["", ",-", ".-", "-"])) if punctuate else ""
    touch_at = int(rng.integers(0, n - 1)) if touching else -1
    canvas = np.zeros((int(height * 2.2), int(height * (1.3 * n + 3))), np.float32)
    baseline = int(height * 1.5)
    x = int(height * 0.3)
    phase, freq = rng.uniform(0, 6.3), rng.uniform(0.3, 1.2)
    boxes, text = [], ""

    def place_mark(kind: str) -> None:
        nonlocal x
        mark = draw.punct(kind, height, stroke)
        if kind == "-":
            y = baseline - int(height * 0.5)
        elif kind == "'":
            y = baseline - int(height * 1.0)
        else:
            y = baseline - int(mark.shape[0] * (0.4 if kind == "," else 0.9))
        x += int(height * rng.uniform(0.05, 0.15))
        draw.paste(canvas, mark, x, y)
        x += mark.shape[1] + int(height * rng.uniform(0.05, 0.2))

    for i, k in enumerate(picks):
        glyph = draw.crop(draw.glyph(images[k], height * rng.uniform(0.92, 1.08), rng, weight=weight))
        glyph = draw.affine(glyph, angle=rng.uniform(-4, 4), shear=slant)
        gh, gw = glyph.shape
        y = baseline - gh + int(drift * np.sin(phase + freq * i) + rng.normal(0, height * 0.02))
        draw.paste(canvas, glyph, x, y)
        boxes.append(draw.box(glyph, x, y))
        text += str(int(labels[k]))
        if i == n - 1:
            break
        if sep and (n - 1 - i) % 3 == 0:
            x += gw
            place_mark(sep)
        elif i == touch_at:
            x += gw - int(rng.integers(1, max(2, int(stroke)) + 1))  # strokes overlap: a touching pair
        else:
            x += gw + int(height * rng.uniform(0.08, 0.5))
    x = boxes[-1][0] + boxes[-1][2]
    for kind in tail.replace(",-", ",|-").replace(".-", ".|-").split("|"):
        if kind:
            place_mark(kind)
    if style == "underline" or (style == "mixed" and rng.random() < 0.25):
        y = baseline + int(height * rng.uniform(0.04, 0.25))
        x0 = max(0, boxes[0][0] - int(height * rng.uniform(0, 0.5)))
        x1 = min(canvas.shape[1] - 1, x + int(height * rng.uniform(0, 0.5)))
        dy = int(height * rng.uniform(-0.08, 0.08))
        cv2.line(canvas, (x0, y), (x1, y + dy), 1.0, max(1, int(round(stroke))), cv2.LINE_AA)
    ys, xs = np.nonzero(canvas > 0.02)
    y0, x0 = max(0, ys.min() - 2), max(0, xs.min() - 2)
    crop = canvas[y0 : ys.max() + 3, x0 : xs.max() + 3]
    return crop, text, [(bx - x0, by - y0, bw, bh) for bx, by, bw, bh in boxes]


def make_number(images: np.ndarray, labels: np.ndarray, style: str, rng: np.random.Generator) -> Sample:
    """A written number (or two lines of them) made of MNIST test digits, in one of NUMBER_STYLES."""
    height = float(rng.uniform(22, 70))
    n_lines = 2 if style == "two_lines" or (style == "mixed" and rng.random() < 0.2) else 1
    lines = [_number_line(images, labels, style, height, rng) for _ in range(n_lines)]
    margin = int(height * rng.uniform(0.3, 1.5))
    gap = int(height * rng.uniform(0.4, 1.0))
    W = max(line.shape[1] for line, _, _ in lines) + 2 * margin + int(height * rng.uniform(0, 3))
    H = sum(line.shape[0] for line, _, _ in lines) + gap * (n_lines - 1) + 2 * margin
    canvas = np.zeros((H, W), np.float32)
    boxes: list[Box] = []
    y = margin
    for line, _, line_boxes in lines:
        x = int(rng.integers(margin // 2, max(margin // 2 + 1, W - line.shape[1] - margin // 2)))
        draw.paste(canvas, line, x, y)
        boxes += [(bx + x, by + y, bw, bh) for bx, by, bw, bh in line_boxes]
        y += line.shape[0] + gap
    look: dict[str, float | bool | str] = {"noise": rng.uniform(1, 3)}
    kind = style if style in ("ruled", "grid", "guilloche") else ""
    if style == "mixed":
        kind = str(rng.choice(["", "", "ruled", "grid", "guilloche"]))
        look.update(shadow=rng.random() < 0.3, light=rng.random() < 0.4, texture=rng.random() < 0.3)
        look.update(board=rng.random() < 0.15, jpeg=int(rng.integers(20, 70)) if rng.random() < 0.4 else 0)
    if kind:
        look.update(pattern=kind, pitch=height * rng.uniform(0.9, 1.4) if kind != "guilloche" else height)
    if style == "photo":
        look.update(shadow=True, light=True, texture=True, jpeg=int(rng.integers(20, 60)))
        look["blur"] = rng.uniform(0.4, 1.2)
        look["noise"] = rng.uniform(2, 6)
    look["board"] = bool(look.get("board")) or style == "chalkboard"
    image = draw.render(canvas, rng, look)
    if style in ("guilloche", "mixed") and rng.random() < 0.3:
        image = draw.to_colour(image, rng)
    text = "\n".join(t for _, t, _ in lines)
    return Sample(image, text, tuple(boxes), style, light_ink=bool(look["board"]))


def make_numbers(
    n: int,
    seed: int,
    *,
    styles: tuple[str, ...] = NUMBER_STYLES,
    data_dir: str | os.PathLike[str] | None = None,
) -> list[Sample]:
    """`n` pictures of written numbers cycling through `styles`; reproducible from `seed`."""
    images, labels = load_test_digits(data_dir)
    return [
        make_number(images, labels, styles[i % len(styles)], np.random.default_rng([seed, i]))
        for i in range(n)
    ]
