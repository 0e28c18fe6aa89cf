"""The README's results table: MNIST test accuracy over seeds, training time and reading throughput per model.

    python -m benchmarks.model_table RUN_DIR [RUN_DIR ...] [--ensemble RUN_DIR ...] [--ensemble-out E.onnx]

Each RUN_DIR is a folder written by `digits train` (its `best.pt` and `metrics.jsonl`); runs of the same
model are grouped. For each model it prints the parameters, the MNIST test accuracy of every seed (scored
once, by `digits train`, on the epoch chosen by validation) with their mean and spread, the training wall
and CPU time per run, and the classifier's reading throughput: digits per second through ONNX Runtime
(1 thread, batches of 64 MNIST test digits, best of 3; the first run's `best.pt` is exported to a
temporary file for it). `--ensemble` exports those runs' `best.pt` as one ONNX graph averaging their
probabilities (to `--ensemble-out`, kept; default a temporary file), scores it on the MNIST test split
through ONNX Runtime, and adds its row.

Nothing here trains or tunes: it reads what the runs recorded and measures the exported models.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from digitreader.errors import DigitreaderError

THROUGHPUT_BATCH = 64


@dataclass(frozen=True)
class Run:
    folder: Path
    model: str
    seed: int
    params: int
    test_accuracy: float
    wall_s: float
    cpu_s: float


def load_run(folder: Path) -> Run:
    from digitreader.training.checkpoint import build_model_from_checkpoint, load_checkpoint

    ckpt = load_checkpoint(folder / "best.pt")
    if "test_accuracy" not in ckpt.metrics:
        sys.exit(f"model_table: {folder}/best.pt has no test accuracy (did its run finish?)")
    epochs = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines() if line]
    epochs = [e for e in epochs if "epoch" in e and "seconds" in e]
    model = build_model_from_checkpoint(ckpt)
    return Run(
        folder=folder,
        model=ckpt.model_name,
        seed=int((ckpt.state.get("run") or {}).get("seed", -1)),
        params=sum(p.numel() for p in model.parameters()),
        test_accuracy=float(ckpt.metrics["test_accuracy"]),
        wall_s=sum(float(e["seconds"]) for e in epochs),
        cpu_s=sum(float(e.get("cpu_seconds", 0.0)) for e in epochs),
    )


def throughput(onnx_path: Path, digits: np.ndarray) -> float:
    """Digits per second of the ONNX model alone, one ORT thread, best of 3 passes over `digits`."""
    from digitreader.onnx_engine import OnnxEngine

    engine = OnnxEngine.load(onnx_path, threads=1)
    batches = [digits[i : i + THROUGHPUT_BATCH] for i in range(0, len(digits), THROUGHPUT_BATCH)]
    engine.classify(batches[0])
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for batch in batches:
            engine.classify(batch)
        best = min(best, time.perf_counter() - start)
    return len(digits) / best


def export_first(run: Run, out: Path, digits: np.ndarray) -> Path:
    from digitreader.training.checkpoint import build_model_from_checkpoint, load_checkpoint
    from digitreader.training.export import export_model

    model = build_model_from_checkpoint(load_checkpoint(run.folder / "best.pt")).eval()
    export_model(model, out, {"model": run.model}, images=digits[:256], check_data="MNIST test digits")
    return out


def minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 60 else f"{seconds:.0f} s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.model_table", description=__doc__.split("\n")[0]
    )
    parser.add_argument("runs", nargs="+", type=Path, help="run folders written by `digits train`")
    parser.add_argument("--ensemble", nargs="+", type=Path, default=[], help="run folders to average")
    parser.add_argument("--ensemble-out", type=Path, help="where to keep the ensemble's ONNX file")
    parser.add_argument("--data-dir", type=Path, help="MNIST folder (default: $DIGITREADER_DATA)")
    parser.add_argument("--digits", type=int, default=2048, help="test digits timed for throughput")
    args = parser.parse_args(argv)
    try:
        return table(args)
    except DigitreaderError as exc:  # a missing run, checkpoint or MNIST file: one line, not a traceback
        sys.exit(f"model_table: {exc}")


def table(args: argparse.Namespace) -> int:
    from digitreader.data.synth import load_test_digits

    groups: dict[str, list[Run]] = {}
    for folder in args.runs:
        run = load_run(folder)
        groups.setdefault(run.model, []).append(run)
    images, labels = load_test_digits(args.data_dir)
    timed = images[: args.digits]

    columns = ["model", "params", "seeds", "MNIST test per seed", "mean ± sd", "train wall / CPU per run"]
    print("| " + " | ".join([*columns, "digits/s (ORT, 1 thread)"]) + " |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for model, runs in groups.items():
            accs = [r.test_accuracy * 100 for r in runs]
            spread = f" ± {statistics.stdev(accs):.2f}" if len(accs) > 1 else ""
            speed = throughput(export_first(runs[0], Path(tmp) / f"{model}.onnx", images), timed)
            wall = statistics.mean(r.wall_s for r in runs)
            cpu = statistics.mean(r.cpu_s for r in runs)
            print(
                f"| `{model}` | {runs[0].params:,} | {', '.join(str(r.seed) for r in runs)} |"
                f" {', '.join(f'{a:.2f}%' for a in accs)} | **{statistics.mean(accs):.2f}%**{spread} |"
                f" {minutes(wall)} / {minutes(cpu)} | {speed:,.0f} |"
            )
        if args.ensemble:
            from digitreader.onnx_engine import OnnxEngine
            from digitreader.training.ensemble import export_ensemble_onnx

            members = [load_run(folder) for folder in args.ensemble]
            out = args.ensemble_out or Path(tmp) / "ensemble.onnx"
            export_ensemble_onnx([m.folder / "best.pt" for m in members], out, data_dir=args.data_dir)
            probs = OnnxEngine.load(out).classify(images)
            accuracy = float((probs.argmax(1) == labels).mean()) * 100
            names = " + ".join(f"`{m.model}` seed {m.seed}" for m in members)
            params = sum(m.params for m in members)
            print(
                f"| ensemble: {names} | {params:,} | — | {accuracy:.2f}% | **{accuracy:.2f}%** |"
                f" (its members') | {throughput(out, timed):,.0f} |"
            )
            print(f"\nensemble written to {out}" if args.ensemble_out else "")
    print(f"\nthroughput: {len(timed)} MNIST test digits in batches of {THROUGHPUT_BATCH}, best of 3")
    return 0


if __name__ == "__main__":
    sys.exit(main())
