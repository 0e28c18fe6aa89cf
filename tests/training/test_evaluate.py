"""Evaluation numbers: confusion matrix, per-class precision/recall, and `evaluate` against a hand count."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from digitreader.data.mnist import load_mnist
from digitreader.models.registry import build_model
from digitreader.training.checkpoint import save_checkpoint
from digitreader.training.evaluate import confusion_matrix, evaluate, per_class_stats, predict_logits


def test_confusion_and_per_class_stats_by_hand() -> None:
    labels = np.array([0, 0, 1, 1, 2])
    predictions = np.array([0, 1, 1, 1, 1])
    matrix = confusion_matrix(labels, predictions, classes=3)
    assert matrix.tolist() == [[1, 1, 0], [0, 2, 0], [0, 1, 0]]
    stats = per_class_stats(matrix)
    assert (stats[0].precision, stats[0].recall, stats[0].support) == (1.0, 0.5, 2)
    assert (stats[1].precision, stats[1].recall) == (0.5, 1.0)
    assert math.isnan(stats[2].precision) and stats[2].recall == 0.0


def test_evaluate_matches_a_direct_count(tiny_mnist_dir: Path, tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = build_model("mlp")
    save_checkpoint(tmp_path / "m.pt", model_name="mlp", model=model, recipe={})
    report = evaluate(tmp_path / "m.pt", split="test", data_dir=tiny_mnist_dir, out=tmp_path / "eval")
    images, labels = load_mnist(tiny_mnist_dir).split("test")
    predictions = predict_logits(model, torch.from_numpy(images)).argmax(1).numpy()
    assert report.count == len(labels) == 200
    assert report.accuracy == float((predictions == labels).mean())
    assert report.errors == int((predictions != labels).sum())
    assert report.confusion.sum() == 200 and np.trace(report.confusion) == 200 - report.errors
    assert report.confusion_png == tmp_path / "eval" / "confusion.png" and report.confusion_png.is_file()
    assert report.errors_png is not None and report.errors_png.is_file()


def test_evaluate_scores_an_exported_onnx_model_like_its_checkpoint(
    tiny_mnist_dir: Path, tmp_path: Path
) -> None:
    from digitreader.training.export import export_model

    torch.manual_seed(1)
    model = build_model("mlp").eval()
    save_checkpoint(tmp_path / "m.pt", model_name="mlp", model=model, recipe={})
    images, _ = load_mnist(tiny_mnist_dir).split("test")
    export_model(model, tmp_path / "m.onnx", {"model": "mlp"}, images=images[:50], check_data="tiny test")
    from_onnx = evaluate(tmp_path / "m.onnx", split="test", data_dir=tiny_mnist_dir)
    from_pt = evaluate(tmp_path / "m.pt", split="test", data_dir=tiny_mnist_dir, out=tmp_path / "pt")
    assert from_onnx.model_name == "mlp" and from_onnx.count == 200
    assert np.array_equal(from_onnx.confusion, from_pt.confusion)
    assert (tmp_path / "eval-test" / "confusion.png").is_file()  # beside the .onnx by default


def test_evaluating_the_bundled_model_writes_into_the_working_folder(
    tmp_path: Path, tiny_mnist_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The package's weights folder is no place for a user's pictures (and is often read-only)."""
    from digitreader.onnx_engine import DEFAULT_MODEL, WEIGHTS_DIR

    before = sorted(p.name for p in WEIGHTS_DIR.iterdir())
    monkeypatch.chdir(tmp_path)
    report = evaluate(DEFAULT_MODEL, split="test", data_dir=tiny_mnist_dir)
    assert (tmp_path / "eval-default-test" / "confusion.png").is_file()
    assert sorted(p.name for p in WEIGHTS_DIR.iterdir()) == before
    assert 0.0 <= report.accuracy <= 1.0
