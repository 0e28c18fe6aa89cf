"""Reading real single digits by other writers: CVL single digits in digit mode, beside the bundled model.

    python -m benchmarks.read_real --set cvl [--real DIR] [--model PATH] [--train-limit 2000] [--limit N]

CVL single digits (`cvl-digits/{train,valid}.npz`: digits cut from handwritten strings by writers MNIST
never saw, size-normalised to 28x28, dark ink on light paper) are read one by one with
`Recognizer.read(image, "digit")`, as a user reads a picture of one digit. Neither model learned from them.
Rows, per model (the bundled one, and `--model` beside it when given):
- valid: every digit of the valid split (7,000; 60 writers), as given;
- train: the train split (67 writers) as a second check, `--train-limit` digits spread evenly over it
  (default 2,000: every 3.5th);
- the tight-crop comparison on the valid split: each digit cut to its ink box (anti-aliased rim
  included), as given and inside an 8-px white margin; and the same cut scaled to 32 px on its longer
  side and binarised (the 32x32 bitmaps tutorials cut from forms), as given and with the margin.
`--limit N` reads N valid digits spread evenly (a quick run). MNIST test digits read the same way
(white on black, as they come) are shown for reference when the MNIST folder is found.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np

from digitreader.recognizer import Recognizer

REPO = Path(__file__).resolve().parents[1]
TRAIN_LIMIT = 2000
MARGIN = 8  # px of white added around a tight crop
INK_BELOW = 250  # a pixel darker than this is ink (CVL's paper is 255; its strokes fade out in grey)
BINARY_BELOW = 192  # binarised: black below this (CVL's strokes are faint; at 128 many break apart)


def load_split(real: Path, split: str, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 28, 28) uint8 and labels of a CVL split; `limit` digits spread evenly over it."""
    with np.load(real / "cvl-digits" / f"{split}.npz") as data:
        images, labels = data["images"], data["labels"]
    if limit is not None and limit < len(images):
        pick = (np.arange(limit) * (len(images) / limit)).astype(int)
        images, labels = images[pick], labels[pick]
    return images, labels.astype(int)


def tight(image: np.ndarray) -> np.ndarray:
    """A dark-ink picture cut to its ink box (at least 4x4: the reader's smallest picture)."""
    ys, xs = np.nonzero(image < INK_BELOW)
    if ys.size == 0:
        return image
    cut = image[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    grow_y, grow_x = max(0, 4 - cut.shape[0]), max(0, 4 - cut.shape[1])
    return white_margin(cut, (grow_y + 1) // 2, (grow_x + 1) // 2) if grow_y or grow_x else cut


def white_margin(image: np.ndarray, y: int, x: int | None = None) -> np.ndarray:
    x = y if x is None else x
    return cv2.copyMakeBorder(image, y, y, x, x, cv2.BORDER_CONSTANT, value=255)


def bitmap32(image: np.ndarray) -> np.ndarray:
    """A tight cut scaled to 32 px on its longer side (aspect kept) and binarised."""
    cut = tight(image)
    scale = 32 / max(cut.shape)
    size = (max(4, round(cut.shape[1] * scale)), max(4, round(cut.shape[0] * scale)))
    scaled = cv2.resize(cut, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    return np.where(scaled < BINARY_BELOW, 0, 255).astype(np.uint8)


VARIANTS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "tight": tight,
    "tight + 8 px margin": lambda g: white_margin(tight(g), MARGIN),
    "tight 32 px binary": bitmap32,
    "tight 32 px binary + 8 px margin": lambda g: white_margin(bitmap32(g), MARGIN),
}


def accuracy(recognizer: Recognizer, images: Sequence[np.ndarray], labels: np.ndarray) -> tuple[float, float]:
    """Fraction read as their label in digit mode, and the median ms per digit."""
    right, times = 0, []
    for image, label in zip(images, labels, strict=True):
        started = time.perf_counter()
        right += recognizer.read(image, "digit").digits_text == str(label)
        times.append(time.perf_counter() - started)
    return right / max(1, len(labels)), 1000 * float(np.median(times))


def _mnist_dir() -> Path | None:
    for candidate in (os.environ.get("DIGITREADER_DATA"), REPO.parent / "shared" / "data" / "mnist"):
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


def main(args: argparse.Namespace) -> None:
    if not (args.real / "cvl-digits" / "valid.npz").is_file():
        raise SystemExit(f"{args.real}/cvl-digits/valid.npz not found (pass --real)")
    valid = load_split(args.real, "valid", args.limit)
    train = load_split(args.real, "train", args.train_limit)
    rows: list[tuple[str, str, list[np.ndarray], np.ndarray]] = [
        ("valid", "as given (28x28)", list(valid[0]), valid[1]),
        ("train", "as given (28x28)", list(train[0]), train[1]),
    ]
    rows += [("valid", name, [make(g) for g in valid[0]], valid[1]) for name, make in VARIANTS.items()]
    mnist = _mnist_dir()
    if mnist is not None and not args.no_mnist:
        from digitreader.data.mnist import load_mnist

        digits, truths = load_mnist(mnist).split("test")
        rows.append(("MNIST test", "as given (white on black)", list(digits), truths))
    readers = {"bundled": Recognizer.load(None, threads=args.threads)}
    if args.model is not None:
        readers[str(args.model)] = Recognizer.load(args.model, threads=args.threads)
    print(f"CVL single digits, digit mode; train: {len(train[1])} of its digits spread evenly")
    print("| split | pictures | n | " + " | ".join(readers) + " | ms/digit |")
    print("|---|---|---|" + "---|" * len(readers) + "---|")
    for split, name, images, labels in rows:
        scores = [accuracy(r, images, labels) for r in readers.values()]
        cells = " | ".join(f"{a:.2%}" for a, _ in scores)
        print(f"| {split} | {name} | {len(labels)} | {cells} | {scores[0][1]:.1f} |")
