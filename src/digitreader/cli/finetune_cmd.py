"""`digits finetune SRC --out MODEL`: the sequence reader fine-tuned on a folder of labelled pictures
(see tuning/finetune.py); prints the before/after table on the held-out part."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from digitreader.cli import flags
from digitreader.names import printable

_SHOW_SKIPPED = 20  # skipped pictures listed one per line; the rest are counted


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "finetune",
        help="fine-tune the reader on your own labelled pictures (before/after table)",
        description=(
            "Fine-tune the reader on SRC: a folder holding labels.csv (path,text: a number as written, or "
            "one digit) and/or class folders 0/ .. 9/. Numbers tune the sequence reader; a folder of single "
            "digits only tunes the digit classifier. A stratified part is held out and read before and "
            "after; the model is written only if it reads that part at least as well."
        ),
    )
    p.add_argument("src", type=Path, metavar="SRC", help="folder of labelled pictures (or a CSV file)")
    p.add_argument("--out", type=Path, required=True, metavar="MODEL", help="the .onnx file to write")
    p.add_argument(
        "--from",
        dest="base",
        type=Path,
        metavar="MODEL",
        help="model .onnx to start from: a sequence reader, or for single digits a classifier "
        "(default: the bundled one)",
    )
    p.add_argument(
        "--unlabelled",
        type=Path,
        metavar="DIR",
        help="pictures without labels: tune on those the reader labels itself (its two readers agreeing); "
        "SRC's labelled pictures are then all held out, to measure it",
    )
    p.add_argument(
        "--force", action="store_true", help="write the model even if it reads worse than the start"
    )
    p.add_argument("--max-minutes", type=float, metavar="M", help="stop training after M minutes")
    flags.data_dir(p, " for the replayed lines", default="$DIGITREADER_DATA, else the user cache")
    flags.threads(p, default=1, help="torch CPU threads (default 1)")
    flags.dry_run(p, "the whole path with a few training steps")
    flags.no_progress(p, "no progress bars")
    p.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from digitreader.tuning.finetune import finetune

    def say(text: str) -> None:
        print(text, file=sys.stderr)

    result = finetune(
        args.src,
        args.out,
        base=args.base,
        force=args.force,
        max_minutes=args.max_minutes,
        data_dir=args.data_dir,
        dry_run=args.dry_run,
        unlabelled=args.unlabelled,
        threads=args.threads,
        progress=not args.no_progress,
        say=say,
    )
    for skipped in result.skipped[:_SHOW_SKIPPED]:
        say(f"skipped {printable(skipped.path)}: {skipped.reason}")
    if len(result.skipped) > _SHOW_SKIPPED:
        say(f"... and {len(result.skipped) - _SHOW_SKIPPED} more skipped")
    for warning in result.warnings:
        say(f"warning: {warning}")
    print(f"held out {result.counts['held_out']} of {result.counts['usable']} pictures; "
          f"trained {result.steps} steps ({result.stopped}), {result.seconds / 60:.1f} min")  # fmt: skip
    print(result.table)
    if "mnist_test_after" in result.extra:
        print(f"MNIST test digits (replay keeps them): {result.extra['mnist_test_before']:.2%} before, "
              f"{result.extra['mnist_test_after']:.2%} after")  # fmt: skip
    if not result.written:
        say(f"digits: {result.refused}")
        return 1
    print(f"wrote {result.out} and {result.out.with_suffix('.json')}; read with: "
          f"digits read --model {shlex.quote(str(result.out))} PICTURE")  # fmt: skip
    return 0
