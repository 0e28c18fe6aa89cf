"""Smaller hostile cases: a model that keeps its weights in external files, and files written with the
temp file's private mode."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import onnx
import pytest
from onnx.external_data_helper import convert_model_to_external_data

from digitreader.errors import ModelError
from digitreader.onnx_engine import DEFAULT_MODEL
from digitreader.onnx_scan import external_tensors
from digitreader.recognizer import Recognizer


def with_external_data(folder: Path) -> Path:
    """The bundled model re-saved with its weights in a file beside it (what ONNX allows, and what ONNX
    Runtime, given the bytes, would look for in the current directory)."""
    model = onnx.load(str(DEFAULT_MODEL))
    convert_model_to_external_data(
        model, all_tensors_to_one_file=True, location="weights.bin", size_threshold=0
    )
    path = folder / "external.onnx"
    onnx.save_model(model, str(path))
    assert (folder / "weights.bin").exists()
    return path


def test_a_model_with_external_data_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = with_external_data(tmp_path)
    monkeypatch.chdir(tmp_path)  # where ONNX Runtime would have found weights.bin
    with pytest.raises(ModelError, match=r"external\.onnx: keeps tensors in external files \(") as info:
        Recognizer.load(path)
    assert "self-contained" in str(info.value)


def test_the_scan_finds_every_external_tensor_and_none_in_our_models(tmp_path: Path) -> None:
    assert external_tensors(DEFAULT_MODEL.read_bytes()) == []
    path = with_external_data(tmp_path)
    saved = onnx.load(str(path), load_external_data=False)
    moved = [t.name for t in saved.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL]
    assert len(moved) > 10  # onnx moves the tensors held as raw bytes
    assert sorted(external_tensors(path.read_bytes())) == sorted(moved)
    assert external_tensors(b"\xff" * 100) == []  # not a model: ONNX Runtime's to refuse


def expected_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def test_exported_files_get_the_usual_mode_not_the_temp_files(
    trained_checkpoint: Path, tiny_mnist_dir: Path, tmp_path: Path
) -> None:
    from digitreader.training.export import export_onnx, write_card

    result = export_onnx(trained_checkpoint, tmp_path / "m.onnx", data_dir=tiny_mnist_dir, n_check=20)
    write_card(result, tmp_path / "m.json", command="digits export", data="tiny")
    for name in ("m.onnx", "m.json"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == expected_mode(), name


def test_grids_and_downloads_get_the_usual_mode(tmp_path: Path) -> None:
    from digitreader.files import atomic_write_bytes

    atomic_write_bytes(tmp_path / "grid.png", b"data")
    assert stat.S_IMODE((tmp_path / "grid.png").stat().st_mode) == expected_mode()
