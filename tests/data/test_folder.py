"""User datasets: build from a folder tree or a CSV of real image files, skip or refuse bad ones, load."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from digitreader.contract import DATASET_PREPROCESSING
from digitreader.data import folder
from digitreader.data.folder import build_dataset, load_dataset
from digitreader.errors import DataError
from digitreader.vision.load import load_image
from digitreader.vision.preprocess import prepare_single_digit

FORMATS = ("png", "jpg", "bmp")


def _draw(digit: int, thickness: int) -> np.ndarray:
    """A dark digit on white paper, like a scan."""
    img = np.full((80, 64), 255, np.uint8)
    cv2.putText(img, str(digit), (8, 66), cv2.FONT_HERSHEY_SIMPLEX, 2.4, 0, thickness)
    return img


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SRC/0..9 with one PNG, JPEG and BMP each, plus bad files in some class folders."""
    src = tmp_path_factory.mktemp("tree")
    for d in range(10):
        (src / str(d)).mkdir()
        for k, ext in enumerate(FORMATS):
            assert cv2.imwrite(str(src / str(d) / f"{d}_{k}.{ext}"), _draw(d, 5 + k))
    (src / "3" / "text.png").write_text("this is not a picture")
    (src / "4" / "empty.png").write_bytes(b"")
    (src / "5" / "notes.txt").write_text("ignored: not an image name")
    (src / "6" / ".DS_Store").write_bytes(b"\0\0")  # hidden: silently ignored
    (src / "7" / "more").mkdir()
    assert cv2.imwrite(str(src / "7" / "more" / "blank.png"), np.full((40, 40), 255, np.uint8))
    (src / "README.md").write_text("top-level files are not data")
    return src


def _leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir())


def test_build_from_tree(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "ds"
    summary = build_dataset(tree, out, workers=0, progress=False)
    assert summary.count == 30 and summary.per_class == (3,) * 10 and summary.out == out
    reasons = {s.path: s.reason for s in summary.skipped}
    assert reasons == {
        "5/notes.txt": "not an image file name (.txt)",
        "3/text.png": "not an image (unknown or unsupported format)",
        "4/empty.png": "empty data, not an image",
        "7/more/blank.png": "no digit found (blank image)",
    }
    assert _leftovers(tmp_path) == ["ds"]
    assert _leftovers(out) == ["images.npy", "index.json", "labels.npy"]

    ds = load_dataset(out)
    assert isinstance(ds.images, np.memmap) and not ds.images.flags.writeable
    assert ds.images.shape == (30, 28, 28) and ds.images.dtype == np.uint8
    assert ds.labels.dtype == np.int64 and ds.labels.tolist() == [d for d in range(10) for _ in FORMATS]
    index = ds.meta
    assert index["preprocessing_version"] == DATASET_PREPROCESSING and index["source_kind"] == "folder"
    assert index["classes"] == {str(d): 3 for d in range(10)} and index["count"] == 30
    assert {s["path"] for s in index["skipped"]} == set(reasons)
    # Every image is exactly what the recogniser makes of that file, and its hash is the file's.
    for i, entry in enumerate(index["files"]):
        source = tree / entry["path"]
        assert entry["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
        expected = prepare_single_digit(load_image(source))
        assert expected is not None
        np.testing.assert_array_equal(ds.images[i], expected)
    assert {Path(e["path"]).suffix for e in index["files"]} == {".png", ".jpg", ".bmp"}


def test_pool_matches_in_process(tree: Path, tmp_path: Path) -> None:
    build_dataset(tree, tmp_path / "serial", workers=0, progress=False)
    summary = build_dataset(tree, tmp_path / "pool", workers=2, progress=True)
    assert summary.count == 30 and len(summary.skipped) == 4
    a, b = load_dataset(tmp_path / "serial"), load_dataset(tmp_path / "pool")
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert a.meta["files"] == b.meta["files"]


def test_build_from_csv(tree: Path, tmp_path: Path) -> None:
    csv_dir = tmp_path / "lists"
    csv_dir.mkdir()
    absolute = tree / "9" / "9_2.bmp"
    (csv_dir / "labels.csv").write_text(
        "path,label\n"
        "../tree/1/1_0.png,1\n"
        f"{absolute},9\n"
        "\n"
        "../tree/2/2_1.jpg, 2\n"
        "../tree/3/3_0.png,eleven\n"
        "../tree/3/3_0.png,12\n"
        "only-one-column\n"
        "../tree/nowhere.png,4\n"
        "../tree/3/text.png,3\n"
    )
    shutil.copytree(tree, tmp_path / "tree")
    summary = build_dataset(csv_dir / "labels.csv", tmp_path / "ds", workers=0, progress=False)
    assert summary.count == 3 and summary.per_class == (0, 1, 1, 0, 0, 0, 0, 0, 0, 1)
    assert [(s.path, s.reason) for s in summary.skipped] == [
        ("labels.csv:6", "label 'eleven' is not a digit 0..9"),
        ("labels.csv:7", "label '12' is not a digit 0..9"),
        ("labels.csv:8", "expected two columns: path,label"),
        ("../tree/nowhere.png", "no such file"),
        ("../tree/3/text.png", "not an image (unknown or unsupported format)"),
    ]
    ds = load_dataset(tmp_path / "ds")
    assert ds.labels.tolist() == [1, 9, 2] and ds.meta["source_kind"] == "csv"
    np.testing.assert_array_equal(ds.images[1], prepare_single_digit(load_image(absolute)))
    with pytest.raises(DataError, match="^" + re.escape(f"{csv_dir}/labels.csv:6: label 'eleven'")):
        build_dataset(csv_dir / "labels.csv", tmp_path / "strict", strict=True, progress=False)


def test_csv_without_header(tree: Path, tmp_path: Path) -> None:
    (tmp_path / "l.csv").write_text(f"{tree / '0' / '0_0.png'},0\n{tree / '8' / '8_1.jpg'},8\n")
    summary = build_dataset(tmp_path / "l.csv", tmp_path / "ds", workers=0, progress=False)
    assert summary.count == 2 and summary.skipped == ()


def test_strict_fails_on_first_bad_file_and_leaves_nothing(tree: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="^" + re.escape(f"{tree}/5/notes.txt: not an image file name")):
        build_dataset(tree, tmp_path / "ds", strict=True, workers=0, progress=False)
    only_images = tmp_path / "src"
    shutil.copytree(tree, only_images, ignore=shutil.ignore_patterns("*.txt"))
    with pytest.raises(DataError, match="^" + re.escape(f"{only_images}/3/text.png: not an image")):
        build_dataset(only_images, tmp_path / "ds", strict=True, workers=2, progress=False)
    assert _leftovers(tmp_path) == ["src"]


def test_interrupted_write_leaves_nothing(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    real_save = folder._save

    def save_then_interrupt(path: Path, write: object) -> None:
        calls.append(path.name)
        if len(calls) == 2:
            raise KeyboardInterrupt
        real_save(path, write)

    monkeypatch.setattr(folder, "_save", save_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        build_dataset(tree, tmp_path / "ds", workers=0, progress=False)
    assert calls == ["images.npy", "labels.npy"]
    assert _leftovers(tmp_path) == []


def test_refusals(tree: Path, tmp_path: Path) -> None:
    (tmp_path / "exists").mkdir()
    with pytest.raises(DataError, match="exists: already exists"):
        build_dataset(tree, tmp_path / "exists", progress=False)
    with pytest.raises(DataError, match="no such folder or CSV file"):
        build_dataset(tmp_path / "absent", tmp_path / "ds", progress=False)
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "a.png").write_bytes(b"")
    with pytest.raises(DataError, match=r"flat: no class folders 0\.\.9"):
        build_dataset(tmp_path / "flat", tmp_path / "ds", progress=False)
    with pytest.raises(DataError, match="a folder of 0..9 class folders or a .csv file"):
        build_dataset(tmp_path / "flat" / "a.png", tmp_path / "ds", progress=False)
    (tmp_path / "bad" / "2").mkdir(parents=True)
    (tmp_path / "bad" / "2" / "x.png").write_bytes(b"")
    with pytest.raises(DataError, match="none of its 1 images could be used"):
        build_dataset(tmp_path / "bad", tmp_path / "ds", progress=False)
    (tmp_path / "empty" / "2").mkdir(parents=True)
    with pytest.raises(DataError, match="no image files found"):
        build_dataset(tmp_path / "empty", tmp_path / "ds", progress=False)
    assert not (tmp_path / "ds").exists()


@pytest.fixture(scope="module")
def built(tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("built") / "ds"
    build_dataset(tree, out, workers=0, progress=False)
    return out


def _copy(built: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(built, target)
    return target


def _edit_index(path: Path, **changes: object) -> None:
    index = json.loads((path / "index.json").read_text())
    index.update(changes)
    (path / "index.json").write_text(json.dumps(index))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda p: (p / "index.json").unlink(), "not a dataset folder"),
        (lambda p: (p / "index.json").write_text("{oops"), "unreadable index"),
        (lambda p: _edit_index(p, format="other"), "not a digitreader dataset index"),
        (lambda p: _edit_index(p, version=99), "dataset format version 99, expected 1"),
        (lambda p: _edit_index(p, preprocessing_version="old"), "built with preprocessing 'old'"),
        (lambda p: _edit_index(p, count=31), "says 31 images, images.npy has 30"),
        (lambda p: (p / "images.npy").write_bytes(b"\x93NUMPY trunc"), "images.npy: unreadable"),
        (lambda p: (p / "labels.npy").unlink(), "labels.npy: missing"),
        (
            lambda p: np.save(p / "images.npy", np.zeros((30, 32, 32), np.uint8)),
            r"expected uint8 \(N, 28, 28\)",
        ),
        (lambda p: np.save(p / "labels.npy", np.zeros(29, np.int64)), "does not match 30 images"),
        (lambda p: np.save(p / "labels.npy", np.full(30, 10)), r"labels outside 0\.\.9"),
    ],
)
def test_load_refuses_damaged(
    built: Path, tmp_path: Path, damage: Callable[[Path], object], message: str
) -> None:
    target = _copy(built, tmp_path)
    damage(target)
    with pytest.raises(DataError, match=message):
        load_dataset(target)


def test_load_missing(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="dataset folder not found"):
        load_dataset(tmp_path / "nope")
