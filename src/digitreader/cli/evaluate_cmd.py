"""`digits evaluate`: score a checkpoint or an exported ONNX model on a split; print accuracy and a per-class
table; write PNGs."""

from __future__ import annotations

import argparse
from pathlib import Path

from digitreader.cli import flags


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "evaluate",
        help="score a checkpoint: accuracy, per class, confusion matrix and error gallery PNGs",
    )
    p.add_argument(
        "checkpoint",
        type=Path,
        metavar="CHECKPOINT",
        help="a .pt file from 'digits train' or a .onnx from 'digits export'",
    )
    p.add_argument(
        "--split", choices=("test", "validation"), default="test", help="which split (default test)"
    )
    flags.dataset(p, help="a dataset folder instead of MNIST")
    flags.data_dir(p)
    p.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="where the PNGs go (default: eval-SPLIT beside the file; for the bundled model, here)",
    )
    p.set_defaults(handler=_run)


def _fmt(value: float) -> str:
    return "   -  " if value != value else f"{value:.4f}"  # NaN: the class was never predicted / present


def _run(args: argparse.Namespace) -> int:
    from digitreader.training.evaluate import evaluate

    report = evaluate(args.checkpoint, split=args.split, data=args.data, data_dir=args.data_dir, out=args.out)
    print(f"{report.checkpoint} ({report.model_name}) on {report.data}")
    right = report.count - report.errors
    print(f"accuracy {report.accuracy:.4f}  ({right}/{report.count}, {report.errors} errors)")
    print("digit  precision  recall  support")
    for c in report.per_class:
        print(f"{c.digit:>5}  {_fmt(c.precision):>9}  {_fmt(c.recall):>6}  {c.support:>7}")
    print(f"confusion matrix: {report.confusion_png}")
    print(f"errors: {report.errors_png}" if report.errors_png else "errors: none")
    return 0
