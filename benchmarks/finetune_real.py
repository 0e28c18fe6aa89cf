"""Fine-tuning on real handwriting: the sequence reader tuned on 80% of meza-cells, scored on the other 20%.

    python -m benchmarks.finetune_real [--real DIR] [--data-dir MNIST] [--max-minutes 13] [--out DIR]
    python -m benchmarks.finetune_real --unlabelled ...     # self-training: the tuning rows' labels hidden

1. meza-cells' rows are split once, by a fixed seed: 80% given to `digitreader.finetune` (which holds out
   its own 20% of them to stop on), 20% never shown to it (the test part);
2. the test part is read before (the bundled models) and after (the bundled classifier with the tuned
   sequence reader), number mode, one picture at a time;
With --unlabelled, 20% of the tuning rows (a second fixed split) are given with their labels, only to
measure and stop on, and the pictures of the other 80% are copied into a folder without their labels
(`finetune --unlabelled`): the reader learns only from the pictures it labels itself.
3. scores as `benchmarks.read_real`: exact with "," = ".", digits only, CER, exact by length.
The tuned model and a labels.csv naming the pictures are written under --out (default runs/finetune-real,
which git ignores): the pictures state no licence, so nothing trained on them is committed.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from benchmarks.read_real import DEFAULT_REAL, LENGTHS, load_cells, read_all, score
from digitreader.recognizer import Recognizer

SPLIT_SEED = 2026  # the fixed 80/20 split of meza-cells' rows
TRAIN_FRACTION = 0.8


def split_rows(n: int) -> tuple[list[int], list[int]]:
    """(tuning rows, test rows) of meza-cells: a fixed permutation, the first 80% for tuning."""
    order = np.random.default_rng(SPLIT_SEED).permutation(n)
    cut = int(round(TRAIN_FRACTION * n))
    return sorted(int(i) for i in order[:cut]), sorted(int(i) for i in order[cut:])


def main(argv: Sequence[str] | None = None) -> None:
    from digitreader.tuning.finetune import finetune

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--real", type=Path, default=DEFAULT_REAL, help="the folder holding meza-cells/")
    parser.add_argument("--data-dir", type=Path, default=None, help="MNIST folder (replayed lines)")
    parser.add_argument("--max-minutes", type=float, default=13.0, help="fine-tuning time limit")
    parser.add_argument("--out", type=Path, default=Path("runs/finetune-real"), help="where the model goes")
    parser.add_argument("--limit", type=int, default=None, help="use N cells spread over the file")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--unlabelled", action="store_true", help="self-training: tuning labels hidden")
    args = parser.parse_args(argv)
    if not (args.real / "meza-cells" / "labels.csv").is_file():
        raise SystemExit(f"{args.real}/meza-cells/labels.csv not found (pass --real)")
    cells = load_cells(args.real, args.limit)
    tune_rows, test_rows = split_rows(len(cells))
    args.out.mkdir(parents=True, exist_ok=True)
    labels, unlabelled = args.out / "labels.csv", None
    labelled_rows = tune_rows
    if args.unlabelled:
        order = np.random.default_rng(SPLIT_SEED + 1).permutation(tune_rows)
        cut = int(round(0.2 * len(order)))
        labelled_rows = sorted(int(i) for i in order[:cut])
        unlabelled = args.out / "unlabelled"
        unlabelled.mkdir(exist_ok=True)
        for k, i in enumerate(sorted(int(i) for i in order[cut:])):
            target = unlabelled / f"{k:05d}{cells[i][0].suffix}"  # names that say nothing of the text
            if not target.exists():
                shutil.copyfile(cells[i][0], target)
    with open(labels, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "text"])
        writer.writerows([str(cells[i][0].resolve()), cells[i][1]] for i in labelled_rows)
    test = [cells[i] for i in test_rows]
    started = time.perf_counter()
    result = finetune(
        labels,
        args.out / ("meza-self-trained.onnx" if args.unlabelled else "meza-tuned.onnx"),
        data_dir=args.data_dir,
        max_minutes=args.max_minutes,
        threads=args.threads,
        force=True,  # the test part, not the tool's own held-out part, decides here
        unlabelled=unlabelled,
        say=print,
    )
    tuned_seconds = time.perf_counter() - started
    readers = {
        "bundled": Recognizer.load(threads=args.threads),
        "fine-tuned": Recognizer.load(threads=args.threads, sequence=result.out),
    }
    how = " (self-training)" if args.unlabelled else ""
    print(f"\nfine-tuning on {len(tune_rows)} rows{how}: {result.counts}, {result.steps} steps, stopped: "
          f"{result.stopped}, {tuned_seconds / 60:.1f} min (reading the pictures included)")  # fmt: skip
    print("its own held-out part (strict exact, `,` != `.`):")
    print(result.table)
    print(f"\nmeza-cells test part: {len(test)} rows never shown to fine-tuning (split seed {SPLIT_SEED}), "
          "number mode, whole reader")  # fmt: skip
    print(
        "| sequence reader | exact (, = .) | digits only | CER | "
        + " | ".join(f"len {k}" for k in LENGTHS)
        + " |"
    )
    print("|---|---|---|---|" + "---|" * len(LENGTHS))
    for name, recognizer in readers.items():
        texts, _ = read_all(recognizer, test, "number")
        s = score(texts, test)
        lens = " | ".join(f"{s[f'len {k}']:.1%}" if f"len {k}" in s else "-" for k in LENGTHS)
        print(f"| {name} | {s['exact']:.1%} | {s['digits']:.1%} | {s['cer']:.3f} | {lens} |")
    print(f"\ntotal {(time.perf_counter() - started) / 60:.1f} min; model: {result.out}")


if __name__ == "__main__":
    main()
