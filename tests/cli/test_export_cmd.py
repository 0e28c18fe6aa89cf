"""`digits export`: a real checkpoint to ONNX (+ card) through the CLI; bad checkpoints exit 2, one line."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from digitreader.cli import main
from digitreader.data.idx import read_idx
from digitreader.files import sha256_file
from digitreader.models.registry import build_model
from digitreader.training.checkpoint import save_checkpoint


@pytest.fixture
def checkpoint(tmp_path: Path) -> Path:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    return save_checkpoint(tmp_path / "run.pt", model_name="softmax", model=build_model("softmax"), recipe={})


def test_export_writes_model_and_card(
    checkpoint: Path, tmp_path: Path, tiny_mnist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, card = tmp_path / "model.onnx", tmp_path / "model.json"
    argv = ["export", str(checkpoint), "--out", str(out), "--data-dir", str(tiny_mnist_dir), "--check", "50"]
    assert main([*argv, "--card", str(card), "--notes", "cli test"]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out}" in printed and "on 50 MNIST test images" in printed
    body = json.loads(card.read_text())
    assert body["sha256"] == sha256_file(out) and body["notes"] == "cli test"
    # The card travels with the model: the exporting machine's MNIST folder is named, not its path.
    assert (
        body["command"]
        == f"digits export {checkpoint} --data-dir MNIST_DIR --check 50 --out {out} --card {card}"
    )
    assert str(tiny_mnist_dir) not in card.read_text()


def test_a_model_exported_into_the_checkout_records_its_clean_commit(
    checkpoint: Path, tmp_path: Path, tiny_mnist_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The bundled model's file and card are tracked: writing them made the checkout "-dirty" before the
    # card asked git for its commit, so every re-export of the bundled model recorded a -dirty commit.
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", "-C", str(repo)]
    (repo / "model.onnx").write_bytes(b"old model")
    (repo / "model.json").write_text("{}")
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "bundled model"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout
    monkeypatch.chdir(repo)
    argv = ["export", str(checkpoint), "--out", "model.onnx", "--card", "model.json", "--check", "20"]
    assert main([*argv, "--data-dir", str(tiny_mnist_dir)]) == 0
    assert json.loads((repo / "model.json").read_text())["commit"] == head.strip()
    status = subprocess.run(
        [*git, "status", "--porcelain"], check=True, capture_output=True, text=True
    ).stdout
    assert "model.onnx" in status  # the export did change the checkout


def test_bad_checkpoint_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "notes.pt"
    bad.write_text("hello")
    assert main(["export", str(bad), "--out", str(tmp_path / "m.onnx")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"digits: error: {bad}: ") and err.count("\n") == 1
    assert not (tmp_path / "m.onnx").exists()


def test_missing_checkpoint_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", str(tmp_path / "nope.pt"), "--out", str(tmp_path / "m.onnx")]) == 2
    assert "nope.pt: no such checkpoint file" in capsys.readouterr().err


def test_says_when_the_check_ran_without_mnist(
    checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    argv = [
        "export",
        str(checkpoint),
        "--out",
        str(tmp_path / "m.onnx"),
        "--data-dir",
        str(empty),
        "--check",
        "20",
    ]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "on 20 synthetic images" in printed and f"MNIST test files not found in {empty}" in printed


def test_int8_export_end_to_end(
    trained_checkpoint: Path, tmp_path: Path, tiny_mnist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, card = tmp_path / "q.onnx", tmp_path / "q.json"
    argv = ["export", str(trained_checkpoint), "--int8", "--out", str(out), "--card", str(card)]
    assert main([*argv, "--data-dir", str(tiny_mnist_dir), "--check", "100"]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out} (sha256 " in printed and ", int8): float graph max |ONNX - torch| = " in printed
    assert "on 100 MNIST test images; int8 vs float: argmax agreement 100.00%" in printed
    assert "(calibrated on 512 MNIST train images)" in printed
    body = json.loads(card.read_text())
    assert body["sha256"] == sha256_file(out) and "--int8" in body["command"].split()
    assert body["export_check"]["quantization"]["calibration_data"] == "MNIST train"

    # The int8 file is read like any model.
    digit = tmp_path / "digit.png"
    Image.fromarray(np.pad(read_idx(tiny_mnist_dir / "t10k-images-idx3-ubyte.gz")[0], 20)).save(digit)
    assert main(["read", str(digit), "--mode", "digit", "--model", str(out)]) == 0
    assert capsys.readouterr().out.startswith(f"{digit}: ")


def test_int8_refusal_exits_2_one_line(
    tmp_path: Path, tiny_mnist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    torch.manual_seed(0)
    model = build_model("softmax")  # all Gemm: nothing for int8 to quantise
    softmax = save_checkpoint(tmp_path / "s.pt", model_name="softmax", model=model, recipe={})
    out = tmp_path / "s.onnx"
    argv = ["export", str(softmax), "--int8", "--out", str(out), "--data-dir", str(tiny_mnist_dir)]
    assert main([*argv, "--check", "10"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"digits: error: {out}: not written: ") and err.count("\n") == 1
    assert "export without --int8" in err and not out.exists()
