"""Files written whole or not at all, their SHA-256, and an exception as one line of text.

`atomic_file` is the one way a file is written here: a temp file beside the target, flushed and fsynced,
given the mode any new file gets (0644 under the usual umask, not the temp file's 0600), then renamed over
the target; on any error the temp file is removed and the target is as it was.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


def _default_file_mode() -> int:
    mask = os.umask(0)  # read once, at import: setting and restoring the umask is not thread-safe
    os.umask(mask)
    return 0o666 & ~mask


FILE_MODE = _default_file_mode()


@contextmanager
def atomic_file(path: str | os.PathLike[str], suffix: str = ".tmp") -> Iterator[BinaryIO]:
    """A binary file to write `path` through: readers see the old file or the whole new one, never a part.

    The folder must exist. The new file is fsynced before the rename, so a crash cannot leave it empty."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
            os.fchmod(f.fileno(), FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write `data` to `path` through `atomic_file`."""
    with atomic_file(path) as f:
        f.write(data)


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of `data`."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks (`OSError` when it cannot be read)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def one_line(exc: object, limit: int | None = None) -> str:
    """An exception's text on one line (whitespace runs made one space), at most `limit` characters; its
    type's name when it has no text."""
    text = " ".join(str(exc).split())
    if not text:
        return type(exc).__name__
    return text if limit is None else text[:limit]
