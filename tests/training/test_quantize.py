"""int8 export: a trained checkpoint -> a smaller QDQ graph checked against the float one; its refusals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from digitreader import Recognizer
from digitreader.data.idx import read_idx
from digitreader.data.mnist import load_mnist
from digitreader.errors import ModelError
from digitreader.models.registry import build_model
from digitreader.training import quantize
from digitreader.training.checkpoint import save_checkpoint
from digitreader.training.export import export_onnx
from digitreader.training.onnx_io import synthetic_images


@pytest.fixture(autouse=True)
def _few_threads() -> None:
    torch.set_num_threads(1)


def _metadata(path: Path) -> dict:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return json.loads(session.get_modelmeta().custom_metadata_map["digitreader"])


def _written_accuracy(path: Path, mnist: Path, n: int) -> float:
    """Accuracy of the ONNX file at `path` on the first `n` test digits of `mnist`, read back from disk."""
    images = read_idx(mnist / "t10k-images-idx3-ubyte.gz")[:n]
    labels = read_idx(mnist / "t10k-labels-idx1-ubyte.gz")[:n]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (probs,) = session.run(None, {"image": images.astype(np.float32)[:, None] / 255.0})
    return float((probs.argmax(1) == labels).mean())


def _int8_weights(path: Path) -> int:
    return sum(t.data_type == onnx.TensorProto.INT8 for t in onnx.load(str(path)).graph.initializer)


def test_int8_export_is_smaller_checked_and_readable(
    tmp_path: Path, tiny_mnist_dir: Path, trained_checkpoint: Path
) -> None:
    float_out, int8_out = tmp_path / "f.onnx", tmp_path / "q.onnx"
    plain = export_onnx(trained_checkpoint, float_out, data_dir=tiny_mnist_dir, n_check=200)
    result = export_onnx(trained_checkpoint, int8_out, data_dir=tiny_mnist_dir, n_check=200, int8=True)
    assert plain.quantization is None and "quantization" not in _metadata(float_out)["export"]
    assert int8_out.stat().st_size < float_out.stat().st_size / 2
    assert _int8_weights(int8_out) > 0 and _int8_weights(float_out) == 0
    # The float graph passed its torch check exactly as without --int8.
    assert result.max_abs_diff <= 1e-4 and result.max_abs_diff == plain.max_abs_diff

    export = _metadata(int8_out)["export"]
    q = export["quantization"]
    assert q == result.quantization
    assert q["scheme"] == quantize.SCHEME
    assert (q["calibration_data"], q["calibration_images"]) == ("MNIST train", 512)
    assert q["argmax_agreement_vs_float"] >= quantize.MIN_AGREEMENT
    assert 0 < q["max_abs_diff_vs_float"] <= quantize.MAX_PROB_DIFF  # really rounded, within bounds
    assert q["float_onnx_accuracy"] == plain.accuracy
    # onnx_accuracy is the written int8 graph's own, recomputed here from the file.
    assert export["onnx_accuracy"] == result.accuracy == _written_accuracy(int8_out, tiny_mnist_dir, 200)

    # The reading path loads it as any model and reads with it.
    recognizer = Recognizer.load(int8_out, threads=1)
    assert recognizer.metadata["export"]["quantization"]["scheme"] == quantize.SCHEME
    page = np.full((60, 60), 255, np.uint8)
    page[16:44, 16:44] = 255 - read_idx(tiny_mnist_dir / "t10k-images-idx3-ubyte.gz")[0]
    reading = recognizer.read(page, mode="digit")
    assert len(reading.digits) == 1 and 0 <= reading.digits[0].label <= 9
    assert list(tmp_path.glob(".*tmp")) == []


@pytest.fixture()
def quantises_another_model(tmp_path: Path, tiny_mnist_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The quantiser returns a real int8 graph, but of a different (untrained) model: it reads digits unlike
    the trained one, so the check against the float graph must catch it."""
    torch.manual_seed(1)
    other = save_checkpoint(tmp_path / "other.pt", model_name="fast", model=build_model("fast"), recipe={})
    export_onnx(other, tmp_path / "other.onnx", data_dir=tiny_mnist_dir, n_check=10)
    other_bytes = (tmp_path / "other.onnx").read_bytes()
    real = quantize.quantize_int8
    monkeypatch.setattr(quantize, "quantize_int8", lambda _float, calibration: real(other_bytes, calibration))


@pytest.mark.usefixtures("quantises_another_model")
def test_refuses_an_int8_graph_that_reads_differently(
    tmp_path: Path, tiny_mnist_dir: Path, trained_checkpoint: Path
) -> None:
    out = tmp_path / "m.onnx"
    out.write_bytes(b"previous model")
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(ModelError) as info:
        export_onnx(trained_checkpoint, out, data_dir=tiny_mnist_dir, n_check=100, int8=True)
    message = str(info.value)
    assert message.startswith(f"{out}: not written: the int8 graph agrees with the float graph on ")
    assert message.endswith("export without --int8") and "\n" not in message
    assert out.read_bytes() == b"previous model"
    assert sorted(p.name for p in tmp_path.iterdir()) == before


@pytest.mark.usefixtures("quantises_another_model")
def test_recorded_accuracy_is_the_written_graphs(
    tmp_path: Path, tiny_mnist_dir: Path, trained_checkpoint: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With the bounds opened, a graph that reads unlike the float one is written: its accuracy is recorded.
    monkeypatch.setattr(quantize, "MIN_AGREEMENT", 0.0)
    monkeypatch.setattr(quantize, "MAX_PROB_DIFF", 1.0)
    out = tmp_path / "m.onnx"
    result = export_onnx(trained_checkpoint, out, data_dir=tiny_mnist_dir, n_check=100, int8=True)
    written = _written_accuracy(out, tiny_mnist_dir, 100)
    export = _metadata(out)["export"]
    assert export["onnx_accuracy"] == result.accuracy == written
    assert written != export["quantization"]["float_onnx_accuracy"]


def test_refuses_probabilities_further_than_the_bound(
    tmp_path: Path, tiny_mnist_dir: Path, trained_checkpoint: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Same argmax everywhere, but the real rounding (> 0, see above) exceeds a bound of 0.
    monkeypatch.setattr(quantize, "MAX_PROB_DIFF", 0.0)
    out = tmp_path / "m.onnx"
    refused = r"m\.onnx: not written: .* on 100\.0% of 50 images, max \|prob diff"
    with pytest.raises(ModelError, match=refused):
        export_onnx(trained_checkpoint, out, data_dir=tiny_mnist_dir, n_check=50, int8=True)
    assert not out.exists()


def test_refuses_a_model_with_nothing_to_quantise(tmp_path: Path, tiny_mnist_dir: Path) -> None:
    torch.manual_seed(0)
    ckpt = save_checkpoint(tmp_path / "s.pt", model_name="softmax", model=build_model("softmax"), recipe={})
    out = tmp_path / "s.onnx"
    with pytest.raises(ModelError, match=r"s\.onnx: not written: no weights were quantised .*without --int8"):
        export_onnx(ckpt, out, data_dir=tiny_mnist_dir, n_check=10, int8=True)
    assert not out.exists()


def test_calibration_is_a_seeded_sample_of_the_training_split(tiny_mnist_dir: Path, tmp_path: Path) -> None:
    images, source = quantize.calibration_images(tiny_mnist_dir)
    again, _ = quantize.calibration_images(tiny_mnist_dir)
    assert source == "MNIST train" and images.shape == (512, 28, 28) and images.dtype == np.uint8
    assert np.array_equal(images, again)
    data = load_mnist(tiny_mnist_dir, download=False)
    train = {img.tobytes() for img in data.train_images}
    never = {img.tobytes() for img in (*data.val_images, *data.test_images)}
    assert all(img.tobytes() in train and img.tobytes() not in never for img in images)

    empty = tmp_path / "no-mnist"
    empty.mkdir()
    fallback, source = quantize.calibration_images(empty, n=30)
    assert source == "synthetic" and fallback.shape == (30, 28, 28)
    assert not np.array_equal(fallback, synthetic_images(30))  # not the synthetic check images


@pytest.mark.parametrize(
    ("agreement", "diff", "ok"),
    [(1.0, 0.0, True), (0.998, 0.05, True), (0.997, 0.0, False), (1.0, 0.051, False), (1.0, np.nan, False)],
)
def test_passes_bounds(agreement: float, diff: float, ok: bool) -> None:
    assert quantize.passes(agreement, diff) is ok
