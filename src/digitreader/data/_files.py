"""Small file helpers shared by the data modules: atomic writes and SHA-256 of a file."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path


def _default_file_mode() -> int:
    mask = os.umask(0)  # read once, at import: setting and restoring the umask is not thread-safe
    os.umask(mask)
    return 0o666 & ~mask


FILE_MODE = _default_file_mode()


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write `data` to `path` so that readers see the old file or the whole new one, never a part.

    The file gets the mode any new file gets here (0644 under the usual umask), not the temp file's 0600."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
            os.fchmod(f.fileno(), FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()
