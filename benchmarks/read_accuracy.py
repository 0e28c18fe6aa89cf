"""Reading accuracy on realistic synthetic pictures (MNIST *test* digits only), per style, beside a baseline.

    python -m benchmarks.read_accuracy [--model PATH] [--singles 1300] [--numbers 600] [--seed 1000]

Single digits are read in "digit" and in "auto" mode; numbers in "number" and in "auto" mode. Baselines, side
by side: "naive" resizes the whole picture to 28x28 (inverted when its mean is light, the least a user
would try); for numbers, "naive" cuts the picture into as many equal columns as the number truly has
digits (the fixed grid that was used before) and resizes each. Number scores: digit accuracy =
1 - edit distance / digits (over all samples), exact = the whole text read right, lines included.
Seeds 0-999 were used to tune the pipeline; report on seeds from 1000 (the default).
"""

from __future__ import annotations

import argparse
import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np

from digitreader.ctc import edit_distance
from digitreader.data.synth import NUMBER_STYLES, SINGLE_STYLES, Sample, make_numbers, make_single_digits
from digitreader.recognizer import Recognizer
from digitreader.vision.load import load_image
from digitreader.vision.pipeline import find_digits

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = REPO / "src" / "digitreader" / "weights" / "default.onnx"

Classify = Callable[[np.ndarray], np.ndarray]


def _default_data_dir() -> Path | None:
    """$DIGITREADER_DATA, else ../shared/data/mnist beside the checkout, else None (the library's default)."""
    for candidate in (os.environ.get("DIGITREADER_DATA"), REPO.parent / "shared" / "data" / "mnist"):
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


def read_text(gray: np.ndarray, mode: str, recognizer: Recognizer) -> str:
    """The digits the product reads (`Reading.digits_text`: the realistic set's truth has no separators)."""
    return recognizer.read(gray, mode).digits_text


def naive_single(gray: np.ndarray, classify: Classify) -> str:
    small = cv2.resize(gray, (28, 28), interpolation=cv2.INTER_AREA)
    if small.mean() > 127:
        small = 255 - small
    return str(int(classify(small[None]).argmax()))


def naive_number(gray: np.ndarray, truth: str, classify: Classify) -> str:
    """Fixed grid: the picture cut into equal rows (lines) and columns (the true digit counts)."""
    rows = truth.split("\n")
    bands = np.array_split(np.arange(gray.shape[0]), len(rows))
    out = []
    for band, row in zip(bands, rows, strict=True):
        cols = np.array_split(np.arange(gray.shape[1]), len(row))
        cells = [gray[band[0] : band[-1] + 1, c[0] : c[-1] + 1] for c in cols]
        small = np.stack([cv2.resize(c, (28, 28), interpolation=cv2.INTER_AREA) for c in cells])
        if gray.mean() > 127:
            small = 255 - small
        out.append("".join(str(int(p.argmax())) for p in classify(small)))
    return "\n".join(out)


def score_singles(samples: list[Sample], recognizer: Recognizer) -> dict[str, dict[str, list[float]]]:
    """Per style: lists of 0/1 for each reader, plus segmentation milliseconds."""
    classify = recognizer.classify  # for the baseline: the same shift-averaged classifier the product uses
    res: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for s in samples:
        gray = load_image(s.image)
        row = res[s.style]
        row["naive"].append(float(naive_single(gray, classify) == s.text))
        t = time.process_time()
        find_digits(gray, "digit", None)
        row["ms"].append(1000 * (time.process_time() - t))
        for mode in ("digit", "auto"):
            row[mode].append(float(read_text(gray, mode, recognizer) == s.text))
    return res


def score_numbers(samples: list[Sample], recognizer: Recognizer) -> dict[str, dict[str, list[float]]]:
    """Per style: digit-accuracy numerators/denominators and exact 0/1 for each reader, plus milliseconds."""
    classify = recognizer.classify
    res: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for s in samples:
        gray = load_image(s.image)
        row = res[s.style]
        n = len(s.text.replace("\n", ""))
        row["n"].append(n)
        naive = naive_number(gray, s.text, classify)
        row["naive_edits"].append(edit_distance(naive, s.text))
        row["naive_exact"].append(float(naive == s.text))
        t = time.process_time()
        find_digits(gray, "number", None)
        row["ms"].append(1000 * (time.process_time() - t))
        for mode in ("number", "auto"):
            text = read_text(gray, mode, recognizer)
            row[f"{mode}_edits"].append(edit_distance(text, s.text))
            row[f"{mode}_exact"].append(float(text == s.text))
    return res


def _pct(x: float | np.floating) -> str:
    return f"{100 * x:6.1f}"


def _rows_and_overall(
    res: dict[str, dict[str, list[float]]], styles: Sequence[str]
) -> Iterator[tuple[str, dict[str, list[float]]]]:
    """Each style's results that exist, in order, then "overall": all of them pooled."""
    total: dict[str, list[float]] = defaultdict(list)
    for style in styles:
        row = res.get(style)
        if row:
            for k, v in row.items():
                total[k] += v
            yield style, row
    if total:
        yield "overall", total


def singles_table(res: dict[str, dict[str, list[float]]]) -> str:
    lines = [f"{'single digit style':<18} {'n':>5} {'naive':>6} {'digit':>6} {'auto':>6} {'ms':>5}"]
    for style, row in _rows_and_overall(res, SINGLE_STYLES):
        lines.append(
            f"{style:<18} {len(row['digit']):>5} {_pct(np.mean(row['naive']))} {_pct(np.mean(row['digit']))}"
            f" {_pct(np.mean(row['auto']))} {np.median(row['ms']):5.1f}"
        )
    return "\n".join(lines)


def numbers_table(res: dict[str, dict[str, list[float]]]) -> str:
    acc_head, exact_head = "digit accuracy: naive number   auto", "exact: naive number   auto"
    head = f"{'number style':<14} {'n':>4} {acc_head:>36} {exact_head:>28}"
    lines = [head + f" {'ms':>5}"]
    for style, row in _rows_and_overall(res, NUMBER_STYLES):
        n = float(np.sum(row["n"]))
        acc = [max(0.0, 1 - np.sum(row[f"{m}_edits"]) / n) for m in ("naive", "number", "auto")]
        exact = [np.mean(row[f"{m}_exact"]) for m in ("naive", "number", "auto")]
        lines.append(
            f"{style:<14} {len(row['n']):>4} {'':>15}{''.join(_pct(a) + ' ' for a in acc)}"
            f"{'':>7}{''.join(_pct(e) + ' ' for e in exact)}{np.median(row['ms']):5.1f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.read_accuracy", description=__doc__.split("\n")[0])
    p.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="ONNX model (default: the bundled one)")
    p.add_argument("--singles", type=int, default=1300, help="single-digit pictures (default 100 per style)")
    p.add_argument("--numbers", type=int, default=600, help="number pictures (default 50 per style)")
    p.add_argument("--seed", type=int, default=1000, help="first seed; 0-999 were used for tuning")
    p.add_argument("--data-dir", type=Path, default=_default_data_dir(), help="MNIST folder (t10k files)")
    args = p.parse_args(argv)
    if not args.model.is_file():
        p.error(f"{args.model}: model not found (pass --model PATH)")
    cv2.setNumThreads(1)
    recognizer = Recognizer.load(args.model, threads=1)
    t0 = time.perf_counter()
    singles = make_single_digits(args.singles, args.seed, data_dir=args.data_dir)
    numbers = make_numbers(args.numbers, args.seed, data_dir=args.data_dir)
    print(f"model {args.model}; seed {args.seed}; {len(singles)} singles, {len(numbers)} numbers")
    print("accuracy in %; ms = median CPU time of find_digits per picture (one thread, no classifier)\n")
    print(singles_table(score_singles(singles, recognizer)))
    print()
    print(numbers_table(score_numbers(numbers, recognizer)))
    print(f"\n({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
