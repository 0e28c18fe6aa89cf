"""Training speed: wall time to 99.0 / 99.2 / 99.5% MNIST test accuracy, ours against a reference recipe.

    python -m benchmarks.train_speed [--threads 2] [--reference-epochs 14] [--reference-budget 600]
                                     [--models fast,fast-aug-lite,fast-aug] [--seed 0] [--data-dir DIR]

Runs, in this order and in this process (same machine state, same thread count, same data):

1. REFERENCE — the canonical PyTorch example recipe (github.com/pytorch/examples, mnist/main.py),
   reimplemented here: conv 3x3 32 -> conv 3x3 64 -> max-pool -> dropout 0.25 -> fc 128 -> dropout 0.5 ->
   fc 10, log-softmax + NLL, Adadelta lr 1.0, StepLR gamma 0.7 per epoch, batch 64, no augmentation. It
   runs until it reaches 99.2%, or `--reference-epochs` epochs, or (once past 99.0%) `--reference-budget`
   seconds of training, whichever comes first.
2. OURS — `digits train --model fast`, `--model fast-aug-lite` and `--model fast-aug` (the registered
   recipes, through the real training loop: `fast` aims at 99.2%, `fast-aug-lite` at 99.5% inside 60 s,
   `fast-aug` at 99.5% with more room).

Same data for all: the 55,000-image training split (the example trains on all 60,000), held in memory as
one tensor (the example's DataLoader would cost it more; that cost is not counted). Test accuracy
(10,000 images) is taken at the end of every epoch; evaluation, checkpoint writing and start-up are NOT in
the times: only the training steps are timed (wall clock and this process's CPU time). The machine's load
average is printed before and after: on a shared machine the absolute times stretch, the ratio between
runs of the same invocation is the figure to compare.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from digitreader.training.checkpoint import build_model_from_checkpoint, load_checkpoint
from digitreader.training.evaluate import accuracy_and_loss
from digitreader.training.splits import Part, as_input, load_splits
from digitreader.training.train import TrainConfig, train

THRESHOLDS = (0.990, 0.992, 0.995)
REPO = Path(__file__).resolve().parents[1]


def find_mnist(given: str | None) -> str | None:
    """--data-dir, else $DIGITREADER_DATA, else ../shared/data/mnist beside the checkout (like the tests)."""
    for candidate in (given, os.environ.get("DIGITREADER_DATA"), REPO.parent / "shared" / "data" / "mnist"):
        if candidate and (Path(candidate) / "t10k-labels-idx1-ubyte.gz").exists():
            return str(candidate)
    return given  # the library's default place (downloads there when missing)


@dataclass(frozen=True)
class Point:
    """The state after one epoch: cumulative training time (wall, CPU) and test accuracy."""

    epoch: int
    wall: float
    cpu: float
    accuracy: float


@dataclass
class Curve:
    name: str
    recipe: str
    points: list[Point] = field(default_factory=list)

    def first(self, threshold: float) -> Point | None:
        """The first epoch end at or above `threshold`."""
        return next((p for p in self.points if p.accuracy >= threshold), None)


class ReferenceNet(nn.Module):
    """pytorch/examples mnist/main.py `Net`, layer for layer."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(self.dropout1(x), 1)
        x = self.dropout2(F.relu(self.fc1(x)))
        return F.log_softmax(self.fc2(x), dim=1)


def run_reference(train_part: Part, test: Part, max_epochs: int, budget: float, seed: int) -> Curve:
    """The example's recipe; its own normalisation (0.1307, 0.3081) applied once, up front."""
    curve = Curve("reference (pytorch/examples mnist)", "Adadelta lr 1.0, StepLR 0.7/epoch, batch 64")
    torch.manual_seed(seed)
    model = ReferenceNet()
    optimizer = torch.optim.Adadelta(model.parameters(), lr=1.0)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7)
    images = (as_input(train_part.images) - 0.1307) / 0.3081
    test_images = (as_input(test.images) - 0.1307) / 0.3081
    generator = torch.Generator().manual_seed(seed)
    wall = cpu = 0.0
    for epoch in range(1, max_epochs + 1):
        model.train()
        started, cpu_started = time.perf_counter(), time.process_time()
        perm = torch.randperm(len(images), generator=generator)
        for i in range(0, len(perm), 64):  # the example keeps the last, partial batch
            idx = perm[i : i + 64]
            loss = F.nll_loss(model(images[idx]), train_part.labels[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        scheduler.step()
        wall += time.perf_counter() - started
        cpu += time.process_time() - cpu_started
        curve.points.append(Point(epoch, wall, cpu, _accuracy(model, test_images, test.labels)))
        _progress(curve)
        if curve.first(0.992) or (curve.first(0.990) and wall >= budget):
            break
    return curve


@torch.no_grad()
def _accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    model.eval()
    logits = torch.cat([model(images[i : i + 1000]) for i in range(0, len(images), 1000)])
    return float((logits.argmax(1) == labels).float().mean())


def run_ours(name: str, test: Part, out: Path, threads: int, seed: int, data_dir: str | None) -> Curve:
    """`digits train --model NAME`; each epoch's checkpoint is scored on the test split here."""
    from digitreader.models.recipe import describe
    from digitreader.models.registry import get_spec

    curve = Curve(f"ours: {name}", describe(get_spec(name).recipe))
    config = TrainConfig(
        model=name,
        out=out,
        seed=seed,
        data_dir=Path(data_dir) if data_dir else None,
        threads=threads,
        device="cpu",
        progress=False,
        tensorboard=False,
    )
    train(config)
    history = load_checkpoint(out / "last.pt").metrics["history"]
    wall = cpu = 0.0
    for row in history:
        wall += row["seconds"]
        cpu += row["cpu_seconds"]
        model = build_model_from_checkpoint(load_checkpoint(out / f"checkpoint-e{row['epoch']:03d}.pt"))
        curve.points.append(Point(row["epoch"], wall, cpu, accuracy_and_loss(model, test)[0]))
        _progress(curve)
    return curve


def _progress(curve: Curve) -> None:
    p = curve.points[-1]
    print(f"  {curve.name}: epoch {p.epoch}: test {p.accuracy:.2%} after {p.wall:.1f} s ({p.cpu:.1f} CPU s)")


def _cell(point: Point | None, curve: Curve) -> str:
    if point is None:
        last = curve.points[-1]
        return f"not in {last.epoch} ep ({last.wall:.0f} s)"
    return f"{point.wall:.1f} s (ep {point.epoch})"


def _ratio(reference: Curve, ours: Curve, threshold: float) -> str:
    ref, mine = reference.first(threshold), ours.first(threshold)
    if mine is None:
        return "-"
    if ref is None:
        return f"> {reference.points[-1].wall / mine.wall:.1f}x (reference not there)"
    return f"{ref.wall / mine.wall:.1f}x wall, {ref.cpu / mine.cpu:.1f}x CPU"


def table(curves: list[Curve], reference: Curve) -> str:
    """Markdown: time to each threshold per run, then the speed-up of each of ours over the reference."""
    head = ["run", "recipe", "epochs", "s/epoch", *[f"to {t:.1%}" for t in THRESHOLDS], "final test"]
    rows = [head, ["---"] * len(head)]
    for c in curves:
        last = c.points[-1]
        rows.append(
            [
                c.name,
                c.recipe,
                str(last.epoch),
                f"{last.wall / last.epoch:.1f}",
                *[_cell(c.first(t), c) for t in THRESHOLDS],
                f"{last.accuracy:.2%}",
            ]
        )
    lines = ["| " + " | ".join(r) + " |" for r in rows]
    lines.append("")
    for c in curves:
        if c is not reference:
            speedups = ", ".join(f"{t:.1%}: {_ratio(reference, c, t)}" for t in THRESHOLDS)
            lines.append(f"speed-up of {c.name} over the reference (time to reach) - {speedups}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="torch threads for every run (default 2)")
    parser.add_argument("--reference-epochs", type=int, default=14, help="most reference epochs (default 14)")
    parser.add_argument(
        "--reference-budget",
        type=float,
        default=600.0,
        help="seconds of reference training after which it stops once past 99.0%% (default 600)",
    )
    parser.add_argument(
        "--models", default="fast,fast-aug-lite,fast-aug", help="our registered models to time, in order"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", help="MNIST folder (default: $DIGITREADER_DATA / the usual place)")
    args = parser.parse_args()
    args.data_dir = find_mnist(args.data_dir)

    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    splits = load_splits(None, data_dir=args.data_dir)
    print(
        f"torch {torch.__version__}, {args.threads} thread(s), {os.cpu_count()} CPUs "
        f"({platform.processor() or platform.machine()}); load average before: "
        + ", ".join(f"{v:.2f}" for v in load_before)
    )
    print("timed: training steps only (no evaluation, checkpoints or start-up); test accuracy each epoch")
    curves: list[Curve] = []
    with tempfile.TemporaryDirectory(prefix="train-speed-") as tmp:
        for name in args.models.split(","):
            curves.append(
                run_ours(name, splits.test, Path(tmp) / name, args.threads, args.seed, args.data_dir)
            )
    torch.set_num_threads(args.threads)  # train() set it too; the reference runs alike
    reference = run_reference(
        splits.train, splits.test, args.reference_epochs, args.reference_budget, args.seed
    )
    curves.insert(0, reference)
    print()
    print(table(curves, reference))
    print(
        f"\nthreads {args.threads}; load average (1, 5, 15 min) before "
        + ", ".join(f"{v:.2f}" for v in load_before)
        + ", after "
        + ", ".join(f"{v:.2f}" for v in os.getloadavg())
    )


if __name__ == "__main__":
    main()
