"""Reading real handwritten numbers: photographed logbook cells (meza-cells), beside the segmentation reader.

    python -m benchmarks.read_real [--real DIR] [--limit N] [--mode number] [--model PATH] [--sequence PATH]
    python -m benchmarks.read_real --set cvl [...]   # single digits by other writers: see benchmarks.read_cvl

Reads every cell of ``meza-cells`` (``labels.csv``: path,text) with two readers in the same run:
"segmentation" (digits located and cut, then classified one by one: the reader without a sequence model)
and "digitreader" (the bundled reader: lines read whole by the sequence reader, see `vision.sequence`).
Neither was trained on these pictures. Scores:
- exact: the text as written, separators included, with "," and "." counted as the same mark (these
  writers use both for decimals and thousands);
- digits: the digits alone read exactly (separators ignored);
- CER: character error rate of the text (edit distance / characters of the truth, "," = ".");
- exact by length (digits in the truth).
The reader's thresholds were tuned on the odd rows of labels.csv (the second, fourth, ... cell); the table
shows all cells, the odd rows and the even rows (held out from tuning) separately.
"""

from __future__ import annotations

import argparse
import csv
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from benchmarks import read_cvl
from digitreader.ctc import digits_only, edit_distance
from digitreader.recognizer import Recognizer
from digitreader.vision.load import load_image

REPO = Path(__file__).resolve().parents[1]
DEFAULT_REAL = REPO.parent / "shared" / "data" / "real"
LENGTHS = ("1", "2", "3", "4", "5+")


def load_cells(real: Path, limit: int | None) -> list[tuple[Path, str, int]]:
    """(picture, truth, row number) of meza-cells, in labels.csv order (every other row if `limit`)."""
    folder = real / "meza-cells"
    with open(folder / "labels.csv", newline="", encoding="utf-8") as f:
        rows = [(folder / r["path"], r["text"], i) for i, r in enumerate(csv.DictReader(f))]
    if limit is not None and limit < len(rows):
        step = len(rows) / limit  # spread over the whole file: both halves, every writer's pages
        rows = [rows[int(k * step)] for k in range(limit)]
    return rows


def same_mark(text: str) -> str:
    return text.replace(",", ".")


def _bucket(truth: str) -> str:
    n = len(digits_only(truth))
    return str(n) if n < 5 else "5+"


def score(readings: Sequence[str], cells: Sequence[tuple[Path, str, int]]) -> dict[str, float]:
    """exact, digits, CER and exact by length of `readings` against the cells' truths."""
    totals: dict[str, float] = defaultdict(float)
    by_len: dict[str, list[float]] = defaultdict(list)
    for got, (_, truth, _) in zip(readings, cells, strict=True):
        ok = same_mark(got) == same_mark(truth)
        totals["exact"] += ok
        totals["digits"] += digits_only(got) == digits_only(truth)
        totals["edits"] += edit_distance(same_mark(got), same_mark(truth))
        totals["chars"] += len(truth)
        by_len[_bucket(truth)].append(ok)
    n = max(1, len(cells))
    out = {
        "exact": totals["exact"] / n,
        "digits": totals["digits"] / n,
        "cer": totals["edits"] / totals["chars"],
    }
    out.update({f"len {k}": sum(v) / len(v) for k, v in by_len.items() if v})
    return out


def read_all(
    recognizer: Recognizer, cells: Sequence[tuple[Path, str, int]], mode: str
) -> tuple[list[str], float]:
    """The texts read (lines joined by newlines) and the median ms per cell (one at a time, in process)."""
    texts, times = [], []
    for path, _, _ in cells:
        gray = load_image(path)
        started = time.perf_counter()
        texts.append(recognizer.read(gray, mode).text)
        times.append(time.perf_counter() - started)
    times.sort()
    return texts, 1000 * times[len(times) // 2]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--real", type=Path, default=DEFAULT_REAL, help="the folder holding meza-cells/")
    parser.add_argument("--limit", type=int, default=None, help="read N cells spread over the file")
    parser.add_argument("--mode", default="number", choices=("number", "auto"))
    parser.add_argument("--model", default=None, help="digit classifier .onnx (default: bundled)")
    parser.add_argument("--sequence", default=None, help="sequence reader .onnx (default: bundled)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--set", default="meza", choices=("meza", "cvl"), help="meza-cells or cvl-digits")
    parser.add_argument(
        "--train-limit", type=int, default=read_cvl.TRAIN_LIMIT, help="cvl: train digits read"
    )
    parser.add_argument("--no-mnist", action="store_true", help="cvl: leave out the MNIST reference row")
    args = parser.parse_args(argv)
    if args.set == "cvl":
        return read_cvl.main(args)
    if not (args.real / "meza-cells" / "labels.csv").is_file():
        raise SystemExit(f"{args.real}/meza-cells/labels.csv not found (pass --real)")
    cells = load_cells(args.real, args.limit)
    readers = {
        "segmentation": Recognizer.load(args.model, threads=args.threads, sequence=False),
        "digitreader": Recognizer.load(args.model, threads=args.threads, sequence=args.sequence),
    }
    results = {}
    for name, recognizer in readers.items():
        texts, ms = read_all(recognizer, cells, args.mode)
        results[name] = (texts, ms)
    parts = {
        "all": list(range(len(cells))),
        "odd rows (tuning)": [i for i, c in enumerate(cells) if c[2] % 2 == 1],
        "even rows (held out)": [i for i, c in enumerate(cells) if c[2] % 2 == 0],
    }
    print(f"meza-cells, {args.mode} mode, {len(cells)} cells")
    print(
        "| cells | reader | exact (, = .) | digits only | CER | "
        + " | ".join(f"len {k}" for k in LENGTHS)
        + " | ms/cell |"
    )
    print("|---|---|---|---|---|" + "---|" * len(LENGTHS) + "---|")
    for part, idx in parts.items():
        if not idx:
            continue
        chosen = [cells[i] for i in idx]
        for name, (texts, ms) in results.items():
            s = score([texts[i] for i in idx], chosen)
            lens = " | ".join(f"{s[f'len {k}']:.1%}" if f"len {k}" in s else "-" for k in LENGTHS)
            print(
                f"| {part} ({len(idx)}) | {name} | {s['exact']:.1%} | {s['digits']:.1%} | {s['cer']:.3f} | "
                f"{lens} | {ms:.1f} |"
            )


if __name__ == "__main__":
    main()
