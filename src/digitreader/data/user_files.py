"""A user's files, read with care: regular files of bounded size only, image file names, and the rows of a
``labels.csv`` (``path,value``), for `digits data build` (`data.folder`) and `digits finetune`
(`tuning.source`) alike.

A FIFO would block a read and /dev/zero would fill memory, so a file is opened without blocking and
checked on the opened descriptor (`read_limited`). A row or file left out is a `Skipped` with its reason.
"""

from __future__ import annotations

import csv
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from digitreader.errors import DataError

IMAGE_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm", ".pbm", ".pnm"}
)
# Bytes a source file (an image, or the CSV) may have: far above a photo of a digit, far below what would
# strain memory; a larger file is refused unread.
MAX_FILE_BYTES = 64 << 20


@dataclass(frozen=True)
class Skipped:
    """A source file (or CSV line) left out, and why."""

    path: str
    reason: str


class Refused(Exception):
    """A source file not read: not a regular file, or too large."""


def read_limited(path: Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of `path` if it is a regular file of at most `limit` bytes (`Refused` says why not).

    The checks are made on the opened file, so a file swapped after a check cannot slip through, and it is
    opened without blocking, so a FIFO cannot stop the read."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise Refused("not a regular file")
        if info.st_size > limit:
            raise Refused(f"file too large ({info.st_size:,} bytes; at most {limit:,})")
        data = f.read(limit + 1)
    if len(data) > limit:
        raise Refused(f"file too large (over {limit:,} bytes)")
    return data


@dataclass(frozen=True)
class CsvRow:
    """One ``path,value`` row: where it is (``labels.csv:3``), the path as written and resolved against the
    CSV's folder, and the value as written."""

    where: str
    name: str
    path: Path
    value: str


def read_labels_csv(
    path: Path, value_name: str, is_header: Callable[[list[str]], bool]
) -> list[CsvRow | Skipped]:
    """The two-column rows of the CSV file `path` and the lines left out (not two columns, or no path), in
    file order.

    Cells are stripped, blank lines ignored, a UTF-8 byte-order mark allowed; the first line is dropped
    when `is_header(cells)`. `value_name` names the second column in the reasons ("label", "text"). The
    values are the caller's to check. A CSV that cannot be read raises `DataError` naming it."""
    try:
        text = read_limited(path, MAX_FILE_BYTES).decode("utf-8-sig")
    except Refused as exc:
        raise DataError(f"{path}: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read the CSV ({exc})") from None
    rows: list[CsvRow | Skipped] = []
    for line_no, row in enumerate(csv.reader(text.splitlines()), start=1):
        cells = [c.strip() for c in row]
        if not any(cells):
            continue
        if line_no == 1 and is_header(cells):
            continue
        where = f"{path.name}:{line_no}"
        if len(cells) != 2 or not cells[0]:
            rows.append(Skipped(where, f"expected two columns: path,{value_name}"))
            continue
        picture = Path(cells[0]).expanduser()
        rows.append(
            CsvRow(where, cells[0], picture if picture.is_absolute() else path.parent / picture, cells[1])
        )
    return rows
