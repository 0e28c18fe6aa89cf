"""IDX files, the format MNIST ships in: read (gzipped or raw) with every header field validated, and write.

Layout (big-endian): two zero bytes, a dtype code, the number of dimensions ``d``, then ``d`` uint32 sizes,
then the data, row-major, and nothing after it. A gzip file is recognised by its magic bytes, not its name.
"""

from __future__ import annotations

import gzip
import io
import os
import struct
import zlib
from pathlib import Path
from typing import Protocol

import numpy as np

from digitreader.errors import DataError
from digitreader.files import atomic_write_bytes

GZIP_MAGIC = b"\x1f\x8b"

# IDX dtype code -> numpy dtype (big-endian, as stored).
_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {dtype.newbyteorder("="): code for code, dtype in _DTYPES.items()}


class _Reader(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (gzipped or raw) into a native-endian array.

    Raises `DataError` naming the file and the reason: not found, wrong magic number, unknown dtype code,
    truncated or corrupt gzip, or a length that does not match the header.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return decode_idx(data, str(path))


def decode_idx(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Decode the bytes of an IDX file (gzipped or raw); `name` is used in error messages."""
    if data[:2] == GZIP_MAGIC:
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
                return _read_stream(stream, name)
        except EOFError:
            raise DataError(f"{name}: truncated gzip file (ended before its end marker)") from None
        except (gzip.BadGzipFile, zlib.error) as exc:
            raise DataError(f"{name}: corrupt gzip file ({exc})") from None
    return _read_stream(io.BytesIO(data), name)


def _read_stream(stream: _Reader, name: str) -> np.ndarray:
    head = stream.read(4)
    if len(head) < 4:
        raise DataError(f"{name}: not an IDX file (only {len(head)} bytes)")
    zero, code, ndim = struct.unpack(">HBB", head)
    if zero != 0:
        raise DataError(f"{name}: wrong magic number 0x{head.hex()} (not an IDX file)")
    if code not in _DTYPES:
        raise DataError(f"{name}: unknown IDX dtype code 0x{code:02x}")
    if ndim == 0:
        raise DataError(f"{name}: IDX header declares 0 dimensions")
    dims_raw = stream.read(4 * ndim)
    if len(dims_raw) < 4 * ndim:
        raise DataError(f"{name}: truncated IDX header")
    shape = struct.unpack(f">{ndim}I", dims_raw)
    dtype = _DTYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    # Read one byte more than declared: reaching the end also makes gzip check its CRC.
    body = stream.read(expected + 1)
    if len(body) != expected:
        got = f"{len(body)}" if len(body) <= expected else f"more than {expected}"
        dims = "x".join(map(str, shape))
        raise DataError(f"{name}: size mismatch: header {dims} needs {expected} data bytes, got {got}")
    array = np.frombuffer(body, dtype=dtype).reshape(shape)
    # A native-endian, writable copy: callers may modify what they load.
    return array.astype(dtype.newbyteorder("="), copy=True)


def write_idx(path: str | os.PathLike[str], array: np.ndarray, *, compress: bool | None = None) -> None:
    """Write `array` as an IDX file, atomically; gzipped when `compress` (default: a name ending in .gz)."""
    path = Path(path)
    array = np.asarray(array)
    code = _CODES.get(array.dtype.newbyteorder("="))
    if code is None:
        raise ValueError(f"IDX cannot store dtype {array.dtype}")
    if compress is None:
        compress = path.suffix == ".gz"
    header = struct.pack(">HBB", 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + np.ascontiguousarray(array, dtype=_DTYPES[code]).tobytes()
    if compress:
        payload = gzip.compress(payload, mtime=0)
    atomic_write_bytes(path, payload)
