"""Training the sequence reader: batches that resume exactly, a dry run end to end, its ONNX export."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from digitreader.data.mnist import load_mnist
from digitreader.data.strings import DigitBank
from digitreader.errors import DigitreaderError, ModelError
from digitreader.training.sequence import _Batches, pad_strips, training_lines
from digitreader.training.train import TrainConfig, train


@pytest.fixture(scope="module")
def bank(tiny_mnist_dir: Path) -> DigitBank:
    return DigitBank(*load_mnist(tiny_mnist_dir, download=False).split("train"))


def test_training_lines_depend_only_on_the_seed_and_their_number(bank: DigitBank) -> None:
    whole = list(training_lines(bank, 5, 0, 6))
    tail = list(training_lines(bank, 5, 3, 3))
    for (a, ta), (b, tb) in zip(whole[3:], tail, strict=True):
        assert ta == tb and np.array_equal(a, b)


def test_resuming_at_a_step_gives_the_batches_a_straight_run_gives(bank: DigitBank) -> None:
    straight = list(_Batches(bank, seed=2, batch=4, first=0, last=11))
    resumed = list(_Batches(bank, seed=2, batch=4, first=5, last=11))
    assert len(straight) == 11 and len(resumed) == 6
    for (xa, wa, ta), (xb, wb, tb) in zip(straight[5:], resumed, strict=True):
        assert ta == tb and torch.equal(wa, wb) and torch.equal(xa, xb)


def test_batches_group_lines_of_similar_width(bank: DigitBank) -> None:
    batches = list(_Batches(bank, seed=0, batch=8, first=0, last=8))
    padding = [1 - float(w.float().mean()) / x.shape[3] for x, w, _ in batches]
    assert np.mean(padding) < 0.25


def test_padding_is_blank_paper_to_a_multiple_of_four() -> None:
    x, widths = pad_strips([np.full((32, 10), 255, np.uint8), np.full((32, 3), 255, np.uint8)])
    assert x.shape == (2, 1, 32, 12) and widths.tolist() == [10, 3]
    assert float(x[1, 0, :, 3:].abs().sum()) == 0.0 and float(x.max()) == 1.0


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory: pytest.TempPathFactory, tiny_mnist_dir: Path) -> Path:
    out = tmp_path_factory.mktemp("crnn") / "run"
    result = train(TrainConfig(model="crnn", out=out, dry_run=True, data_dir=tiny_mnist_dir, progress=False))
    assert result.best == out / "best.pt"
    return out


def test_a_dry_run_writes_checkpoints_and_metrics(dry_run: Path) -> None:
    rows = [json.loads(line) for line in (dry_run / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["step"] == 3 and 0.0 <= rows[-1]["val_exact"] <= 1.0 and rows[-1]["val_cer"] >= 0
    from digitreader.training.checkpoint import load_checkpoint

    ckpt = load_checkpoint(dry_run / "best.pt")
    assert ckpt.model_name == "crnn" and ckpt.preprocessing["strip_height"] == 32


def test_a_sequence_run_refuses_a_user_dataset(tmp_path: Path, tiny_mnist_dir: Path) -> None:
    with pytest.raises(DigitreaderError, match="--data is for classifiers"):
        train(TrainConfig(model="crnn", out=tmp_path / "r", data=tmp_path, data_dir=tiny_mnist_dir))


def test_export_is_checked_against_torch_and_loads_as_a_sequence_reader(
    dry_run: Path, tmp_path: Path, tiny_mnist_dir: Path
) -> None:
    from digitreader.onnx_engine import OnnxEngine
    from digitreader.sequence_engine import SequenceEngine
    from digitreader.training.export_sequence import export_sequence_onnx

    out = tmp_path / "reader.onnx"
    result = export_sequence_onnx(dry_run / "best.pt", out, data_dir=tiny_mnist_dir, n_check=12)
    assert result.max_abs_diff <= 1e-4 and result.argmax_agreement == 1.0
    assert result.metadata["kind"] == "sequence" and result.metadata["export"]["checked_lines"] == 12
    engine = SequenceEngine.load(out, threads=1)
    probs = engine.read(np.zeros((32, 50), np.uint8))
    assert probs.shape == (26, 15)  # width padded to 52: 13 feature columns, 2 output columns each
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-4)
    with pytest.raises(ModelError, match="not a digit classifier"):
        OnnxEngine.load(out)


def test_resume_passes_over_a_damaged_last_checkpoint(
    dry_run: Path, tmp_path: Path, tiny_mnist_dir: Path
) -> None:
    import shutil

    run = tmp_path / "run"
    shutil.copytree(dry_run, run)
    (run / "last.pt").write_bytes((run / "last.pt").read_bytes()[:1000])  # cut short, as by a full disk
    said: list[str] = []
    cfg = TrainConfig(
        model="crnn", out=run, resume=True, dry_run=True, data_dir=tiny_mnist_dir, progress=False
    )
    result = train(cfg, report=said.append)
    assert result.best == run / "best.pt"
    assert any("checkpoint-e001.pt, the newest intact checkpoint" in line for line in said), said


def test_a_run_can_start_from_another_runs_weights(
    dry_run: Path, tmp_path: Path, tiny_mnist_dir: Path
) -> None:
    from digitreader.training.checkpoint import load_checkpoint

    said: list[str] = []
    cfg = TrainConfig(
        model="crnn",
        out=tmp_path / "tuned",
        init=dry_run / "best.pt",
        lr=1e-12,  # so small the weights stay those it started from
        dry_run=True,
        data_dir=tiny_mnist_dir,
        progress=False,
    )
    result = train(cfg, report=said.append)
    start = load_checkpoint(dry_run / "best.pt").state
    tuned = load_checkpoint(result.best).state  # type: ignore[arg-type]
    for name, value in start["ema_state"].items():
        if "running_" in name or "num_batches" in name:
            continue  # batch-norm statistics move in training whatever the learning rate
        assert torch.allclose(tuned["model_state"][name].float(), value.float(), atol=1e-6), name
    assert tuned["run"]["init"] == str(dry_run / "best.pt")
    assert any("starting from the weights of" in line for line in said)


def test_a_run_can_start_from_an_exported_reader(tmp_path: Path, tiny_mnist_dir: Path) -> None:
    """--init takes an exported .onnx reader (the bundled one here): its weights rebuilt in torch."""
    from digitreader.sequence_engine import DEFAULT_SEQUENCE_MODEL
    from digitreader.training.checkpoint import load_checkpoint
    from digitreader.training.from_onnx import sequence_model_from_onnx

    said: list[str] = []
    cfg = TrainConfig(
        model="crnn",
        out=tmp_path / "from-onnx",
        init=DEFAULT_SEQUENCE_MODEL,
        lr=1e-12,
        dry_run=True,
        data_dir=tiny_mnist_dir,
        progress=False,
    )
    result = train(cfg, report=said.append)
    bundled, _ = sequence_model_from_onnx(DEFAULT_SEQUENCE_MODEL)
    tuned = load_checkpoint(result.best).state  # type: ignore[arg-type]
    # BatchNorm statistics included: the exported graph folded them into its convolutions, so training
    # keeps them frozen (batch statistics would undo the folding), here and in runs that go on from this.
    for name, value in bundled.state_dict().items():
        assert torch.allclose(tuned["model_state"][name].float(), value.float(), atol=1e-6), name
    assert tuned["run"]["frozen_norms"] is True
    assert any("starting from the weights of" in line for line in said)
    with pytest.raises(ModelError, match="not a sequence reader"):
        classifier = DEFAULT_SEQUENCE_MODEL.with_name("default.onnx")
        train(TrainConfig(model="crnn", out=tmp_path / "c", init=classifier, dry_run=True))
    assert not (tmp_path / "c").exists()


def test_init_needs_a_checkpoint_of_the_same_model_and_a_new_run(
    dry_run: Path, tmp_path: Path, tiny_mnist_dir: Path
) -> None:
    with pytest.raises(DigitreaderError, match="--resume continues the saved run"):
        train(TrainConfig(model="crnn", out=dry_run, resume=True, init=dry_run / "best.pt"))
    with pytest.raises(DigitreaderError, match="classifiers train anew"):
        train(TrainConfig(model="cnn", out=tmp_path / "c", init=dry_run / "best.pt"))
    with pytest.raises(ModelError, match="no such checkpoint"):
        train(TrainConfig(model="crnn", out=tmp_path / "typo", init=tmp_path / "absent.pt"))
    assert not (tmp_path / "typo").exists()  # checked before the run folder is made
