"""`digits export`: a real checkpoint to ONNX (+ card) through the CLI; bad checkpoints exit 2, one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from digitreader.cli import main
from digitreader.models.registry import build_model
from digitreader.training.checkpoint import save_checkpoint
from digitreader.training.export import sha256_file


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
    assert body["command"].startswith("digits export ")


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
