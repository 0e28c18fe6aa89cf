"""export_onnx: real checkpoints -> ONNX files that ONNX Runtime runs like torch, with metadata; refusals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from digitreader.contract import FORMAT
from digitreader.errors import ModelError
from digitreader.files import sha256_file
from digitreader.models.registry import ModelSpec, build_model, list_specs
from digitreader.onnx_engine import OnnxEngine
from digitreader.sequence_engine import SequenceEngine, load_model_file
from digitreader.training.checkpoint import save_checkpoint
from digitreader.training.export import export_onnx, write_card
from digitreader.training.export_sequence import export_sequence_onnx


@pytest.fixture(autouse=True)
def _few_threads() -> None:
    torch.set_num_threads(1)


def _checkpoint(tmp_path: Path, name: str = "softmax", seed: int = 0) -> Path:
    torch.manual_seed(seed)
    model = build_model(name)
    return save_checkpoint(
        tmp_path / f"{name}.pt",
        model_name=name,
        model=model,
        recipe={"epochs": 1},
        epoch=1,
        step=10,
        metrics={"val_accuracy": 0.5},
    )


def _metadata(path: Path) -> dict:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return json.loads(session.get_modelmeta().custom_metadata_map["digitreader"])


def test_export_matches_torch_and_records_metadata(tmp_path: Path, tiny_mnist_dir: Path) -> None:
    ckpt = _checkpoint(tmp_path)
    out = tmp_path / "models" / "m.onnx"  # the parent is created
    result = export_onnx(ckpt, out, data_dir=tiny_mnist_dir, n_check=100)
    assert out.is_file() and result.sha256 == sha256_file(out)
    assert result.check_data == "MNIST test" and result.images_checked == 100
    assert result.max_abs_diff <= 1e-4 and result.argmax_agreement == 1.0
    assert result.accuracy is not None and 0.0 <= result.accuracy <= 1.0

    meta = _metadata(out)
    assert meta["format"] == FORMAT
    assert meta["model"] == "softmax"
    assert meta["labels"] == list(range(10))
    assert meta["metrics"] == {"val_accuracy": 0.5}
    assert meta["preprocessing"]["size"] == 28
    assert meta["source"] == {"checkpoint": "softmax.pt", "sha256": sha256_file(ckpt), "epoch": 1, "step": 10}
    assert meta["export"]["checked_images"] == 100
    assert list(tmp_path.glob("models/.*tmp")) == []


def test_dynamic_batch_and_probabilities(tmp_path: Path, tiny_mnist_dir: Path) -> None:
    out = tmp_path / "m.onnx"
    export_onnx(_checkpoint(tmp_path), out, data_dir=tiny_mnist_dir, n_check=20)
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["image"]
    assert [o.name for o in session.get_outputs()] == ["probabilities"]
    for n in (1, 3, 64):
        batch = np.random.default_rng(n).random((n, 1, 28, 28), dtype=np.float32)
        (probs,) = session.run(["probabilities"], {"image": batch})
        assert probs.shape == (n, 10)
        np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_real_mnist_1000_images_within_tolerance(tmp_path: Path, mnist_dir: Path) -> None:
    out = tmp_path / "cnn.onnx"
    result = export_onnx(_checkpoint(tmp_path, "cnn"), out, data_dir=mnist_dir)
    assert result.images_checked == 1000 and result.check_data == "MNIST test"
    assert result.max_abs_diff <= 1e-4
    # The file is one the reading path accepts.
    engine = OnnxEngine.load(out)
    assert engine.metadata["model"] == "cnn"
    assert engine.classify(np.zeros((2, 28, 28), np.uint8)).shape == (2, 10)


@pytest.mark.parametrize("spec", list_specs(), ids=lambda spec: spec.name)
def test_every_registered_model_exports_to_a_file_reading_accepts(
    spec: ModelSpec, tmp_path: Path, tiny_mnist_dir: Path
) -> None:
    out = tmp_path / f"{spec.name}.onnx"
    if spec.kind == "sequence":
        result = export_sequence_onnx(
            _checkpoint(tmp_path, spec.name), out, data_dir=tiny_mnist_dir, n_check=4
        )
    else:
        result = export_onnx(_checkpoint(tmp_path, spec.name), out, data_dir=tiny_mnist_dir, n_check=20)
    assert result.max_abs_diff <= 1e-4 and result.sha256 == sha256_file(out)
    engine = load_model_file(out, threads=1)  # what `digits read --model` does with it
    assert engine.metadata["model"] == spec.name
    if spec.kind == "sequence":
        assert isinstance(engine, SequenceEngine)
    else:
        assert isinstance(engine, OnnxEngine)
        assert engine.classify(np.zeros((3, 28, 28), np.uint8)).shape == (3, 10)


def test_synthetic_check_without_mnist(tmp_path: Path) -> None:
    empty = tmp_path / "no-mnist"
    empty.mkdir()
    result = export_onnx(_checkpoint(tmp_path), tmp_path / "m.onnx", data_dir=empty, n_check=30)
    assert result.check_data == "synthetic" and result.accuracy is None
    assert result.max_abs_diff <= 1e-4


def test_refuses_to_write_when_onnx_disagrees(tmp_path: Path, tiny_mnist_dir: Path) -> None:
    out = tmp_path / "m.onnx"
    out.write_bytes(b"previous model")
    with pytest.raises(ModelError, match=r"m\.onnx: not written: ONNX Runtime and torch differ"):
        # A negative tolerance no real difference can meet stands in for a broken export.
        export_onnx(_checkpoint(tmp_path), out, data_dir=tiny_mnist_dir, n_check=10, tolerance=-1.0)
    assert out.read_bytes() == b"previous model"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx", "softmax.pt"]


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all"])
def test_bad_checkpoint_one_line(tmp_path: Path, content: bytes) -> None:
    bad = tmp_path / "bad.pt"
    bad.write_bytes(content)
    with pytest.raises(ModelError) as info:
        export_onnx(bad, tmp_path / "m.onnx", n_check=5)
    assert str(info.value).startswith(str(bad)) and "\n" not in str(info.value)
    assert not (tmp_path / "m.onnx").exists()


def test_card_describes_the_file(tmp_path: Path, tiny_mnist_dir: Path) -> None:
    out = tmp_path / "m.onnx"
    result = export_onnx(_checkpoint(tmp_path), out, data_dir=tiny_mnist_dir, n_check=10)
    card = tmp_path / "m.json"
    write_card(result, card, command="digits export softmax.pt --out m.onnx", data="tiny", notes="test")
    body = json.loads(card.read_text())
    assert body["file"] == "m.onnx" and body["sha256"] == sha256_file(out)
    assert body["model"] == "softmax" and body["data"] == "tiny"
    assert body["command"].startswith("digits export")
    assert body["metrics"] == {"val_accuracy": 0.5}
