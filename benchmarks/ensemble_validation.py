"""Validation accuracy of candidate ensembles, so that one is chosen without looking at the test split.

    python -m benchmarks.ensemble_validation NAME=RUN[,RUN...] [NAME=RUN[,RUN...] ...] [--data-dir DIR]

Each candidate is a name and the run folders (written by `digits train` on MNIST) whose `best.pt` it
averages. Every run is scored once on MNIST's validation split (the 5,000 training images that `digits
train` holds out; EMA weights where kept) and its probabilities are reused by every candidate that names
it. It prints each run's validation accuracy (the same as its run recorded) and each candidate's. The test
split is not read: score the chosen candidate once with `python -m benchmarks.model_table ... --ensemble`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from digitreader.errors import DigitreaderError


def parse_candidate(text: str) -> tuple[str, list[Path]]:
    """``"NAME=RUN,RUN"`` -> ``("NAME", [RUN, RUN])``."""
    name, sep, runs = text.partition("=")
    folders = [Path(r) for r in runs.split(",") if r.strip()]
    if not sep or not name.strip() or not folders:
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME=RUN[,RUN...]")
    return name.strip(), folders


def validation_probabilities(folder: Path, images: np.ndarray) -> tuple[str, int, np.ndarray]:
    """The run's model name, seed and softmax probabilities ``(N, 10)`` on `images` (uint8 N x 28 x 28)."""
    import torch

    from digitreader.training.checkpoint import build_model_from_checkpoint, load_checkpoint
    from digitreader.training.evaluate import predict_logits

    ckpt = load_checkpoint(folder / "best.pt")
    logits = predict_logits(build_model_from_checkpoint(ckpt), torch.from_numpy(images))
    seed = int((ckpt.state.get("run") or {}).get("seed", -1))
    return ckpt.model_name, seed, torch.softmax(logits, dim=1).numpy()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.ensemble_validation", description=__doc__.split("\n")[0]
    )
    parser.add_argument("candidates", nargs="+", type=parse_candidate, help="NAME=RUN[,RUN...]")
    parser.add_argument("--data-dir", type=Path, help="MNIST folder (default: $DIGITREADER_DATA)")
    args = parser.parse_args(argv)
    try:
        return table(args.candidates, args.data_dir)
    except DigitreaderError as exc:  # a missing run, checkpoint or MNIST file: one line, not a traceback
        sys.exit(f"ensemble_validation: {exc}")


def table(candidates: list[tuple[str, list[Path]]], data_dir: Path | None) -> int:
    from digitreader.data.mnist import load_mnist

    data = load_mnist(data_dir)
    images, labels = data.val_images, data.val_labels
    runs: dict[Path, tuple[str, int, np.ndarray]] = {}
    for _, folders in candidates:
        for folder in folders:
            if folder not in runs:
                runs[folder] = validation_probabilities(folder, images)

    def right(probs: np.ndarray) -> int:
        return int((probs.argmax(axis=1) == labels).sum())

    print(f"MNIST validation split: {len(labels):,} images held out of training\n")
    print("| run | model | seed | validation |\n|---|---|---|---|")
    for folder, (model, seed, probs) in runs.items():
        print(f"| {folder} | `{model}` | {seed} | {100 * right(probs) / len(labels):.2f}% |")
    print("\n| candidate | runs | validation | errors |\n|---|---|---|---|")
    for name, folders in candidates:
        n = right(np.mean([runs[f][2] for f in folders], axis=0))
        print(f"| {name} | {len(folders)} | {100 * n / len(labels):.2f}% | {len(labels) - n} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
