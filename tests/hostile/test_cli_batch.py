"""`digits read` over a batch with hostile files in it: each bad one is one error line naming it (escaped),
every good one is still read, and the exit code says something failed."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from digitreader.cli import main
from digitreader.recognizer import Recognizer

from .conftest import png, salt_and_pepper

REPO = Path(__file__).resolve().parents[2]
CHEQUE = REPO / "examples" / "cheque_4096.jpg"
SEVEN = REPO / "examples" / "digit_7_photo.jpg"


def hostile_files(folder: Path) -> dict[str, Path]:
    """Files that each broke a batch or a report before: a DDS, a damaged AVIF-like file, a truncated PNG,
    a name with a newline and an escape code, static."""
    files = {}
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), "white").save(buffer, "DDS")
    files["dds"] = folder / "a.dds"
    files["dds"].write_bytes(buffer.getvalue())
    files["avif"] = folder / "b.avif"
    files["avif"].write_bytes(b"\x00\x00\x00\x1cftypavif" + bytes(300))
    noise = np.random.default_rng(0).integers(0, 256, (200, 200), dtype=np.uint8)
    files["truncated"] = folder / "c.png"
    files["truncated"].write_bytes(png(noise)[:2000])
    files["forged"] = folder / "d\nforged.png: 12345\x1b[2J.png"
    files["forged"].write_bytes(b"not an image")
    files["static"] = folder / "static.png"
    files["static"].write_bytes(png(salt_and_pepper(800, 0.5)))
    return files


def test_a_batch_with_hostile_files_reads_the_good_ones(tmp_path: Path) -> None:
    bad = hostile_files(tmp_path)
    argv = [str(CHEQUE), *(str(p) for p in bad.values()), str(SEVEN)]
    done = subprocess.run(
        [sys.executable, "-m", "digitreader", "read", *argv], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2
    out, err = done.stdout.splitlines(), done.stderr.splitlines()
    assert out[0] == f"{CHEQUE}: 4096" and out[-1] == f"{SEVEN}: 7"
    assert out[1].startswith(f"{bad['static']}: (no digits found; ") and "separate marks" in out[1]
    assert len(out) == 3  # nothing forged: the newline in a name is printed as \n
    assert len(err) == 4 and all(line.startswith("digits: error: ") for line in err)
    assert "\x1b" not in done.stdout + done.stderr
    assert any("d\\nforged.png: 12345\\x1b[2J.png: not an image" in line for line in err)
    assert "Traceback" not in done.stderr


def test_a_bug_on_one_picture_does_not_lose_the_batch(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real_read_many = Recognizer.read_many

    def read_many(self: Recognizer, images: list, mode: str = "auto"):  # type: ignore[no-untyped-def]
        if any(image.shape == (385, 465) for image in images):  # the 7: a bug in reading it
            raise IndexError("index 3 is out of bounds")
        return real_read_many(self, images, mode)

    monkeypatch.setattr(Recognizer, "read_many", read_many)
    code = main(["read", str(CHEQUE), str(SEVEN)])
    out, err = capsys.readouterr()
    assert code == 2
    assert out.splitlines() == [f"{CHEQUE}: 4096"]
    assert err.splitlines() == [
        f"digits: error: {SEVEN}: internal error (IndexError: index 3 is out of bounds)"
    ]
