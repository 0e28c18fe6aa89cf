"""Flags several `digits` verbs share, each defined once: the MNIST folder, a user's dataset, torch threads,
a dry run and progress bars. A verb passes what its help says differently (what MNIST is for, a default)."""

from __future__ import annotations

import argparse
from pathlib import Path

MNIST_DEFAULT = "$DIGITREADER_DATA, else the user cache, downloading"


def data_dir(p: argparse.ArgumentParser, use: str = "", default: str = MNIST_DEFAULT) -> None:
    """``--data-dir DIR``: where the MNIST files are (or go); `use` says what for (" for the check")."""
    p.add_argument("--data-dir", type=Path, metavar="DIR", help=f"MNIST folder{use} (default: {default})")


def dataset(p: argparse.ArgumentParser, help: str = "a dataset folder from 'digits data build'") -> None:
    """``--data DATASET``: a dataset folder (`digits data build`) instead of MNIST."""
    p.add_argument("--data", type=Path, metavar="DATASET", help=help)


def threads(p: argparse.ArgumentParser, default: int | None = None, help: str = "torch CPU threads") -> None:
    """``--threads N``: torch's CPU threads."""
    p.add_argument("--threads", type=int, default=default, metavar="N", help=help)


def dry_run(p: argparse.ArgumentParser, help: str) -> None:
    """``--dry-run``: the whole path, on a few steps."""
    p.add_argument("--dry-run", action="store_true", help=help)


def no_progress(p: argparse.ArgumentParser, help: str = "no progress bar") -> None:
    """``--no-progress``: no tqdm bars on stderr."""
    p.add_argument("--no-progress", action="store_true", help=help)
