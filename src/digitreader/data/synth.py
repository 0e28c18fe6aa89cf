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

from digitreader.data.idx import read_idx
from digitreader.errors import DataError

Box = tuple[int, int, int, int]

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


# ---------------------------------------------------------------------------------------- digit glyphs


def _stroke_width(binary: np.ndarray) -> float:
    """Mean stroke width of a binary mask in its pixels: 2 * area / perimeter."""
    contours, _ = cv2.findContours(binary.astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    perimeter = sum(cv2.arcLength(c, True) for c in contours)
    return 2.0 * float(np.count_nonzero(binary)) / max(perimeter, 1.0)


def _glyph(
    digit28: np.ndarray, height: float, rng: np.random.Generator, *, weight: float = 0.0
) -> np.ndarray:
    """An MNIST digit redrawn as smooth pen ink (float32 in [0, 1]) whose 28-px frame is scaled to `height`.

    `weight` < 0 thins the stroke, > 0 thickens it (a fraction of the stroke width, about -1..+2).
    """
    s = max(height / 20.0, 0.5)  # MNIST's ink box is 20 of 28 pixels
    # Scale the weight by how much room the digit's own stroke leaves (MNIST strokes already vary 1.2-4.5 px):
    # a thick marker on an already bold digit would make an unreadable blob no writer produces.
    own = _stroke_width(digit28 > 127)
    if weight > 0:
        weight *= float(np.clip((4.2 - own) / 2.0, 0.0, 1.0))
    elif weight < 0:
        weight *= float(np.clip((own - 1.2) / 1.2, 0.0, 1.0))
    size = max(4, int(round(28 * s)))
    up = cv2.resize(digit28, (size, size), interpolation=cv2.INTER_CUBIC).astype(np.float32) / 255.0
    # Sharpen the blurry upscale into pen edges about 1.5 px wide; the threshold sets the stroke weight.
    threshold = float(np.clip(0.45 - 0.12 * weight + rng.normal(0, 0.04), 0.12, 0.8))
    ink = np.clip(0.5 + (up - threshold) * max(1.0, s * 1.3), 0.0, 1.0)
    if weight > 1.0 or weight < -0.6:
        k = max(1, int(round(abs(weight) * s * 0.6)))
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1))
        thinned = cv2.erode(ink, kernel) if weight < 0 else cv2.dilate(ink, kernel)
        if weight > 0 or thinned.max() > 0.9:
            ink = thinned
    return ink


def _crop(ink: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(ink > 0.02)
    if ys.size == 0:
        return ink[:1, :1]
    return ink[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def _affine(ink: np.ndarray, angle: float = 0.0, shear: float = 0.0) -> np.ndarray:
    """Rotate (degrees) and shear (x += shear * (centre_y - y): positive leans right) with room to spare."""
    h, w = ink.shape
    pad = int(max(h, w) * (0.3 + abs(shear))) + 2
    big = cv2.copyMakeBorder(ink, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    c = (big.shape[1] / 2.0, big.shape[0] / 2.0)
    m = cv2.getRotationMatrix2D(c, angle, 1.0)
    sh = np.array([[1, -shear, shear * c[1]], [0, 1, 0], [0, 0, 1]], np.float64)
    m = (np.vstack([m, [0, 0, 1]]) @ sh)[:2]
    out = cv2.warpAffine(big, m, (big.shape[1], big.shape[0]), flags=cv2.INTER_LINEAR)
    return _crop(out)


def _box(ink: np.ndarray, x0: int, y0: int) -> Box:
    ys, xs = np.nonzero(ink > 0.5)
    if ys.size == 0:
        ys, xs = np.nonzero(ink > 0)
    return int(x0 + xs.min()), int(y0 + ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)


def _paste(canvas: np.ndarray, ink: np.ndarray, x: int, y: int) -> None:
    """Max-composite `ink` onto `canvas` at (x, y), clipped at the edges."""
    h, w = ink.shape
    ch, cw = canvas.shape
    x0, y0, x1, y1 = max(0, x), max(0, y), min(cw, x + w), min(ch, y + h)
    if x1 > x0 and y1 > y0:
        region = canvas[y0:y1, x0:x1]
        np.maximum(region, ink[y0 - y : y1 - y, x0 - x : x1 - x], out=region)


# --------------------------------------------------------------------------------------------- surfaces


def _smooth_noise(shape: tuple[int, int], scale: float, rng: np.random.Generator) -> np.ndarray:
    """Zero-mean noise with features about `scale` pixels across, unit standard deviation."""
    h, w = shape
    sh, sw = max(2, int(h / scale) + 2), max(2, int(w / scale) + 2)
    small = rng.normal(0, 1, (sh, sw)).astype(np.float32)
    out = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    return (out - out.mean()) / (out.std() + 1e-6)


def _lighting(shape: tuple[int, int], rng: np.random.Generator, *, shadow: bool) -> np.ndarray:
    """A multiplicative illumination field: a gradient, a vignette and optionally a soft-edged shadow."""
    h, w = shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    a = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(a) * xs / w + np.sin(a) * ys / h).astype(np.float32)
    field = 1.0 - rng.uniform(0.1, 0.45) * (ramp - ramp.min()) / (np.ptp(ramp) + 1e-6)
    r2 = ((xs - w * rng.uniform(0.3, 0.7)) / w) ** 2 + ((ys - h * rng.uniform(0.3, 0.7)) / h) ** 2
    field *= 1.0 - rng.uniform(0.0, 0.35) * np.clip(r2 * 2, 0, 1)
    if shadow:
        # A half-plane (a hand or phone) at a random angle, with a soft edge, darkening by 30-60 %.
        b = rng.uniform(0, 2 * np.pi)
        d = np.cos(b) * (xs - w * rng.uniform(0.2, 0.8)) + np.sin(b) * (ys - h * rng.uniform(0.2, 0.8))
        edge = max(1.0, rng.uniform(0.01, 0.08) * max(h, w))
        field *= 1.0 - rng.uniform(0.3, 0.6) * (1.0 / (1.0 + np.exp(-d / edge)))
    return field.astype(np.float32)


def _pattern(shape: tuple[int, int], kind: str, pitch: float, rng: np.random.Generator) -> np.ndarray:
    """Printed paper patterns as 'ink' coverage in [0, 1]: ruled or grid lines, or guilloche waves."""
    h, w = shape
    out = np.zeros(shape, np.float32)
    if kind in ("ruled", "grid"):
        width = int(rng.integers(1, 3))
        off = rng.uniform(0, pitch)
        for y in np.arange(off, h, pitch):
            cv2.line(out, (0, int(y)), (w - 1, int(y)), 1.0, width, cv2.LINE_AA)
        if kind == "grid":
            for x in np.arange(rng.uniform(0, pitch), w, pitch):
                cv2.line(out, (int(x), 0), (int(x), h - 1), 1.0, width, cv2.LINE_AA)
    elif kind == "guilloche":
        # Families of fine interleaved sine waves, as printed behind the amount on a cheque.
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        for _ in range(int(rng.integers(2, 4))):
            period = rng.uniform(0.5, 2.0) * pitch
            amp = rng.uniform(0.1, 0.8) * pitch
            spacing = rng.uniform(3.0, 10.0)
            phase = amp * np.sin(2 * np.pi * xs / period + rng.uniform(0, 6.3))
            u = (ys + phase) / spacing
            out = np.maximum(out, np.clip(1.0 - np.abs(u - np.round(u)) * spacing / 0.8, 0, 1))
    return out


def _render(ink: np.ndarray, rng: np.random.Generator, look: dict[str, float | bool | str]) -> np.ndarray:
    """Put ink coverage on a surface and photograph it: paper or board, lighting, blur, noise, JPEG."""
    h, w = ink.shape
    img: np.ndarray
    if look.get("board"):
        ground = rng.uniform(15, 75)
        chalk = rng.uniform(170, 245)
        smudge = np.clip(0.85 + 0.15 * _smooth_noise((h, w), 3, rng), 0.5, 1.0)
        img = ground + 6 * _smooth_noise((h, w), 40, rng) + (chalk - ground) * ink * smudge
    else:
        paper = rng.uniform(140, 190) if look.get("grey") else rng.uniform(205, 250)
        pen = paper - rng.uniform(55, 90) if look.get("grey") else rng.uniform(15, 90)
        img = np.full((h, w), paper, np.float32)
        if look.get("texture"):
            img += rng.uniform(4, 10) * _smooth_noise((h, w), rng.uniform(1.5, 6), rng)
            img += rng.uniform(2, 6) * _smooth_noise((h, w), 60, rng)
        pattern = str(look.get("pattern", ""))
        if pattern:
            cover = _pattern((h, w), pattern, float(look.get("pitch", 30.0)), rng)
            img -= cover * rng.uniform(25, 65)  # printed patterns are pale next to a pen
        img = img * (1 - ink) + pen * ink
    if look.get("light") or look.get("shadow"):
        img *= _lighting((h, w), rng, shadow=bool(look.get("shadow")))
    blur = float(look.get("blur", 0.0))
    if blur > 0:
        img = cv2.GaussianBlur(img, (0, 0), blur)
    img += rng.normal(0, float(look.get("noise", 2.0)), (h, w)).astype(np.float32)
    out = np.clip(img, 0, 255).astype(np.uint8)
    quality = int(look.get("jpeg", 0))
    if quality:
        ok, enc = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, quality])
        decoded = cv2.imdecode(enc, cv2.IMREAD_GRAYSCALE) if ok else None
        if decoded is not None:
            out = decoded
    return out


def _to_colour(gray: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A tinted RGB version (blue ink, cream paper): what a phone photo looks like before grayscale."""
    tint = rng.uniform(0.85, 1.0, 3).astype(np.float32)
    ink_tint = np.array([0.25, 0.3, 0.9], np.float32) * rng.uniform(0.5, 1.0)
    f = gray.astype(np.float32)[..., None] / 255.0
    rgb = 255.0 * (f * tint + (1 - f) * ink_tint * 0.25)
    return np.clip(rgb, 0, 255).astype(np.uint8)


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
    ink = _glyph(image28, frame * fraction, rng, weight=weight)
    angle = rng.uniform(-25, 25) if style in ("rotated", "mixed") else rng.uniform(-6, 6)
    ink = _affine(ink, angle=angle)
    h, w = ink.shape
    if style == "large_tight":
        H, W = h + int(rng.integers(0, max(1, h // 12))), w + int(rng.integers(0, max(1, w // 8)))
    else:
        H = max(int(frame * rng.uniform(0.8, 1.2)), h + 4)
        W = max(int(frame * rng.uniform(0.7, 1.4)), w + 4)
    x, y = int(rng.integers(0, W - w + 1)), int(rng.integers(0, H - h + 1))
    canvas = np.zeros((H, W), np.float32)
    _paste(canvas, ink, x, y)
    look = _single_look(style, rng)
    image = _render(canvas, rng, look)
    if style == "mixed" and rng.random() < 0.3:
        image = _to_colour(image, rng)
    board = bool(look["board"])
    return Sample(image, str(label), (_box(ink, x, y),), style, light_ink=board)


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


def _punct(kind: str, height: float, stroke: float) -> np.ndarray:
    """Ink of a punctuation mark the size of handwriting `height` px tall: '.', ',', '-' or "'"."""
    s = max(2, int(round(stroke)))
    if kind == "-":
        w = max(4, int(height * 0.45))
        img = np.zeros((s + 2, w + 2), np.float32)
        cv2.line(img, (1, 1 + s // 2), (w, 1 + s // 2), 1.0, s, cv2.LINE_AA)
    elif kind == ",":
        L = max(4, int(height * 0.22))
        img = np.zeros((L + 2, L // 2 + s + 2), np.float32)
        cv2.line(img, (L // 2 + 1, 1), (1 + s // 2, L), 1.0, s, cv2.LINE_AA)
    else:  # '.' or "'"
        r = max(1, int(round(stroke * 0.7)))
        img = np.zeros((2 * r + 3, 2 * r + 3), np.float32)
        cv2.circle(img, (r + 1, r + 1), r, 1.0, -1, cv2.LINE_AA)
    return img


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
        mark = _punct(kind, height, stroke)
        if kind == "-":
            y = baseline - int(height * 0.5)
        elif kind == "'":
            y = baseline - int(height * 1.0)
        else:
            y = baseline - int(mark.shape[0] * (0.4 if kind == "," else 0.9))
        x += int(height * rng.uniform(0.05, 0.15))
        _paste(canvas, mark, x, y)
        x += mark.shape[1] + int(height * rng.uniform(0.05, 0.2))

    for i, k in enumerate(picks):
        glyph = _crop(_glyph(images[k], height * rng.uniform(0.92, 1.08), rng, weight=weight))
        glyph = _affine(glyph, angle=rng.uniform(-4, 4), shear=slant)
        gh, gw = glyph.shape
        y = baseline - gh + int(drift * np.sin(phase + freq * i) + rng.normal(0, height * 0.02))
        _paste(canvas, glyph, x, y)
        boxes.append(_box(glyph, x, y))
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
        _paste(canvas, line, x, y)
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
    image = _render(canvas, rng, look)
    if style in ("guilloche", "mixed") and rng.random() < 0.3:
        image = _to_colour(image, rng)
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
