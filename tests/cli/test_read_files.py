"""`digits read` on folders and globs: --recursive, --out (JSON lines or CSV) continued by a rerun, --jobs,
unreadable pictures reported and never written."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from PIL import Image

from digitreader.cli import main
from digitreader.data.idx import read_idx


@pytest.fixture(autouse=True)
def start_early(monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers start for 64 pictures here (they pay for themselves from ~1,000): the tests stay short."""
    from digitreader import bulk

    monkeypatch.setattr(bulk, "START_FROM", bulk.PARALLEL_FROM)


@pytest.fixture()
def folder(tmp_path: Path, mnist_sample_dir: Path) -> Path:
    """70 MNIST digits as PNG files (dark on white), 10 of them in a subfolder, and one damaged file."""
    digits = read_idx(mnist_sample_dir / "t10k-images-idx3-ubyte.gz")[:70]
    labels = read_idx(mnist_sample_dir / "t10k-labels-idx1-ubyte.gz")[:70]
    root = tmp_path / "scans"
    (root / "more").mkdir(parents=True)
    for i, (digit, label) in enumerate(zip(digits, labels, strict=True)):
        where = root / "more" if i >= 60 else root
        Image.fromarray(255 - digit).save(where / f"{i:03d}-{label}.png")
    (root / "damaged.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    (root / "notes.txt").write_text("not a picture, and not looked at")
    return root


def read(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str], list[str]]:
    code = main(["read", "--mode", "digit", *argv])
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err.splitlines()


def test_a_folder_into_json_lines_and_a_rerun_skips_what_is_done(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "results.jsonl"
    code, stdout, err = read([str(folder), "--recursive", "--jobs", "2", "--out", str(out)], capsys)
    assert code == 2 and stdout == []  # the damaged file
    assert err[0].startswith(f"digits: error: {folder / 'damaged.png'}: ")
    assert err[-1].startswith("digits: 71 pictures: 70 read, 1 unreadable; ")
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [Path(r["path"]).name for r in rows] == sorted(p.name for p in folder.rglob("*-*.png"))
    right = sum(r["text"] == Path(r["path"]).stem.split("-")[1] for r in rows)
    assert right >= 68  # MNIST digits: the reader's accuracy on them is 99.7%

    # A run stopped in the middle of writing a line: that picture and the ones after it are read again.
    lines = out.read_text().splitlines(keepends=True)
    out.write_text("".join(lines[:40]) + lines[40][:25])
    code, _, err = read([str(folder), "-r", "--out", str(out)], capsys)
    assert err[-1].startswith(f"digits: 31 pictures: 30 read, 1 unreadable, 40 already in {out}; ")
    assert [json.loads(line) for line in out.read_text().splitlines()] == rows

    code, _, err = read([str(folder), "-r", "--out", str(out)], capsys)
    assert err[-1].startswith(f"digits: 1 pictures: 0 read, 1 unreadable, 70 already in {out}; ")


def test_a_folder_without_recursive_and_a_glob_into_csv(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, stdout, err = read([str(folder), "--jobs", "1"], capsys)
    assert len(stdout) == 60 and stdout[0] == f"{folder / '000-7.png'}: 7"  # the subfolder is left out
    assert code == 2 and len(err) == 1

    out = tmp_path / "results.csv"
    code, stdout, _ = read([str(folder / "**" / "*-?.png"), "-r", "--out", str(out)], capsys)
    assert code == 0 and stdout == []
    with out.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 70 and rows[0]["path"] == str(folder / "000-7.png") and rows[0]["text"] == "7"
    assert json.loads(rows[0]["digits"])[0]["label"] == 7 and 0 < float(rows[0]["confidence"]) <= 1
    code, _, err = read([str(folder / "**" / "*-?.png"), "-r", "--out", str(out)], capsys)
    assert code == 0 and err[-1].startswith("digits: 0 pictures: 0 read, 0 unreadable, 70 already")


def test_what_matches_nothing_is_one_line_each(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    code, stdout, err = read([str(tmp_path / "empty"), str(tmp_path / "*.png")], capsys)
    assert code == 2 and stdout == []
    assert err == [
        f"digits: error: {tmp_path / 'empty'}: is a directory with no pictures in it "
        ".bmp, .gif, .jpeg, .jpg, .pbm, .pgm, .png, .pnm, .ppm, .tif, .tiff, .webp)".replace(".bmp", "(.bmp"),
        f"digits: error: {tmp_path / '*.png'}: no file matches",
    ]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["x.png", "--out", "results.txt"], "--out results.txt: expected a .jsonl or .csv file name"),
        (["x.png", "--out", "r.jsonl", "--show", "a.png"], "--out needs IMAGE arguments and no --show"),
        (["x.png", "--jobs", "0"], "workers 0: expected a whole number, 1 or more"),
    ],
)
def test_bad_options_are_one_line(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = read(argv, capsys)
    assert code == 2 and len(err) == 1 and err[0].startswith(f"digits: error: {message}")
