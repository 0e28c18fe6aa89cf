"""`digits data build` against hostile sources: devices, FIFOs, huge files, links leaving the folder,
names made to forge report lines. Each is skipped and listed with its reason; nothing blocks or fills
memory."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from digitreader.cli import main
from digitreader.data.folder import build_dataset
from digitreader.data.user_files import MAX_FILE_BYTES
from digitreader.errors import DataError


def digit_file(path: Path, digit: int) -> Path:
    image = np.full((80, 64), 255, np.uint8)
    cv2.putText(image, str(digit), (8, 66), cv2.FONT_HERSHEY_SIMPLEX, 2.4, 0, 6)
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), image)
    return path


def huge_file(path: Path) -> Path:
    """A sparse file one byte over the limit: it takes no disk, and must not be read."""
    with open(path, "wb") as f:
        f.truncate(MAX_FILE_BYTES + 1)
    return path


@pytest.mark.timeout(60)
def test_csv_rows_naming_devices_fifos_and_huge_files_are_skipped(tmp_path: Path) -> None:
    good = digit_file(tmp_path / "ok.png", 3)
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    huge = huge_file(tmp_path / "huge.png")
    (tmp_path / "labels.csv").write_text(f"{good},3\n/dev/zero,1\n{fifo},2\n{huge},4\n")
    summary = build_dataset(tmp_path / "labels.csv", tmp_path / "ds", workers=0, progress=False)
    assert summary.count == 1
    assert [(s.path, s.reason) for s in summary.skipped] == [
        ("/dev/zero", "not a regular file"),
        (str(fifo), "not a regular file"),
        (str(huge), f"file too large ({MAX_FILE_BYTES + 1:,} bytes; at most {MAX_FILE_BYTES:,})"),
    ]


def test_a_csv_over_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file too large"):
        build_dataset(huge_file(tmp_path / "labels.csv"), tmp_path / "ds", progress=False)


def test_links_leaving_the_folder_are_refused_and_listed(tmp_path: Path) -> None:
    src = tmp_path / "src"
    digit_file(src / "1" / "one.png", 1)
    outside = digit_file(tmp_path / "private" / "secret.png", 7)
    (src / "7").mkdir()
    (src / "7" / "secret.png").symlink_to(outside)
    (src / "7" / "elsewhere").symlink_to(outside.parent, target_is_directory=True)
    (src / "1" / "again.png").symlink_to(src / "1" / "one.png")  # inside the folder: a file like any other
    summary = build_dataset(src, tmp_path / "ds", workers=0, progress=False)
    assert summary.count == 2
    refused = sorted((s.path, s.reason) for s in summary.skipped)
    assert ("7/secret.png", "a link to a file outside the source folder") in refused
    assert all(reason == "a link to a file outside the source folder" for _, reason in refused)


def test_names_are_printed_escaped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "src"
    digit_file(src / "2" / "two.png", 2)
    forged = src / "2" / "x.png\nbuilt fake: 999 images\x1b[2J.png"
    forged.write_bytes(b"not a picture")
    assert main(["data", "build", str(src), "--out", str(tmp_path / "ds")]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out
    lines = out.splitlines()
    assert lines[0].startswith("built ") and len(lines) == 3
    assert (
        lines[2]
        == "  2/x.png\\nbuilt fake: 999 images\\x1b[2J.png: not an image (unknown or unsupported format)"
    )
