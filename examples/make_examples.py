"""Make the example images in this folder from MNIST *test* digits (seeded: the same files every run).

    python examples/make_examples.py [--data-dir DIR]

Each example names what it holds; `EXAMPLES` below is the list (file, expected reading, how it was made)
and examples/README.md repeats it. The digit instances are drawn at random (seeded) from the MNIST test
images with the wanted labels -- never chosen by whether the model reads them -- and rendered with the
surfaces of `digitreader.data.synth` (paper, lighting, shadows, ruled/grid/guilloche patterns, chalkboard,
blur, noise, JPEG). The drawing-canvas example is a transparent PNG, as the web page's canvas exports.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from digitreader.data import synth
from digitreader.data.render import affine, crop, glyph, paste, punct, render, to_colour

HERE = Path(__file__).resolve().parent
SEED = 2024


@dataclass(frozen=True)
class Example:
    """One example file: its expected reading and how to make it."""

    file: str
    text: str  # the expected reading ("\n" between lines)
    what: str  # one line for the README
    look: dict[str, float | bool | str] = field(default_factory=dict)
    height: float = 48.0  # digit height in pixels
    colour: bool = False
    canvas: bool = False


EXAMPLES = (
    Example(
        "digit_7_photo.jpg",
        "7",
        "one digit photographed on paper, uneven light and a shadow",
        {"light": True, "shadow": True, "texture": True, "noise": 3.0, "blur": 0.8},
        height=110,
    ),
    Example(
        "digit_3_paper.jpg",
        "3",
        "one digit on textured paper, slight blur",
        {"texture": True, "noise": 2.0, "blur": 1.0},
        height=90,
    ),
    Example(
        "digit_4_blue_ink.jpg",
        "4",
        "one digit in blue ink on cream paper (colour photo)",
        {"light": True, "texture": True, "noise": 2.0},
        height=120,
        colour=True,
    ),
    Example(
        "digit_5_chalkboard.jpg",
        "5",
        "one chalk digit on a blackboard (light ink on dark)",
        {"board": True, "noise": 3.0},
        height=130,
    ),
    Example(
        "digit_2_grey_paper.png",
        "2",
        "one digit on grey paper, faint pen",
        {"grey": True, "noise": 2.0},
        height=70,
    ),
    Example("digit_0_canvas.png", "0", "one digit drawn on a transparent canvas (RGBA PNG)", canvas=True),
    Example(
        "cheque_4096.jpg",
        "4096",
        "a cheque amount on guilloche security paper (colour)",
        {"pattern": "guilloche", "pitch": 40.0, "noise": 2.0, "light": True},
        height=44,
        colour=True,
    ),
    Example(
        "number_1984_ruled.jpg",
        "1984",
        "a number on ruled notebook paper",
        {"pattern": "ruled", "pitch": 56.0, "texture": True, "noise": 2.0},
        height=46,
    ),
    Example(
        "number_250_grid.png",
        "250",
        "a number on squared (grid) paper",
        {"pattern": "grid", "pitch": 40.0, "noise": 1.5},
        height=40,
    ),
    Example(
        "number_31415_chalkboard.jpg",
        "31415",
        "a number in chalk on a blackboard",
        {"board": True, "noise": 3.0},
        height=60,
    ),
    Example(
        "number_5550137_photo.jpg",
        "5550137",
        "a phone number photographed with a shadow and blur",
        {"light": True, "shadow": True, "texture": True, "noise": 4.0, "blur": 0.9},
        height=40,
    ),
    Example("lines_12_345.png", "12\n345", "two lines of digits on plain paper", {"noise": 2.0}, height=44),
    Example(
        "decimal_10.4_grey.jpg",
        "10.4",
        "a decimal number on grey paper, faint pen",
        {"grey": True, "texture": True, "noise": 2.5},
        height=38,
    ),
    Example(
        "amount_1,250_cheque.jpg",
        "1,250",
        "a cheque amount with a thousands comma on guilloche paper (colour)",
        {"pattern": "guilloche", "pitch": 36.0, "noise": 2.0, "light": True},
        height=40,
        colour=True,
    ),
)


def pick_digits(
    text: str, images: np.ndarray, labels: np.ndarray, rng: np.random.Generator
) -> list[np.ndarray]:
    """A random MNIST test image of each digit in `text` (newlines and separators skipped)."""
    return [images[rng.choice(np.flatnonzero(labels == int(c)))] for c in text if c.isdigit()]


def compose(text: str, digits: list[np.ndarray], height: float, rng: np.random.Generator) -> np.ndarray:
    """Ink coverage (float32 [0, 1]) of `text` written in lines, with natural spacing, drift and slant;
    separators (".", ",", "-") drawn with the pen where the text has them."""
    slant = rng.uniform(-0.1, 0.15)
    rows: list[np.ndarray] = []
    queue = iter(digits)
    for line in text.split("\n"):
        glyphs = [
            affine(crop(glyph(next(queue), height * rng.uniform(0.92, 1.08), rng)), rng.uniform(-4, 4), slant)
            if ch.isdigit()
            else punct(ch, height, height * 0.1)  # a separator: ".", "," or "-"
            for ch in line
        ]
        width = sum(g.shape[1] for g in glyphs) + int(height * 0.45) * (len(glyphs) + 1) + int(height)
        row = np.zeros((int(height * 1.9), width), np.float32)
        x = int(height * 0.5)
        for ch, g in zip(line, glyphs, strict=True):
            if ch == "-":
                y = int(height * 1.0)
            elif ch in ".,":  # on the baseline (a comma reaches below it)
                y = int(height * 1.5) - int(g.shape[0] * (0.4 if ch == "," else 0.9))
            else:
                y = int(height * 1.5) - g.shape[0] + int(rng.normal(0, height * 0.03))
            paste(row, g, x, y)
            x += g.shape[1] + int(height * rng.uniform(0.15, 0.45))
        rows.append(row)
    width = max(r.shape[1] for r in rows)
    margin = int(height * 0.8)
    canvas = np.zeros((sum(r.shape[0] for r in rows) + 2 * margin, width + 2 * margin), np.float32)
    y = margin
    for row in rows:
        paste(canvas, row, margin + int(rng.integers(0, max(1, width - row.shape[1] + 1))), y)
        y += row.shape[0]
    return canvas


def canvas_drawing(digit: np.ndarray) -> Image.Image:
    """A digit as the web page's canvas draws it: a thick round black pen on a transparent 280x280 canvas."""
    up = cv2.resize(digit, (200, 200), interpolation=cv2.INTER_CUBIC).astype(np.float32) / 255
    alpha = np.clip((up - 0.35) * 6, 0, 1)
    alpha = cv2.dilate(alpha, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9)))
    rgba = np.zeros((280, 280, 4), np.uint8)
    rgba[40:240, 40:240, 3] = np.clip(alpha * 255, 0, 255).astype(np.uint8)  # black ink, alpha = coverage
    return Image.fromarray(rgba, "RGBA")


def make(example: Example, images: np.ndarray, labels: np.ndarray, index: int) -> Image.Image:
    rng = np.random.default_rng([SEED, index])
    digits = pick_digits(example.text, images, labels, rng)
    if example.canvas:
        return canvas_drawing(digits[0])
    ink = compose(example.text, digits, example.height, rng)
    gray = render(ink, rng, example.look)
    return Image.fromarray(to_colour(gray, rng) if example.colour else gray)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="MNIST folder (default: $DIGITREADER_DATA or the user cache)")
    args = parser.parse_args()
    images, labels = synth.load_test_digits(args.data_dir)
    for i, example in enumerate(EXAMPLES):
        path = HERE / example.file
        image = make(example, images, labels, i)
        if path.suffix == ".jpg":
            image.convert("RGB").save(path, quality=82, optimize=True)
        else:
            image.save(path, optimize=True)
        print(f"{path.name:32s} {image.size[0]}x{image.size[1]:<5d} {path.stat().st_size / 1024:6.1f} KiB")


if __name__ == "__main__":
    main()
