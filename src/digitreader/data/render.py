"""Drawing handwriting and photographing it: MNIST digits redrawn as pen ink, printed paper patterns, and a
surface (paper or board) under lighting, blur, noise and JPEG. Shared by the realistic evaluation set
(`synth`, MNIST test digits) and the sequence reader's training strings (`strings`, MNIST training digits).

Ink is float32 coverage in [0, 1] (1 = full ink); `render` turns a canvas of coverage into a uint8 picture.
"""

from __future__ import annotations

import cv2
import numpy as np

Box = tuple[int, int, int, int]


# ---------------------------------------------------------------------------------------- digit glyphs


def stroke_width(binary: np.ndarray) -> float:
    """Mean stroke width of a binary mask in its pixels: 2 * area / perimeter."""
    contours, _ = cv2.findContours(binary.astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    perimeter = sum(cv2.arcLength(c, True) for c in contours)
    return 2.0 * float(np.count_nonzero(binary)) / max(perimeter, 1.0)


def glyph(digit28: np.ndarray, height: float, rng: np.random.Generator, *, weight: float = 0.0) -> np.ndarray:
    """An MNIST digit redrawn as smooth pen ink (float32 in [0, 1]) whose 28-px frame is scaled to `height`.

    `weight` < 0 thins the stroke, > 0 thickens it (a fraction of the stroke width, about -1..+2).
    """
    s = max(height / 20.0, 0.5)  # MNIST's ink box is 20 of 28 pixels
    # Scale the weight by how much room the digit's own stroke leaves (MNIST strokes already vary 1.2-4.5 px):
    # a thick marker on an already bold digit would make an unreadable blob no writer produces.
    own = stroke_width(digit28 > 127)
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


def crop(ink: np.ndarray) -> np.ndarray:
    """`ink` cut to the box of its visible coverage (a 1x1 corner when there is none)."""
    ys, xs = np.nonzero(ink > 0.02)
    if ys.size == 0:
        return ink[:1, :1]
    return ink[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def affine(ink: np.ndarray, angle: float = 0.0, shear: float = 0.0) -> np.ndarray:
    """Rotate (degrees) and shear (x += shear * (centre_y - y): positive leans right) with room to spare."""
    h, w = ink.shape
    pad = int(max(h, w) * (0.3 + abs(shear))) + 2
    big = cv2.copyMakeBorder(ink, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    c = (big.shape[1] / 2.0, big.shape[0] / 2.0)
    m = cv2.getRotationMatrix2D(c, angle, 1.0)
    sh = np.array([[1, -shear, shear * c[1]], [0, 1, 0], [0, 0, 1]], np.float64)
    m = (np.vstack([m, [0, 0, 1]]) @ sh)[:2]
    out = cv2.warpAffine(big, m, (big.shape[1], big.shape[0]), flags=cv2.INTER_LINEAR)
    return crop(out)


def box(ink: np.ndarray, x0: int, y0: int) -> Box:
    ys, xs = np.nonzero(ink > 0.5)
    if ys.size == 0:
        ys, xs = np.nonzero(ink > 0)
    return int(x0 + xs.min()), int(y0 + ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)


def paste(canvas: np.ndarray, ink: np.ndarray, x: int, y: int) -> None:
    """Max-composite `ink` onto `canvas` at (x, y), clipped at the edges."""
    h, w = ink.shape
    ch, cw = canvas.shape
    x0, y0, x1, y1 = max(0, x), max(0, y), min(cw, x + w), min(ch, y + h)
    if x1 > x0 and y1 > y0:
        region = canvas[y0:y1, x0:x1]
        np.maximum(region, ink[y0 - y : y1 - y, x0 - x : x1 - x], out=region)


# --------------------------------------------------------------------------------------------- surfaces


def smooth_noise(shape: tuple[int, int], scale: float, rng: np.random.Generator) -> np.ndarray:
    """Zero-mean noise with features about `scale` pixels across, unit standard deviation."""
    h, w = shape
    sh, sw = max(2, int(h / scale) + 2), max(2, int(w / scale) + 2)
    small = rng.normal(0, 1, (sh, sw)).astype(np.float32)
    out = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    return (out - out.mean()) / (out.std() + 1e-6)


def lighting(shape: tuple[int, int], rng: np.random.Generator, *, shadow: bool) -> np.ndarray:
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


def pattern(shape: tuple[int, int], kind: str, pitch: float, rng: np.random.Generator) -> np.ndarray:
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


def render(ink: np.ndarray, rng: np.random.Generator, look: dict[str, float | bool | str]) -> np.ndarray:
    """Put ink coverage on a surface and photograph it: paper or board, lighting, blur, noise, JPEG."""
    h, w = ink.shape
    img: np.ndarray
    if look.get("board"):
        ground = rng.uniform(15, 75)
        chalk = rng.uniform(170, 245)
        smudge = np.clip(0.85 + 0.15 * smooth_noise((h, w), 3, rng), 0.5, 1.0)
        img = ground + 6 * smooth_noise((h, w), 40, rng) + (chalk - ground) * ink * smudge
    else:
        paper = rng.uniform(140, 190) if look.get("grey") else rng.uniform(205, 250)
        pen = paper - rng.uniform(55, 90) if look.get("grey") else rng.uniform(15, 90)
        img = np.full((h, w), paper, np.float32)
        if look.get("texture"):
            img += rng.uniform(4, 10) * smooth_noise((h, w), rng.uniform(1.5, 6), rng)
            img += rng.uniform(2, 6) * smooth_noise((h, w), 60, rng)
        kind = str(look.get("pattern", ""))
        if kind:
            cover = pattern((h, w), kind, float(look.get("pitch", 30.0)), rng)
            img -= cover * rng.uniform(25, 65)  # printed patterns are pale next to a pen
        img = img * (1 - ink) + pen * ink
    if look.get("light") or look.get("shadow"):
        img *= lighting((h, w), rng, shadow=bool(look.get("shadow")))
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


def to_colour(gray: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A tinted RGB version (blue ink, cream paper): what a phone photo looks like before grayscale."""
    tint = rng.uniform(0.85, 1.0, 3).astype(np.float32)
    ink_tint = np.array([0.25, 0.3, 0.9], np.float32) * rng.uniform(0.5, 1.0)
    f = gray.astype(np.float32)[..., None] / 255.0
    rgb = 255.0 * (f * tint + (1 - f) * ink_tint * 0.25)
    return np.clip(rgb, 0, 255).astype(np.uint8)


def punct(kind: str, height: float, stroke: float) -> np.ndarray:
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
