"""Ensembles: several checkpoints -> one ONNX graph whose probabilities are the members' average."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from digitreader.cli import main
from digitreader.contract import FORMAT
from digitreader.errors import ModelError
from digitreader.files import sha256_file
from digitreader.models.registry import build_model
from digitreader.onnx_engine import OnnxEngine
from digitreader.training.checkpoint import build_model_from_checkpoint, load_checkpoint, save_checkpoint
from digitreader.training.ensemble import Ensemble, export_ensemble_onnx


@pytest.fixture(autouse=True)
def _few_threads() -> None:
    torch.set_num_threads(1)


def _checkpoint(tmp_path: Path, name: str, seed: int, config: dict | None = None, **metrics: float) -> Path:
    torch.manual_seed(seed)
    model = build_model(name, config)
    return save_checkpoint(
        tmp_path / f"{name}-{seed}.pt",
        model_name=name,
        model=model,
        recipe={"epochs": 1},
        epoch=1,
        step=5,
        metrics=dict(metrics),
    )


def _members(tmp_path: Path) -> list[Path]:
    # Two families with different normalisation constants (mean/std live inside each member's graph).
    return [
        _checkpoint(tmp_path, "fast", 1, {"widths": [4, 8, 8]}, test_accuracy=0.9),
        _checkpoint(tmp_path, "mlp", 2, {"hidden": [16]}, test_accuracy=0.8),
    ]


def _torch_average(paths: list[Path], batch: np.ndarray) -> np.ndarray:
    """The members' probabilities averaged, computed member by member in torch."""
    with torch.no_grad():
        probs = [
            torch.softmax(build_model_from_checkpoint(load_checkpoint(p))(torch.from_numpy(batch)), dim=1)
            for p in paths
        ]
    return torch.stack(probs).mean(0).numpy()


def test_ensemble_export_is_one_graph_averaging_the_members(tmp_path: Path, tiny_mnist_dir: Path) -> None:
    members = _members(tmp_path)
    out = tmp_path / "ensemble.onnx"
    result = export_ensemble_onnx(members, out, data_dir=tiny_mnist_dir, n_check=50)
    assert result.max_abs_diff <= 1e-4 and result.check_data == "MNIST test"

    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["image"]
    assert [o.name for o in session.get_outputs()] == ["probabilities"]
    batch = np.random.default_rng(0).random((7, 1, 28, 28), dtype=np.float32)
    (got,) = session.run(["probabilities"], {"image": batch})
    np.testing.assert_allclose(got, _torch_average(members, batch), atol=1e-5)
    # Not just one member's answer: the average differs from each member alone.
    for path in members:
        assert np.abs(got - _torch_average([path], batch)).max() > 1e-3

    meta = json.loads(session.get_modelmeta().custom_metadata_map["digitreader"])
    assert meta["format"] == FORMAT and meta["model"] == "ensemble"
    assert [m["checkpoint"] for m in meta["members"]] == ["fast-1.pt", "mlp-2.pt"]
    assert [m["sha256"] for m in meta["members"]] == [sha256_file(p) for p in members]
    assert meta["metrics"]["member_test_accuracy"] == [0.9, 0.8]
    assert "mean" not in meta["preprocessing"] and meta["preprocessing"]["size"] == 28
    assert OnnxEngine.load(out).classify(np.zeros((2, 28, 28), np.uint8)).shape == (2, 10)


def test_ensemble_int8_goes_through_the_same_check(
    tmp_path: Path, tiny_mnist_dir: Path, trained_checkpoint: Path
) -> None:
    members = [tmp_path / "a.pt", tmp_path / "b.pt"]
    for member in members:
        shutil.copy(trained_checkpoint, member)
    out = tmp_path / "e8.onnx"
    result = export_ensemble_onnx(members, out, data_dir=tiny_mnist_dir, n_check=100, int8=True)
    assert result.max_abs_diff <= 1e-4 and result.quantization is not None
    meta = OnnxEngine.load(out).metadata
    assert meta["model"] == "ensemble" and meta["export"]["quantization"] == result.quantization
    assert result.quantization["argmax_agreement_vs_float"] >= 0.998


def test_ensemble_module_returns_log_of_the_mean_probability() -> None:
    torch.manual_seed(0)
    a, b = build_model("softmax").eval(), build_model("softmax").eval()
    x = torch.rand(4, 1, 28, 28)
    with torch.no_grad():
        expected = (torch.softmax(a(x), 1) + torch.softmax(b(x), 1)) / 2
        got = torch.softmax(Ensemble([a, b])(x), 1)
    torch.testing.assert_close(got, expected)


def test_cli_exports_several_checkpoints_as_one_file(
    tmp_path: Path, tiny_mnist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    members = _members(tmp_path)
    out = tmp_path / "e.onnx"
    flags = ["--out", str(out), "--data-dir", str(tiny_mnist_dir), "--check", "20"]
    assert main(["export", *map(str, members), *flags]) == 0
    assert "wrote" in capsys.readouterr().out
    assert OnnxEngine.load(out).metadata["model"] == "ensemble"


def test_members_that_frame_digits_differently_are_refused(tmp_path: Path, tiny_mnist_dir: Path) -> None:
    members = _members(tmp_path)
    ckpt = load_checkpoint(members[1])
    state = dict(ckpt.state)
    state["preprocessing"] = {**ckpt.preprocessing, "box": 16}
    torch.save(state, members[1])
    out = tmp_path / "e.onnx"
    with pytest.raises(ModelError, match="prepares digits differently"):
        export_ensemble_onnx(members, out, data_dir=tiny_mnist_dir, n_check=10)
    assert not out.exists()


def test_one_checkpoint_is_not_an_ensemble(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="at least two"):
        export_ensemble_onnx([_members(tmp_path)[0]], tmp_path / "e.onnx")
