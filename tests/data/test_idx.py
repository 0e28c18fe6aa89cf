"""IDX parsing: gzipped and raw files, every header field validated, errors naming the file and reason."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from digitreader.data.idx import decode_idx, read_idx, write_idx
from digitreader.errors import DataError


@pytest.fixture
def images() -> np.ndarray:
    return np.random.default_rng(1).integers(0, 256, (7, 28, 28), dtype=np.uint8)


@pytest.mark.parametrize("name", ["a.idx3-ubyte.gz", "a.idx3-ubyte"])
def test_round_trip_gz_and_raw(tmp_path: Path, images: np.ndarray, name: str) -> None:
    path = tmp_path / name
    write_idx(path, images)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == name.endswith(".gz")
    out = read_idx(path)
    assert out.dtype == np.uint8 and out.shape == (7, 28, 28)
    np.testing.assert_array_equal(out, images)
    out[0, 0, 0] = 1  # the result is writable (a copy, not a view of the file bytes)


def test_gzip_is_detected_by_content_not_name(tmp_path: Path, images: np.ndarray) -> None:
    path = tmp_path / "no-gz-suffix"
    write_idx(path, images, compress=True)
    np.testing.assert_array_equal(read_idx(path), images)


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.float32, np.float64])
def test_wider_dtypes_are_big_endian_on_disk_and_native_in_memory(tmp_path: Path, dtype: type) -> None:
    array = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    write_idx(tmp_path / "x.idx", array)
    raw = (tmp_path / "x.idx").read_bytes()
    assert (
        raw[12 + 4 : 12 + 4 + array.itemsize]
        == np.array([-5], dtype=np.dtype(dtype).newbyteorder(">")).tobytes()
    )
    out = read_idx(tmp_path / "x.idx")
    assert out.dtype == np.dtype(dtype) and out.dtype.isnative
    np.testing.assert_array_equal(out, array)


def _header(code: int, *dims: int) -> bytes:
    return struct.pack(">HBB", 0, code, len(dims)) + struct.pack(f">{len(dims)}I", *dims)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\x12\x34\x08\x01" + struct.pack(">I", 1) + b"\x00", "wrong magic number 0x12340801"),
        (_header(0x07, 2) + b"\x00\x00", "unknown IDX dtype code 0x07"),
        (_header(0x08) + b"", "0 dimensions"),
        (b"\x00\x00", "not an IDX file (only 2 bytes)"),
        (_header(0x08, 3, 2)[:-2], "truncated IDX header"),
        (_header(0x08, 3, 2) + bytes(5), "size mismatch: header 3x2 needs 6 data bytes, got 5"),
        (_header(0x08, 3, 2) + bytes(7), "size mismatch: header 3x2 needs 6 data bytes, got more than 6"),
        (_header(0x0C, 2) + bytes(7), "needs 8 data bytes, got 7"),
    ],
)
@pytest.mark.parametrize("compress", [False, True])
def test_bad_files_name_the_file_and_reason(
    tmp_path: Path, payload: bytes, reason: str, compress: bool
) -> None:
    path = tmp_path / "bad.idx"
    path.write_bytes(gzip.compress(payload) if compress else payload)
    with pytest.raises(DataError) as info:
        read_idx(path)
    message = str(info.value)
    assert message.startswith(str(path)) and reason in message and "\n" not in message


def test_truncated_gzip(tmp_path: Path, images: np.ndarray) -> None:
    path = tmp_path / "t.gz"
    write_idx(path, images)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match=r"t\.gz: truncated gzip file"):
        read_idx(path)


def test_corrupt_gzip_crc(tmp_path: Path, images: np.ndarray) -> None:
    path = tmp_path / "c.gz"
    write_idx(path, images)
    data = bytearray(path.read_bytes())
    data[-8] ^= 0xFF  # the CRC32 in the gzip trailer
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"c\.gz: corrupt gzip file"):
        read_idx(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="nope.gz: file not found"):
        read_idx(tmp_path / "nope.gz")


def test_decode_idx_default_name() -> None:
    with pytest.raises(DataError, match="<bytes>: wrong magic"):
        decode_idx(b"\x01\x02\x03\x04")


def test_write_refuses_unknown_dtype(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot store"):
        write_idx(tmp_path / "x", np.zeros(2, dtype=np.uint16))
    assert list(tmp_path.iterdir()) == []
