"""`digits data info|show|build` through `digitreader.cli.main`: exit codes, output, files written."""

from __future__ import annotations

import functools
import shutil
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from digitreader.cli import main


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["data", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("digits: error: "), err
    return lines[0]


def test_info_tiny(capsys: pytest.CaptureFixture[str], tiny_mnist_dir: Path) -> None:
    code, out, _ = _run(capsys, "info", "--data-dir", str(tiny_mnist_dir), "--no-download")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"MNIST from {tiny_mnist_dir}"
    assert lines[1].split() == ["split", "images", "shape", *map(str, range(10))]
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:5]}
    assert {k: v[:2] for k, v in rows.items()} == {
        "train": ["550", "28x28"],
        "validation": ["50", "28x28"],
        "test": ["200", "28x28"],
    }
    assert sum(map(int, rows["test"][2:])) == 200


def test_info_real(capsys: pytest.CaptureFixture[str], mnist_dir: Path) -> None:
    code, out, _ = _run(capsys, "info", "--data-dir", str(mnist_dir), "--no-download")
    assert code == 0
    assert "train        55000  28x28  5431  6175" in out
    assert "test         10000  28x28   980  1135" in out


def test_missing_data_dir(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = _run(capsys, "info", "--data-dir", str(tmp_path / "absent"), "--no-download")
    assert code == 2 and out == ""
    assert f"{tmp_path / 'absent'}: MNIST folder not found" in _one_line_error(err)


def test_corrupt_file(capsys: pytest.CaptureFixture[str], tiny_mnist_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "mnist"
    shutil.copytree(tiny_mnist_dir, data)
    labels = data / "train-labels-idx1-ubyte.gz"
    labels.write_bytes(labels.read_bytes()[:-20])
    code, _, err = _run(capsys, "show", "--data-dir", str(data), "--out", str(tmp_path / "s.png"))
    assert code == 2
    assert f"{labels}: truncated gzip file" in _one_line_error(err)
    assert not (tmp_path / "s.png").exists()


@pytest.fixture
def empty_mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A local HTTP server with nothing on it (every file 404), set as the only MNIST mirror."""
    (tmp_path / "www").mkdir()

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(tmp_path / "www"))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/"
    monkeypatch.setenv("DIGITREADER_MNIST_MIRRORS", url)
    for var in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    yield url
    httpd.shutdown()
    httpd.server_close()


def test_download_failure_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, empty_mirror: str
) -> None:
    code, _, err = _run(capsys, "info", "--data-dir", str(tmp_path / "fresh"))
    assert code == 2
    line = _one_line_error(err)
    name = "train-images-idx3-ubyte.gz"
    dest = tmp_path / "fresh" / name
    assert line == (
        f"digits: error: {dest}: download failed: {empty_mirror}{name} (HTTP 404); no MNIST files were in "
        f"{tmp_path / 'fresh'} (point --data-dir or $DIGITREADER_DATA at the folder that has them)"
    )
    assert not (tmp_path / "fresh").exists()  # nothing half-downloaded, and no folder made for nothing


def test_show(capsys: pytest.CaptureFixture[str], tiny_mnist_dir: Path, tmp_path: Path) -> None:
    out_png = tmp_path / "grid.png"
    args = ["show", "--data-dir", str(tiny_mnist_dir), "--split", "validation", "--count", "12"]
    code, out, _ = _run(capsys, *args, "--out", str(out_png))
    assert code == 0 and out.strip() == f"wrote {out_png} (12 validation images)"
    with Image.open(out_png) as img:
        assert img.format == "PNG" and img.width >= 4 * 56 and img.height > 3 * 56
    first = out_png.read_bytes()
    code, _, _ = _run(capsys, *args, "--out", str(out_png))
    assert code == 0 and out_png.read_bytes() == first  # the same sample every time
    code, _, err = _run(capsys, *args[:-1], "0", "--out", str(out_png))
    assert code == 2 and "--count 0: must be at least 1" in _one_line_error(err)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    for d in (1, 7):
        (src / str(d)).mkdir(parents=True)
        for ext in ("png", "jpg", "bmp"):
            img = np.full((60, 48), 255, np.uint8)
            cv2.putText(img, str(d), (6, 50), cv2.FONT_HERSHEY_SIMPLEX, 1.8, 0, 5)
            cv2.imwrite(str(src / str(d) / f"a.{ext}"), img)
    (src / "7" / "broken.png").write_text("not a png")
    return src


def test_build_info_show_dataset(capsys: pytest.CaptureFixture[str], tree: Path, tmp_path: Path) -> None:
    ds = tmp_path / "ds"
    code, out, _ = _run(capsys, "build", str(tree), "--out", str(ds), "--workers", "0")
    assert code == 0
    assert out.splitlines() == [
        f"built {ds}: 6 images from {tree} (per class 0:0 1:3 2:0 3:0 4:0 5:0 6:0 7:3 8:0 9:0)",
        "skipped 1:",
        "  7/broken.png: not an image (unknown or unsupported format)",
    ]
    code, out, _ = _run(capsys, "info", "--dataset", str(ds))
    assert code == 0 and out.startswith(f"dataset {ds} (from folder {tree}")
    assert "all         6  28x28  0  3  0  0  0  0  0  3  0  0" in out
    code, out, _ = _run(capsys, "show", "--dataset", str(ds), "--out", str(tmp_path / "g.png"))
    assert code == 0 and out.strip() == f"wrote {tmp_path / 'g.png'} (6 images)"
    code, _, err = _run(capsys, "build", str(tree), "--out", str(ds))
    assert code == 2 and "already exists" in _one_line_error(err)


def test_build_strict(capsys: pytest.CaptureFixture[str], tree: Path, tmp_path: Path) -> None:
    code, out, err = _run(
        capsys, "build", str(tree), "--out", str(tmp_path / "ds"), "--strict", "--workers", "0"
    )
    assert code == 2 and out == ""
    assert f"{tree}/7/broken.png: not an image" in _one_line_error(err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


def test_info_bad_dataset(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = _run(capsys, "info", "--dataset", str(tmp_path))
    assert code == 2 and "not a dataset folder" in _one_line_error(err)
