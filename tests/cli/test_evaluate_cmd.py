"""`digits evaluate` through `digitreader.cli.main`: the table, the PNGs, and bad checkpoints."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from PIL import Image

from digitreader.cli import main
from digitreader.training.train import TrainConfig, train


@pytest.fixture(scope="module")
def trained(tiny_mnist_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    threads = torch.get_num_threads()
    out = tmp_path_factory.mktemp("run")
    config = TrainConfig(
        model="softmax", out=out, epochs=2, data_dir=tiny_mnist_dir, progress=False, tensorboard=False
    )
    train(config)
    torch.set_num_threads(threads)
    return out / "best.pt"


def test_prints_accuracy_table_and_writes_pngs(
    capsys: pytest.CaptureFixture[str], trained: Path, tiny_mnist_dir: Path, tmp_path: Path
) -> None:
    code = main(["evaluate", str(trained), "--data-dir", str(tiny_mnist_dir), "--out", str(tmp_path)])
    out, err = capsys.readouterr()
    assert code == 0, err
    lines = out.splitlines()
    assert lines[1].startswith("accuracy ") and "/200" in lines[1]
    assert lines[2].split() == ["digit", "precision", "recall", "support"]
    assert [line.split()[0] for line in lines[3:13]] == [str(d) for d in range(10)]
    assert sum(int(line.split()[-1]) for line in lines[3:13]) == 200
    confusion = tmp_path / "confusion.png"
    assert f"confusion matrix: {confusion}" in out
    with Image.open(confusion) as image:
        assert image.format == "PNG" and image.width > 200
    if "errors: none" not in out:
        with Image.open(tmp_path / "errors.png") as image:
            assert image.format == "PNG"


def test_validation_split_default_out_beside_checkpoint(
    capsys: pytest.CaptureFixture[str], trained: Path, tiny_mnist_dir: Path
) -> None:
    code = main(["evaluate", str(trained), "--split", "validation", "--data-dir", str(tiny_mnist_dir)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "validation split" in out and "/50" in out.splitlines()[1]
    assert (trained.parent / "eval-validation" / "confusion.png").is_file()


@pytest.mark.parametrize("content", [b"", os.urandom(2000)], ids=["empty", "random"])
def test_bad_checkpoint_is_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, tiny_mnist_dir: Path, content: bytes
) -> None:
    bad = tmp_path / "bad.pt"
    bad.write_bytes(content)
    code = main(["evaluate", str(bad), "--data-dir", str(tiny_mnist_dir)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and str(bad) in err[0] and err[0].startswith("digits: error: ")
