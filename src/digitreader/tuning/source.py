"""A user's labelled pictures for fine-tuning: ``labels.csv`` (``path,text``) and/or class folders 0/..9/.

A text is a number as written (digits with the separators `ctc.ALPHABET` knows, a leading minus) or one
digit; a class folder's pictures are one-digit texts. Rows whose text the reader cannot write, and files
that are missing, not regular files, too large, or (in a class folder) links leading outside it, are
listed with the reason and left out, as `digits data build` does.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from digitreader.ctc import ALPHABET, DIGITS
from digitreader.data.user_files import (
    IMAGE_SUFFIXES,
    MAX_FILE_BYTES,
    Refused,
    Skipped,
    read_labels_csv,
    read_limited,
)
from digitreader.errors import DataError

LABELS_NAME = "labels.csv"


@dataclass(frozen=True)
class Labelled:
    """One picture and its text; `name` is how it is shown (relative to the source folder)."""

    path: Path
    name: str
    text: str


def list_labelled(src: str | os.PathLike[str]) -> tuple[list[Labelled], list[Skipped]]:
    """The pictures of `src` (a folder, or a CSV file) with their texts, and the rows left out."""
    root = Path(src).expanduser()
    if root.is_file() and root.suffix.lower() == ".csv":
        return _from_csv(root)
    if not root.is_dir():
        raise DataError(f"{root}: no such folder (expected {LABELS_NAME} and/or class folders 0..9)")
    items: list[Labelled] = []
    skipped: list[Skipped] = []
    if (root / LABELS_NAME).is_file():
        items, skipped = _from_csv(root / LABELS_NAME)
    for digit in DIGITS:
        if (root / digit).is_dir():
            found, left = _from_class_folder(root, digit)
            items += found
            skipped += left
    if not items and not skipped:
        raise DataError(f"{root}: neither {LABELS_NAME} nor class folders 0..9 found")
    return items, skipped


def check_text(text: str) -> str | None:
    """Why the reader cannot learn `text` (None when it can)."""
    if not any(ch in DIGITS for ch in text):
        return f"text {text!r} has no digit"
    bad = sorted({ch for ch in text if ch not in ALPHABET})
    if bad:
        return f"text {text!r}: {''.join(bad)!r} is not a digit or a separator ({ALPHABET!r})"
    return None


def read_bytes(item: Labelled) -> bytes:
    """The picture's bytes, read as `digits data build` reads them; `DataError` (its reason) otherwise."""
    try:
        return read_limited(item.path, MAX_FILE_BYTES)
    except FileNotFoundError:
        raise DataError("no such file") from None
    except Refused as exc:
        raise DataError(str(exc)) from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL in a CSV path
        raise DataError(f"cannot read ({getattr(exc, 'strerror', None) or exc})") from None


def _from_csv(path: Path) -> tuple[list[Labelled], list[Skipped]]:
    rows = read_labels_csv(path, "text", lambda cells: [c.lower() for c in cells] == ["path", "text"])
    items: list[Labelled] = []
    skipped: list[Skipped] = []
    for row in rows:
        if isinstance(row, Skipped):
            skipped.append(row)
            continue
        reason = check_text(row.value)
        if reason is None and row.path.suffix.lower() not in IMAGE_SUFFIXES:
            reason = f"not an image file name ({row.path.suffix or 'no suffix'})"
        if reason is not None:
            skipped.append(Skipped(f"{row.where} ({row.name})", reason))
        else:
            items.append(Labelled(row.path, row.name, row.value))
    return items, skipped


def _from_class_folder(root: Path, digit: str) -> tuple[list[Labelled], list[Skipped]]:
    items: list[Labelled] = []
    skipped: list[Skipped] = []
    inside = root.resolve()
    for path in sorted((root / digit).rglob("*")):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts) or path.is_dir():
            continue
        if not path.resolve().is_relative_to(inside):
            skipped.append(Skipped(rel.as_posix(), "a link to a file outside the source folder"))
        elif path.suffix.lower() not in IMAGE_SUFFIXES:
            skipped.append(Skipped(rel.as_posix(), f"not an image file name ({path.suffix or 'no suffix'})"))
        else:
            items.append(Labelled(path, rel.as_posix(), digit))
    return items, skipped
