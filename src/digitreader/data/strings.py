"""Written numbers for training the sequence reader, drawn from MNIST *training* digits (never test digits:
the realistic evaluation set `synth` is made of those), with their text as written ("10.4", "1,250",
"12 345", "555-0137", "-16.3").

What a line can hold, each drawn at random (`make_line`):

1. the text: amounts, decimals, thousands groups (".", "," or a gap), dashes, a leading minus, runs of
   zeros; before or after the amount sometimes a mark that is not part of it ("$", "-", ",-", "=", "/-"),
   left out of the text;
2. the digits: MNIST training digits redrawn with a pen from hairline to marker, in continental styles too
   (a 1 with a long up-stroke, a crossed 7), varied in size, slant, baseline and spacing: overlapping,
   touching, joined by ligature strokes (zeros written as one chain);
3. the surroundings: table-cell borders close to or touching the digits, ruled lines through or under
   them, an underline, the neighbouring cells' digits cut by the picture's edge, cheque guilloche, grid
   paper;
4. the photograph (`render.render`): paper or board, grey and faint ink, lighting and shadow, blur, noise,
   then the picture shrunk to a small size (lines 10-40 px high) and JPEG-compressed.

Sample `i` of a seed comes from `default_rng([seed, i])`, so a line never depends on how many are made or
in which worker. `make_strip` turns a line into what the reader is trained on: the same ink map and strip
cut as reading uses (`vision.preprocess.ink_map`, `vision.strip`).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from digitreader.data import render as draw
from digitreader.data.render import Box
from digitreader.vision.preprocess import ink_map
from digitreader.vision.strip import cut_strip, line_window

TRAILING_MARKS = ("-", ",-", ".-", "=", "/-")  # written after amounts, not part of the number
LEADING_MARKS = ("$", "$", "$", "=")  # written before amounts (a currency sign, mostly), not part of it
ELASTIC = 0.5  # share of digits bent by `_elastic`


@dataclass(frozen=True)
class Line:
    """A picture of one written number: uint8 gray, its text as written, the text's ink box, the polarity."""

    image: np.ndarray
    text: str
    box: Box
    dark_ink: bool


class DigitBank:
    """MNIST images grouped by label, to draw a given digit from."""

    def __init__(self, images: np.ndarray, labels: np.ndarray) -> None:
        self.images = images
        self.by_label = [np.flatnonzero(labels == d) for d in range(10)]
        if any(len(ix) == 0 for ix in self.by_label):
            raise ValueError("the digit bank needs at least one image of every digit")

    def pick(self, digit: int, rng: np.random.Generator) -> np.ndarray:
        ix = self.by_label[digit]
        return self.images[ix[int(rng.integers(len(ix)))]]


# --------------------------------------------------------------------------------------------------- text


def _digits(n: int, rng: np.random.Generator) -> str:
    s = "".join(str(int(d)) for d in rng.integers(0, 10, n))
    if n > 1 and s[0] == "0" and rng.random() < 0.8:
        s = str(int(rng.integers(1, 10))) + s[1:]
    if n >= 3 and rng.random() < 0.3:  # round amounts: 1200, 10000
        k = int(rng.integers(1, n - 1 + 1))
        s = s[: n - k] + "0" * k
    if n >= 2 and rng.random() < 0.08:  # repeated digits: 4555, 11
        i = int(rng.integers(0, n - 1))
        s = s[: i + 1] + s[i] + s[i + 2 :]
    return s


def _length(rng: np.random.Generator, most: int = 8) -> int:
    weights = np.array([8, 30, 22, 15, 10, 7, 5, 3], np.float64)[:most]
    return int(rng.choice(np.arange(1, most + 1), p=weights / weights.sum()))


def _ones_at_the_ends(text: str, rng: np.random.Generator) -> str:
    """Sometimes a 1 first or last: real amounts often start with one (Benford), and a plain 1 ending a
    number beside a cell's border is the digit the reader dropped most (it took it for the border)."""
    digits = [i for i, ch in enumerate(text) if ch in "0123456789"]
    if not digits:
        return text
    chars = list(text)
    if rng.random() < 0.1:
        chars[digits[-1]] = "1"
    if rng.random() < 0.1:
        chars[digits[0]] = "1"
    return "".join(chars)


def make_text(rng: np.random.Generator) -> tuple[str, str]:
    """A number as written (its text) and the mark written after it, if any (not part of the text)."""
    kind = rng.random()
    if kind < 0.4:
        text = _digits(_length(rng), rng)
    elif kind < 0.75:  # a decimal
        mark = "." if rng.random() < 0.5 else ","
        text = _digits(_length(rng, 4), rng) + mark + _digits(int(rng.integers(1, 4)), rng)
    elif kind < 0.94:  # thousands groups, maybe with decimals
        mark = str(rng.choice([".", ",", " "], p=[0.4, 0.4, 0.2]))
        head = _digits(int(rng.integers(1, 4)), rng)
        groups = [_digits(3, rng) if rng.random() < 0.6 else "000" for _ in range(int(rng.integers(1, 3)))]
        text = mark.join([head, *groups])
        if mark != " " and rng.random() < 0.3:
            text += ("," if mark == "." else ".") + _digits(2, rng)
    else:  # groups joined by dashes (a phone or reference number)
        text = "-".join(_digits(int(rng.integers(2, 5)), rng) for _ in range(int(rng.integers(2, 4))))
    text = _ones_at_the_ends(text, rng)
    if rng.random() < 0.05 and "-" not in text:
        text = "-" + text
    after = str(rng.choice(TRAILING_MARKS)) if rng.random() < 0.08 else ""
    return text, after


# ------------------------------------------------------------------------------------------------ glyphs


def _elastic(digit28: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """An MNIST digit bent by a smooth random displacement (Simard et al. 2003): loops opened or closed,
    strokes lengthened or curled, as other writers make the same digit."""
    alpha, sigma = rng.uniform(1.5, 3.5), rng.uniform(3.5, 5.0)
    field = rng.uniform(-1, 1, (2, 28, 28)).astype(np.float32)
    dx, dy = (cv2.GaussianBlur(f, (0, 0), sigma) for f in field)
    dx, dy = (d * (alpha / max(1e-6, float(np.abs(d).max()))) for d in (dx, dy))
    gx, gy = np.meshgrid(np.arange(28, dtype=np.float32), np.arange(28, dtype=np.float32))
    return cv2.remap(digit28, gx + dx, gy + dy, cv2.INTER_LINEAR, borderValue=0)


def _stroke_px(ink: np.ndarray) -> float:
    return max(1.0, draw.stroke_width(ink > 0.5))


def _continental(ink: np.ndarray, digit: int, rng: np.random.Generator) -> np.ndarray:
    """A 1 with the long up-stroke, or a 7 with a bar, as written in much of the world (MNIST has few)."""
    h, w = ink.shape
    if digit not in (1, 7) or h < 6:
        return ink
    stroke = _stroke_px(ink)
    t = max(1, int(round(stroke)))
    pad = int(h * 0.5)
    out = cv2.copyMakeBorder(ink, 0, 0, pad, pad, cv2.BORDER_CONSTANT, value=0)
    ys, xs = np.nonzero(out > 0.5)
    if ys.size == 0:
        return ink
    if digit == 1 and rng.random() < 0.6:
        # The up-stroke of a continental 1 often starts near the baseline: a long "/" into the stem.
        top = ys.min()
        xt = int(np.mean(xs[ys <= top + max(1, h // 12)]))
        length = h * (rng.uniform(0.45, 0.95) if rng.random() < 0.6 else rng.uniform(0.2, 0.45))
        angle = np.radians(rng.uniform(20, 55))
        end = (int(xt - length * np.sin(angle)), int(top + length * np.cos(angle)))
        cv2.line(out, (xt, int(top)), end, 1.0, t, cv2.LINE_AA)
        if rng.random() < 0.15:  # a foot
            bottom = ys.max()
            xb = int(np.mean(xs[ys >= bottom - max(1, h // 12)]))
            half = int(h * rng.uniform(0.15, 0.3))
            cv2.line(out, (xb - half, int(bottom)), (xb + half, int(bottom)), 1.0, t, cv2.LINE_AA)
    elif digit == 7 and rng.random() < 0.3:
        y = min(int(ys.min() + h * rng.uniform(0.45, 0.6)), out.shape[0] - 1)
        row = np.flatnonzero(out[y] > 0.5)
        if row.size:
            cx, half = int(row.mean()), int(h * rng.uniform(0.15, 0.28))
            cv2.line(out, (cx - half, y), (cx + half, y), 1.0, t, cv2.LINE_AA)
    return draw.crop(out)


def _ligature(canvas: np.ndarray, a: Box, b: Box, stroke: float, rng: np.random.Generator) -> None:
    """A pen stroke joining the lower right of box `a` to the left of box `b` (joined-up handwriting)."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    x0, y0 = ax + aw * rng.uniform(0.75, 1.0), ay + ah * rng.uniform(0.55, 0.95)
    x1, y1 = bx + bw * rng.uniform(0.0, 0.3), by + bh * rng.uniform(0.2, 0.8)
    cx, cy = (x0 + x1) / 2, max(y0, y1) + ah * rng.uniform(0.0, 0.2)
    ts = np.linspace(0, 1, 12)
    pts = np.stack(
        [
            (1 - ts) ** 2 * x0 + 2 * (1 - ts) * ts * cx + ts**2 * x1,
            (1 - ts) ** 2 * y0 + 2 * (1 - ts) * ts * cy + ts**2 * y1,
        ],
        axis=1,
    )
    cv2.polylines(
        canvas, [np.round(pts).astype(np.int32)], False, 1.0, max(1, int(round(stroke))), cv2.LINE_AA
    )


def _mark(kind: str, height: float, stroke: float, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """A written mark and where its top sits, as a fraction of the digit height above the baseline."""
    s = max(1, int(round(stroke * rng.uniform(0.7, 1.2))))
    if kind == ".":
        if rng.random() < 0.25:  # a dot written as a short tick
            L = max(2, int(height * rng.uniform(0.08, 0.18)))
            img = np.zeros((L + 2 * s, L + 2 * s), np.float32)
            cv2.line(img, (s + L, s), (s, s + L), 1.0, s, cv2.LINE_AA)
        else:
            r = max(1, int(round(stroke * rng.uniform(0.5, 1.4))))  # a pen's dot: often wider than its line
            img = np.zeros((2 * r + 3, 2 * r + 3), np.float32)
            cv2.circle(img, (r + 1, r + 1), r, 1.0, -1, cv2.LINE_AA)
        if rng.random() < 0.15:  # a raised decimal point, as some write it: a dot or a short dash
            if rng.random() < 0.6:
                w = max(2, int(height * rng.uniform(0.1, 0.22)))
                img = np.zeros((s + 2, w + 2), np.float32)
                cv2.line(img, (1, 1 + s // 2), (w, 1 + s // 2), 1.0, s, cv2.LINE_AA)
            return img, rng.uniform(0.4, 0.6)
        return img, img.shape[0] / height * rng.uniform(0.6, 1.3)
    if kind == ",":
        L = max(3, int(height * rng.uniform(0.18, 0.35)))
        lean = int(L * rng.uniform(0.2, 0.6))
        img = np.zeros((L + 2 * s, lean + 2 * s + 1), np.float32)
        cv2.line(img, (lean + s, s), (s, L + s - 1), 1.0, s, cv2.LINE_AA)
        return img, L * rng.uniform(0.35, 0.6) / height
    if kind == "-":
        w = max(3, int(height * rng.uniform(0.25, 0.6)))
        img = np.zeros((s + 2, w + 2), np.float32)
        cv2.line(img, (1, 1 + s // 2), (w, 1 + s // 2), 1.0, s, cv2.LINE_AA)
        return img, rng.uniform(0.4, 0.65)
    if kind == "=":
        w = max(4, int(height * rng.uniform(0.3, 0.6)))
        gap = max(2, int(height * rng.uniform(0.12, 0.25)))
        img = np.zeros((gap + 2 * s + 2, w + 2), np.float32)
        cv2.line(img, (1, 1 + s // 2), (w, 1 + s // 2), 1.0, s, cv2.LINE_AA)
        cv2.line(img, (1, 1 + s // 2 + gap), (w, 1 + s // 2 + gap), 1.0, s, cv2.LINE_AA)
        return img, rng.uniform(0.5, 0.7)
    if kind == "$":  # a currency sign before an amount
        scale = height / 22.0 * rng.uniform(0.8, 1.1)
        (w, h), base = cv2.getTextSize("$", cv2.FONT_HERSHEY_SIMPLEX, scale, s)
        img8 = np.zeros((h + base + 2 * s, w + 2 * s), np.uint8)  # OpenCV draws text on 8-bit pictures only
        cv2.putText(img8, "$", (s, h + s), cv2.FONT_HERSHEY_SIMPLEX, scale, 255, s, cv2.LINE_AA)
        img = img8.astype(np.float32) / 255.0
        return img, img.shape[0] / height * rng.uniform(0.85, 1.0)
    # "/": a slash as tall as a digit
    L = int(height * rng.uniform(0.7, 1.0))
    lean = int(L * rng.uniform(0.25, 0.5))
    img = np.zeros((L + 2 * s, lean + 2 * s + 1), np.float32)
    cv2.line(img, (lean + s, s), (s, L + s - 1), 1.0, s, cv2.LINE_AA)
    return img, 1.0


# ------------------------------------------------------------------------------------------------- line


def _write(
    text: str, after: str, bank: DigitBank, height: float, rng: np.random.Generator, before: str = ""
) -> tuple[np.ndarray, Box, list[Box]]:
    """Ink of `text` written in one line, with the marks `before` and `after` it (not part of the text): the
    canvas, the text's ink box, the digits' boxes."""
    n = len(before) + len(text) + len(after) + 2
    canvas = np.zeros((int(height * 3), int(height * (1.4 * n + 2))), np.float32)
    baseline = int(height * 2.0)
    weight = rng.uniform(-1.2, 1.4)
    slant = rng.uniform(-0.25, 0.45) if rng.random() < 0.7 else rng.uniform(-0.05, 0.1)
    drift, phase, freq = height * rng.uniform(0, 0.1), rng.uniform(0, 6.3), rng.uniform(0.3, 1.2)
    spacing = rng.uniform(-0.05, 0.35)  # this writer's usual gap, as a fraction of the digit height
    cursive = rng.random() < 0.15  # joins most digits
    x = int(height * 0.5)
    stroke = 2.0
    digit_boxes: list[Box] = []
    text_box: Box | None = None
    previous: Box | None = None
    previous_char = ""

    def add(box: Box) -> None:
        nonlocal text_box
        text_box = box if text_box is None else _union(text_box, box)

    for i, ch in enumerate(before + text + after):
        labelled = len(before) <= i < len(before) + len(text)
        if ch in "0123456789":
            source = bank.pick(int(ch), rng)
            if rng.random() < ELASTIC:
                source = _elastic(source, rng)
            g = draw.glyph(source, height * rng.uniform(0.85, 1.12), rng, weight=weight)
            g = _continental(draw.crop(g), int(ch), rng)
            g = draw.affine(g, angle=rng.uniform(-5, 5), shear=slant + rng.normal(0, 0.04))
            stroke = _stroke_px(g)
            gh, gw = g.shape
            if previous is not None and previous_char in "0123456789":
                gap = spacing + rng.normal(0, 0.08)
                if ch == "0" and previous_char == "0" and rng.random() < 0.4:
                    gap = rng.uniform(-0.12, 0.0)  # zeros in one chain
                x += int(round(height * max(gap, -0.25)))
                x = max(x, previous[0] + int(0.45 * previous[2]))  # overlap, never swallow
            y = baseline - gh + int(drift * np.sin(phase + freq * i) + rng.normal(0, height * 0.03))
            draw.paste(canvas, g, x, y)
            box = draw.box(g, x, y)
            if previous is not None and previous_char in "0123456789" and (cursive or rng.random() < 0.08):
                _ligature(canvas, previous, box, stroke, rng)
            digit_boxes.append(box)
            x += gw
        elif ch == " ":
            x += int(height * rng.uniform(0.55, 1.1))
            previous_char = ch
            continue
        else:
            kind = "/" if ch == "/" else ch
            mark, top = _mark(kind, height, stroke, rng)
            # Real writers squeeze a decimal or thousands mark in: it often touches the digit after it.
            squeeze = 0.1 if ch in ".," else 0.0
            x += int(height * rng.uniform(0.02 - squeeze / 2, 0.2))
            y = int(baseline - top * height + rng.normal(0, height * 0.03))
            draw.paste(canvas, mark, x, y)
            box = draw.box(mark, x, y)
            x += mark.shape[1] + int(height * rng.uniform(-squeeze, 0.15))
        if labelled:
            add(box)
        previous, previous_char = box, ch
    assert text_box is not None
    return canvas, text_box, digit_boxes


def _union(a: Box, b: Box) -> Box:
    x0, y0 = min(a[0], b[0]), min(a[1], b[1])
    x1, y1 = max(a[0] + a[2], b[0] + b[2]), max(a[1] + a[3], b[1] + b[3])
    return (x0, y0, x1 - x0, y1 - y0)


def _surroundings(
    canvas: np.ndarray, box: Box, height: float, bank: DigitBank, rng: np.random.Generator
) -> tuple[np.ndarray, Box]:
    """The written line cropped with margins, with what lies around numbers added (cell borders, ruled
    lines, underlines, the neighbouring cells' digits), and the text's box in the crop."""
    x, y, w, h = box
    mt, mb = (int(height * rng.uniform(0.1, 0.9)) for _ in range(2))
    # Side margins: often roomy, sometimes none (a cell cut tight, the last digit at the picture's edge).
    ml, mr = (
        int(height * (rng.uniform(0.1, 1.4) if rng.random() > 0.15 else rng.uniform(0, 0.1))) for _ in "lr"
    )
    x0, y0 = max(0, x - ml), max(0, y - mt)
    out = canvas[y0 : y + h + mb, x0 : x + w + mr].copy()
    H, W = out.shape
    stroke = max(1, int(round(height * rng.uniform(0.03, 0.1))))
    grey = rng.uniform(0.35, 1.0)  # printed lines are often paler than the pen
    if rng.random() < 0.1:  # neighbours' digits cut by the picture's edge
        for side in ("left", "right"):
            if rng.random() < 0.5:
                g = draw.crop(draw.glyph(bank.pick(int(rng.integers(10)), rng), height, rng))
                gy = int(rng.uniform(0, max(1, H - g.shape[0])))
                gx = (
                    -int(g.shape[1] * rng.uniform(0.5, 0.9))
                    if side == "left"
                    else W - int(g.shape[1] * rng.uniform(0.1, 0.5))
                )
                draw.paste(out, g, gx, gy)
    if rng.random() < 0.45:  # a table cell's borders, at the picture's edges or closer in
        for edge in ("left", "right", "top", "bottom"):
            if rng.random() < 0.55:
                tilt = int(rng.normal(0, 1.0))
                level = rng.uniform(0.5, 1.0) * grey
                if edge in ("left", "right"):
                    d = int(rng.uniform(0, 1) * (ml if edge == "left" else mr))
                    cx = d if edge == "left" else W - 1 - d
                    cv2.line(out, (cx, 0), (cx + tilt, H - 1), level, stroke, cv2.LINE_AA)
                else:
                    d = int(rng.uniform(0, 1) * (mt if edge == "top" else mb))
                    cy = d if edge == "top" else H - 1 - d
                    cv2.line(out, (0, cy), (W - 1, cy + tilt), level, stroke, cv2.LINE_AA)
    if rng.random() < 0.08:  # a ruled line through or just under the digits
        cy = int(y - y0 + h * rng.uniform(0.3, 1.1))
        cv2.line(out, (0, cy), (W - 1, cy + int(rng.normal(0, 1.5))), grey, stroke, cv2.LINE_AA)
    if rng.random() < 0.06:  # an underline drawn with the pen
        cy = int(y - y0 + h + height * rng.uniform(0.03, 0.25))
        cv2.line(
            out,
            (int(ml * rng.uniform(0, 1)), cy),
            (W - 1 - int(mr * rng.uniform(0, 1)), cy + int(rng.normal(0, 2))),
            1.0,
            max(1, stroke),
            cv2.LINE_AA,
        )
    return out, (x - x0, y - y0, w, h)


def make_line(bank: DigitBank, rng: np.random.Generator) -> Line:
    """One written number photographed (see the module docstring for what varies)."""
    text, after = make_text(rng)
    before = str(rng.choice(LEADING_MARKS)) if rng.random() < 0.07 else ""
    height = float(rng.uniform(26, 52))  # drawn this large, then shrunk to the photo's size below
    canvas, box, _ = _write(text, after, bank, height, rng, before)
    ink, box = _surroundings(canvas, box, height, bank, rng)
    look: dict[str, float | bool | str] = {"noise": rng.uniform(1, 5)}
    look.update(grey=rng.random() < 0.4, texture=rng.random() < 0.3, light=rng.random() < 0.5)
    look.update(shadow=rng.random() < 0.1, board=rng.random() < 0.04)
    if rng.random() < 0.15:
        look.update(
            pattern=str(rng.choice(["guilloche", "grid", "ruled"])), pitch=height * rng.uniform(0.6, 1.4)
        )
    if rng.random() < 0.3:
        look["blur"] = rng.uniform(0.3, 1.3)
    image = draw.render(ink, rng, look)
    if not look["board"] and rng.random() < 0.35:  # faint pen: pull the picture towards the paper
        paper = float(np.percentile(image, 90))
        image = np.clip(paper - (paper - image.astype(np.float32)) * rng.uniform(0.3, 0.7), 0, 255).astype(
            np.uint8
        )
    # The photo's size: digits 10-40 px high, as in table cells and scanned amounts.
    target = rng.uniform(10, 40) if rng.random() < 0.85 else rng.uniform(40, 70)
    f = min(1.0, target / height)
    if f < 1.0:
        size = (max(1, round(image.shape[1] * f)), max(1, round(image.shape[0] * f)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        box = tuple(int(round(v * f)) for v in box)  # type: ignore[assignment]
    if rng.random() < 0.5:
        ok, enc = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(25, 90))])
        decoded = cv2.imdecode(enc, cv2.IMREAD_GRAYSCALE) if ok else None
        if decoded is not None:
            image = decoded
    return Line(image, text, box, dark_ink=not look["board"])


def make_strip(line: Line, rng: np.random.Generator) -> np.ndarray:
    """The strip the reader is trained on: the line's ink map cut as reading cuts it, margins jittered."""
    ink = ink_map(line.image, dark=line.dark_ink)
    x, y, w, h = line.box
    # The reading path finds the box from the segmented digits: a little wider at times (a mark or a
    # border taken in), never cutting the text.
    grow = [int(round(h * abs(rng.normal(0, 0.06)))) for _ in range(4)]
    box = (x - grow[0], y - grow[1], w + grow[0] + grow[2], h + grow[1] + grow[3])
    if rng.random() < 0.15:  # the whole picture, as when a cell is read as it is
        window = (0, 0, ink.shape[1], ink.shape[0])
    else:
        window = line_window(box, ink.shape, rng.uniform(0.05, 0.4), rng.uniform(0.1, 0.8))
    strip, _ = cut_strip(ink, window)
    return strip
