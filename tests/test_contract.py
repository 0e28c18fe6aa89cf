"""The contract: modes, the preprocessing a model file records, and the engines checking it on load."""

from __future__ import annotations

import json
from pathlib import Path

import onnx
import pytest

from digitreader import Recognizer, contract
from digitreader.errors import DigitreaderError, ModelError
from digitreader.onnx_engine import DEFAULT_MODEL, OnnxEngine
from digitreader.sequence_engine import DEFAULT_SEQUENCE_MODEL, SequenceEngine


def with_preprocessing(source: Path, out: Path, **changes: object) -> Path:
    """A copy of a bundled model whose metadata's ``preprocessing`` has `changes` (the bundled file stays)."""
    proto = onnx.load(str(source))
    entry = next(p for p in proto.metadata_props if p.key == contract.METADATA_KEY)
    metadata = json.loads(entry.value)
    metadata["preprocessing"] = {**metadata["preprocessing"], **changes}
    entry.value = json.dumps(metadata)
    onnx.save(proto, str(out))
    return out


def test_check_mode_accepts_the_modes_and_names_a_bad_one_in_one_line() -> None:
    assert [contract.check_mode(m) for m in contract.MODES] == ["auto", "digit", "number"]
    with pytest.raises(DigitreaderError, match=r"^mode 'digits': choose one of auto, digit, number$"):
        contract.check_mode("digits")
    with pytest.raises(DigitreaderError) as info:
        contract.check_mode("x" * 1000)
    assert len(str(info.value)) < 100


def test_the_bundled_models_record_the_contracts_preprocessing() -> None:
    classifier, reader = OnnxEngine.load(threads=1), SequenceEngine.load(threads=1)
    prep = classifier.metadata["preprocessing"]
    assert prep == contract.classifier_preprocessing(contract.MNIST_MEAN, contract.MNIST_STD)
    assert reader.metadata["preprocessing"]["version"] == contract.PREPROCESSING_VERSION
    assert reader.metadata["preprocessing"]["strip_height"] == contract.STRIP_HEIGHT


@pytest.mark.parametrize(
    ("source", "changes", "reason"),
    [
        (DEFAULT_MODEL, {"version": 2}, "preprocessing version 2"),
        (DEFAULT_MODEL, {"box": 16}, "preprocessing box 16"),
        (DEFAULT_SEQUENCE_MODEL, {"version": 2}, "preprocessing version 2"),
        (DEFAULT_SEQUENCE_MODEL, {"strip_height": 48}, "preprocessing strip_height 48"),
    ],
)
def test_a_model_file_of_other_preprocessing_is_refused_in_one_line(
    tmp_path: Path, source: Path, changes: dict[str, object], reason: str
) -> None:
    path = with_preprocessing(source, tmp_path / "other.onnx", **changes)
    with pytest.raises(ModelError) as info:
        Recognizer.load(path, threads=1)
    message = str(info.value)
    assert message.startswith(str(path)) and reason in message and "\n" not in message


def test_a_copy_with_the_same_preprocessing_loads(tmp_path: Path) -> None:
    path = with_preprocessing(DEFAULT_MODEL, tmp_path / "same.onnx")
    assert Recognizer.load(path, threads=1).model_name == OnnxEngine.load(threads=1).metadata["model"]
