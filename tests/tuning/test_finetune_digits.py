"""`finetune` on a folder of single digits tunes the digit classifier: end to end on MNIST sample digits."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from digitreader.data.mnist import load_mnist
from digitreader.recognizer import Recognizer
from digitreader.tuning.finetune import finetune


@pytest.fixture(scope="module")
def digit_folder(tmp_path_factory: pytest.TempPathFactory, mnist_sample_dir: Path) -> Path:
    root = tmp_path_factory.mktemp("digits")
    images, labels = load_mnist(mnist_sample_dir, download=False).split("test")
    for i, (image, label) in enumerate(zip(images[:40], labels[:40], strict=True)):
        (root / str(label)).mkdir(exist_ok=True)
        Image.fromarray(255 - image).resize((56, 56)).save(root / str(label) / f"{i}.png")  # dark on light
    (root / "3" / "blank.png").write_bytes(b"")
    return root


def test_a_folder_of_digits_tunes_the_classifier_and_records_mnist_before_and_after(
    digit_folder: Path, tmp_path: Path, mnist_sample_dir: Path
) -> None:
    out = tmp_path / "digits.onnx"
    result = finetune(digit_folder, out, dry_run=True, data_dir=mnist_sample_dir, progress=False, force=True)
    assert result.kind == "classifier" and result.written
    assert result.counts["held_out"] == 20 and result.counts["training"] == 20
    assert [s.path for s in result.skipped] == ["3/blank.png"]
    assert "| digit " in result.table
    assert 0.9 <= result.extra["mnist_test_before"] <= 1.0 and 0.0 <= result.extra["mnist_test_after"] <= 1.0
    reader = Recognizer.load(out, threads=1)
    assert reader.path == out and reader.model_name == "cnn"
    image = np.asarray(Image.open(next((digit_folder / "7").iterdir())))
    assert reader.read(image, mode="digit").text.isdigit()
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["kind"] == "classifier" and card["base"]["file"] == "default.onnx"
    assert not list(tmp_path.glob(".*trial"))  # the trial export was renamed into place


def test_ctrl_c_while_the_trial_model_is_measured_leaves_no_model_file(
    digit_folder: Path, tmp_path: Path, mnist_sample_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from digitreader.tuning import digits

    real_accuracy = digits.mnist_accuracy
    calls = []

    def interrupted_second_time(*args: object) -> float:
        calls.append(1)
        if len(calls) == 2:  # the trial export's MNIST check: the file exists beside `out` by now
            assert list(tmp_path.glob(".*trial"))
            raise KeyboardInterrupt
        return real_accuracy(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(digits, "mnist_accuracy", interrupted_second_time)
    with pytest.raises(KeyboardInterrupt):
        finetune(digit_folder, tmp_path / "m.onnx", dry_run=True, data_dir=mnist_sample_dir, progress=False)
    assert list(tmp_path.iterdir()) == []
