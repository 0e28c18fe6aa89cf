"""`digits data info|show|build`: look at MNIST or a built dataset, draw samples, build a dataset.

- ``digits data info [--data-dir D] [--dataset DATASET]``: images, shape and class balance per split.
- ``digits data show [--split S] [--count N] [--out samples.png] [--dataset DATASET]``: a PNG grid.
- ``digits data build SRC --out DATASET [--strict] [--workers N]``: pack labelled images into a dataset.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import numpy as np

from digitreader.errors import DigitreaderError

SPLITS = ("train", "validation", "test")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "data",
        help="inspect MNIST or a dataset, draw samples, build a dataset from your images",
        description="Inspect MNIST or a dataset built with 'digits data build', draw samples as a PNG grid, "
        "or build a dataset from your own labelled images.",
    )
    verbs = p.add_subparsers(dest="data_verb", metavar="ACTION", required=True)

    info = verbs.add_parser("info", help="images, shapes and class balance per split")
    _add_source_args(info)
    info.set_defaults(handler=_info)

    show = verbs.add_parser("show", help="write a PNG grid of sample digits with their labels")
    _add_source_args(show)
    show.add_argument("--split", choices=SPLITS, default="train", help="MNIST split (default: train)")
    show.add_argument("--count", type=int, default=64, metavar="N", help="digits to draw (default 64)")
    show.add_argument("--seed", type=int, default=0, help="which random sample to draw (default 0)")
    show.add_argument("--out", "-o", default="samples.png", metavar="PNG", help="default: samples.png")
    show.set_defaults(handler=_show)

    build = verbs.add_parser(
        "build",
        help="pack your labelled images into a dataset",
        description="SRC is a folder with class folders 0..9 of images, or a CSV of path,label rows (paths "
        "relative to the CSV). Each image is prepared exactly as 'digits read --mode digit' prepares it.",
    )
    build.add_argument("src", metavar="SRC", help="folder of class folders 0..9, or a CSV of path,label")
    build.add_argument("--out", "-o", required=True, metavar="DATASET", help="dataset folder to create")
    build.add_argument("--strict", action="store_true", help="fail on the first unusable file")
    build.add_argument("--workers", type=int, metavar="N", help="decoding processes (default: one per CPU)")
    build.set_defaults(handler=_build)


def _add_source_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data-dir", metavar="DIR", help="MNIST folder (default: $DIGITREADER_DATA, else the cache)"
    )
    p.add_argument(
        "--no-download", action="store_true", help="fail instead of downloading missing MNIST files"
    )
    p.add_argument(
        "--dataset", metavar="DATASET", help="a dataset built with 'digits data build' instead of MNIST"
    )


def _splits(args: argparse.Namespace) -> tuple[str, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """A description of the source and its splits: MNIST's three, or a built dataset's one ("all")."""
    if args.dataset:
        from digitreader.data.folder import load_dataset

        ds = load_dataset(args.dataset)
        meta = ds.meta
        title = (
            f"dataset {ds.path} (from {meta.get('source_kind', '?')} {meta.get('source', '?')}, "
            f"built {meta.get('created', '?')}, preprocessing {meta.get('preprocessing_version', '?')})"
        )
        return title, {"all": (ds.images, ds.labels)}
    from digitreader.data.mnist import load_mnist

    data = load_mnist(args.data_dir, download=not args.no_download)
    return f"MNIST from {data.source}", {name: data.split(name) for name in SPLITS}


def _info(args: argparse.Namespace) -> int:
    title, splits = _splits(args)
    print(title)
    rows = [["split", "images", "shape", *map(str, range(10))]]
    for name, (images, labels) in splits.items():
        counts = np.bincount(labels, minlength=10)
        shape = "x".join(map(str, images.shape[1:]))
        rows.append([name, str(len(labels)), shape, *map(str, counts)])
    print(_table(rows))
    for name, (_, labels) in splits.items():
        if len(labels):
            counts = np.bincount(labels, minlength=10)
            print(
                f"{name}: smallest class {counts.argmin()} ({counts.min() / len(labels):.1%}), "
                f"largest {counts.argmax()} ({counts.max() / len(labels):.1%})"
            )
    return 0


def _show(args: argparse.Namespace) -> int:
    from digitreader.data.grid import save_grid

    if args.count < 1:
        raise DigitreaderError(f"--count {args.count}: must be at least 1")
    title, splits = _splits(args)
    name = "all" if args.dataset else args.split
    images, labels = splits[name]
    count = min(args.count, len(labels))
    if count == 0:
        raise DigitreaderError(f"{name}: no images to show")
    # A seeded sample, in the split's order, so the same command draws the same grid.
    pick = np.sort(np.random.default_rng(args.seed).choice(len(labels), size=count, replace=False))
    label = args.dataset or f"MNIST {name}"
    save_grid(images[pick], labels[pick], args.out, title=f"{label}: {count} of {len(labels)}")
    print(f"wrote {args.out} ({count} {'' if args.dataset else name + ' '}images)")
    return 0


def _build(args: argparse.Namespace) -> int:
    from digitreader.data.folder import build_dataset
    from digitreader.names import printable

    if args.workers is not None and args.workers < 0:
        raise DigitreaderError(f"--workers {args.workers}: must be 0 or more")
    summary = build_dataset(
        args.src, args.out, strict=args.strict, workers=args.workers, progress=sys.stderr.isatty()
    )
    per_class = " ".join(f"{d}:{n}" for d, n in enumerate(summary.per_class))
    # Names are the user's files': escaped, a newline in one cannot forge a line of this report.
    out, source = printable(str(summary.out)), printable(str(summary.source))
    print(f"built {out}: {summary.count} images from {source} (per class {per_class})")
    if summary.skipped:
        print(f"skipped {len(summary.skipped)}:")
        for s in summary.skipped:
            print(f"  {printable(s.path)}: {printable(s.reason)}")
    else:
        print("skipped 0")
    return 0


def _table(rows: Sequence[Sequence[str]]) -> str:
    """Left-align the first column, right-align the rest."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [
            cell.rjust(w) for cell, w in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells))
    return "\n".join(lines)
