"""Fine-tuning the digit classifier on one person's 50 digits: CVL writers, scored on their other digits.

    python -m benchmarks.finetune_digits_real [--real DIR] [--data-dir MNIST] [--writers 5]

For each of the first `--writers` writers of CVL's train part (by writer id) with at least 100 digits:
1. five digits of each class (the first in file order) are saved as class folders under --out and given
   to `digitreader.finetune` (which holds out half of them to stop on and to refuse a worse model);
2. the writer's other digits, never shown to fine-tuning, are read in digit mode before (the bundled
   classifier) and after (the tuned one); MNIST test accuracy is taken from the run's own record.
The tuned models go under --out (default runs/finetune-digits-real, which git ignores).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.read_real import DEFAULT_REAL
from digitreader.recognizer import Recognizer

PER_CLASS = 5  # 50 digits per writer


def main(argv: Sequence[str] | None = None) -> None:
    from digitreader.tuning.finetune import finetune

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--real", type=Path, default=DEFAULT_REAL, help="the folder holding cvl-digits/")
    parser.add_argument("--data-dir", type=Path, default=None, help="MNIST folder (replayed digits)")
    parser.add_argument("--writers", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("runs/finetune-digits-real"))
    args = parser.parse_args(argv)
    npz = args.real / "cvl-digits" / "train.npz"
    if not npz.is_file():
        raise SystemExit(f"{npz} not found (pass --real)")
    data = np.load(npz)
    images, labels, writers = data["images"], data["labels"], data["writers"]
    ids = [w for w in sorted(set(writers.tolist())) if (writers == w).sum() >= 100][: args.writers]
    bundled = Recognizer.load(threads=1, sequence=False)
    print("| writer | tuned on | its other digits: before | after | MNIST test before | after | minutes |")
    print("|---|---|---|---|---|---|---|")
    for w in ids:
        idx = np.where(writers == w)[0]
        chosen = [int(i) for k in range(10) for i in idx[labels[idx] == k][:PER_CLASS]]
        folder = args.out / f"writer-{w}"
        for i in chosen:
            (folder / str(labels[i])).mkdir(parents=True, exist_ok=True)
            Image.fromarray(images[i]).save(folder / str(labels[i]) / f"{i}.png")
        result = finetune(folder, args.out / f"writer-{w}.onnx", data_dir=args.data_dir, threads=1,
                          progress=False, force=True)  # fmt: skip
        tuned = Recognizer.load(result.out, threads=1, sequence=False)
        rest = [int(i) for i in idx if int(i) not in set(chosen)]
        right = {
            name: sum(r.read(images[i], mode="digit").text == str(labels[i]) for i in rest)
            for name, r in (("before", bundled), ("after", tuned))
        }
        print(f"| {w} | {len(chosen)} (held out {result.counts['held_out']}) | "
              f"{right['before'] / len(rest):.1%} ({right['before']}/{len(rest)}) | "
              f"{right['after'] / len(rest):.1%} ({right['after']}/{len(rest)}) | "
              f"{result.extra['mnist_test_before']:.2%} | {result.extra['mnist_test_after']:.2%} | "
              f"{result.seconds / 60:.1f} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
