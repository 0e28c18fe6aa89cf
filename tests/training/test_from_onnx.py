"""A torch sequence reader rebuilt from an ONNX file reads as ONNX Runtime reads the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from digitreader.contract import FORMAT
from digitreader.errors import ModelError
from digitreader.models.crnn import Crnn, CrnnConfig
from digitreader.sequence_engine import DEFAULT_SEQUENCE_MODEL
from digitreader.training.export_sequence import checked_onnx
from digitreader.training.from_onnx import freeze_batchnorm, sequence_model_from_onnx
from digitreader.training.onnx_io import with_metadata
from digitreader.training.sequence import pad_strips


def _strips(seed: int, widths: tuple[int, ...] = (20, 64, 150)) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [np.where(rng.random((32, w)) < 0.15, 255, 0).astype(np.uint8) for w in widths]


def _onnx_probs(path_or_bytes: Path | bytes, strip: np.ndarray) -> np.ndarray:
    data = path_or_bytes.read_bytes() if isinstance(path_or_bytes, Path) else path_or_bytes
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    x, _ = pad_strips([strip])
    return np.asarray(session.run(["probabilities"], {"strip": x.numpy()})[0])


def _torch_probs(model: Crnn, strip: np.ndarray) -> np.ndarray:
    x, _ = pad_strips([strip])
    with torch.inference_mode():
        return model.eval()(x).softmax(-1).numpy()


def test_the_bundled_reader_rebuilt_from_its_onnx_file_reads_as_onnx_runtime() -> None:
    model, metadata = sequence_model_from_onnx(DEFAULT_SEQUENCE_MODEL)
    assert metadata["kind"] == "sequence" and metadata["model"] == "crnn"
    for strip in _strips(0):
        expected = _onnx_probs(DEFAULT_SEQUENCE_MODEL, strip)
        assert np.abs(_torch_probs(model, strip) - expected).max() < 1e-5


def test_a_random_crnn_survives_export_and_rebuild(tmp_path: Path) -> None:
    torch.manual_seed(3)
    original = Crnn(CrnnConfig(hidden=32, channels=(8, 8, 16, 16, 24))).eval()
    for norm in original.modules():  # statistics and scales that are not the identity
        if isinstance(norm, torch.nn.BatchNorm2d):
            norm.running_mean.uniform_(-0.5, 0.5)
            norm.running_var.uniform_(0.5, 2.0)
            norm.weight.data.uniform_(0.5, 1.5)
    proto, _, _ = checked_onnx(original, _strips(1), tmp_path / "m.onnx")
    metadata = {"format": FORMAT, "kind": "sequence", "model": "crnn", "config": original.config.to_dict()}
    path = tmp_path / "m.onnx"
    path.write_bytes(with_metadata(proto, metadata))
    rebuilt, _ = sequence_model_from_onnx(path)
    for strip in _strips(2):
        assert np.abs(_torch_probs(rebuilt, strip) - _torch_probs(original, strip)).max() < 1e-5
    rebuilt.train()
    freeze_batchnorm(rebuilt)  # training mode with frozen statistics still reads as the file (no dropout)
    rebuilt.dropout.p = 0.0
    rebuilt.rnn.dropout = 0.0
    x, _ = pad_strips(_strips(4))
    with torch.no_grad():
        assert torch.allclose(rebuilt(x), original(x), atol=1e-4)


def test_a_classifier_file_is_refused_with_one_line() -> None:
    from digitreader.onnx_engine import WEIGHTS_DIR

    with pytest.raises(ModelError, match="not a sequence reader"):
        sequence_model_from_onnx(WEIGHTS_DIR / "default.onnx")


def test_a_file_that_is_not_onnx_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07garbage" * 10)
    with pytest.raises(ModelError, match="bad.onnx"):
        sequence_model_from_onnx(bad)


def test_the_bundled_int8_classifier_rebuilt_reads_mnist_as_the_file_does(mnist_sample_dir: Path) -> None:
    from digitreader.data.mnist import load_mnist
    from digitreader.onnx_engine import WEIGHTS_DIR
    from digitreader.training.from_onnx import classifier_from_onnx

    model, _ = classifier_from_onnx(WEIGHTS_DIR / "default.onnx")
    images, _ = load_mnist(mnist_sample_dir, download=False).split("test")
    x = images.astype(np.float32)[:, None] / 255
    session = ort.InferenceSession(
        (WEIGHTS_DIR / "default.onnx").read_bytes(), providers=["CPUExecutionProvider"]
    )
    expected = session.run(["probabilities"], {"image": x})[0]
    with torch.inference_mode():
        got = model(torch.from_numpy(x)).softmax(-1).numpy()
    # Its weights are the file's, dequantised; its activations are float where the file's are 8-bit.
    assert (got.argmax(1) == expected.argmax(1)).all() and np.abs(got - expected).max() < 0.05
