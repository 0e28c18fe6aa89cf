"""The training loop on tiny data: files made, exact resume after Ctrl-C, dry run, and its errors."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

import digitreader.training.train as train_module
from digitreader.errors import DigitreaderError
from digitreader.models.registry import get_spec
from digitreader.training.checkpoint import load_checkpoint, save_checkpoint
from digitreader.training.config import TrainConfig
from digitreader.training.run_folder import checkpoints_in
from digitreader.training.train import train

SMALL_CNN = {"channels": [8, 16], "depth": [1, 1], "dropout": 0.2}  # dropout: global RNG matters too


@pytest.fixture(autouse=True)
def _restore_threads() -> Iterator[None]:
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def small_cnn_config(tiny: Path, out: Path, **kwargs: object) -> TrainConfig:
    """The cnn recipe in full (augmentation, label smoothing, EMA, onecycle) on a small net and tiny data."""
    recipe = get_spec("cnn").recipe.replace(batch_size=64, epochs=3)
    defaults: dict[str, object] = dict(
        model="cnn",
        out=out,
        recipe=recipe,
        model_config=SMALL_CNN,
        data_dir=tiny,
        progress=False,
        tensorboard=False,
        threads=1,
    )
    defaults.update(kwargs)
    return TrainConfig(**defaults)  # type: ignore[arg-type]


def final_states(out: Path) -> dict[str, torch.Tensor]:
    state = load_checkpoint(out / "last.pt").state
    return {
        **{f"m.{k}": v for k, v in state["model_state"].items()},
        **{f"e.{k}": v for k, v in state["ema_state"].items()},
    }


def assert_same_weights(a: Path, b: Path) -> None:
    sa, sb = final_states(a), final_states(b)
    assert sa.keys() == sb.keys()
    different = [k for k in sa if not torch.equal(sa[k], sb[k])]
    assert not different, different


def test_a_run_writes_checkpoints_metrics_and_tensorboard(tiny_mnist_dir: Path, tmp_path: Path) -> None:
    lines: list[str] = []
    result = train(small_cnn_config(tiny_mnist_dir, tmp_path / "run", tensorboard=True), report=lines.append)
    out = tmp_path / "run"
    assert {p.name for p in checkpoints_in(out)} == {
        "checkpoint-e001.pt",
        "checkpoint-e002.pt",
        "checkpoint-e003.pt",
        "last.pt",
    }
    assert (out / "best.pt").is_file() and result.best == out / "best.pt"
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(out / "tb"))
    events.Reload()
    tags = events.Tags()
    assert {"train/loss", "train/accuracy", "lr", "val/loss", "val/accuracy"} <= set(tags["scalars"])
    assert "train/inputs" in tags["images"] and tags["graph"]
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r.get("epoch") for r in rows[:3]] == [1, 2, 3]
    assert rows[-1]["event"] == "test" and 0 <= rows[-1]["test_accuracy"] <= 1
    best = load_checkpoint(out / "best.pt")
    assert best.metrics["test_accuracy"] == rows[-1]["test_accuracy"] == result.metrics["test_accuracy"]
    assert best.metrics["best_val_accuracy"] == max(r["val_accuracy"] for r in rows[:3])
    assert load_checkpoint(out / "last.pt").step == 3 * (550 // 64)
    assert any("val acc" in line for line in lines) and any("test accuracy" in line for line in lines)
    assert not list(out.glob(".*.tmp"))


def test_interrupted_after_epoch_1_and_resumed_equals_straight_run(
    tiny_mnist_dir: Path, tmp_path: Path
) -> None:
    straight = tmp_path / "straight"
    train(small_cnn_config(tiny_mnist_dir, straight))

    resumed = tmp_path / "resumed"

    def ctrl_c_after_epoch_1(line: str) -> None:
        if line.startswith("epoch 1/"):
            os.kill(os.getpid(), signal.SIGINT)  # a real Ctrl-C, caught by the loop's handler

    lines: list[str] = []
    first = train(
        small_cnn_config(tiny_mnist_dir, resumed), report=lambda s: (lines.append(s), ctrl_c_after_epoch_1(s))
    )
    assert first.interrupted and first.best is None
    assert any(
        f"--resume --data-dir {tiny_mnist_dir} --threads 1" in line and "last.pt" in line for line in lines
    )
    assert load_checkpoint(resumed / "last.pt").epoch == 1
    train(small_cnn_config(tiny_mnist_dir, resumed, resume=True))
    assert_same_weights(straight, resumed)
    assert load_checkpoint(resumed / "last.pt").step == load_checkpoint(straight / "last.pt").step


def test_interrupted_mid_epoch_and_resumed_equals_straight_run(
    tiny_mnist_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    straight = tmp_path / "straight"
    train(small_cnn_config(tiny_mnist_dir, straight))

    calls = {"n": 0}
    real_augment = train_module.augment_batch

    def augment_then_ctrl_c(*args: object, **kwargs: object) -> torch.Tensor:
        calls["n"] += 1
        if calls["n"] == 12:  # inside epoch 2 (8 steps per epoch)
            os.kill(os.getpid(), signal.SIGINT)
        return real_augment(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(train_module, "augment_batch", augment_then_ctrl_c)
    resumed = tmp_path / "resumed"
    assert train(small_cnn_config(tiny_mnist_dir, resumed)).interrupted
    saved = load_checkpoint(resumed / "last.pt")
    assert (saved.epoch, saved.step) == (1, 12)  # the step in flight finished before stopping
    monkeypatch.setattr(train_module, "augment_batch", real_augment)
    train(small_cnn_config(tiny_mnist_dir, resumed, resume=True))
    assert_same_weights(straight, resumed)


def test_steps_based_recipe_checkpoints_every_epoch_equivalent(tiny_mnist_dir: Path, tmp_path: Path) -> None:
    # lenet-tf counts steps; 550 images / batch 50 = 11 steps an epoch, so 25 steps = 2 full epochs + 3 steps.
    recipe = get_spec("softmax").recipe.replace(batch_size=50, steps=25, epochs=None)
    config = TrainConfig(
        model="softmax",
        out=tmp_path,
        recipe=recipe,
        data_dir=tiny_mnist_dir,
        progress=False,
        tensorboard=False,
    )
    train(config)
    assert [p.name for p in checkpoints_in(tmp_path)][:3] == [
        "checkpoint-e001.pt",
        "checkpoint-e002.pt",
        "checkpoint-e003.pt",
    ]
    assert [load_checkpoint(tmp_path / f"checkpoint-e00{i}.pt").step for i in (1, 2, 3)] == [11, 22, 25]


def test_softmax_learns_the_tiny_task(tiny_mnist_dir: Path, tmp_path: Path) -> None:
    # Tiny MNIST encodes the label as the row of a bright bar: a linear model must get it nearly right.
    config = TrainConfig(
        model="softmax",
        out=tmp_path,
        epochs=10,
        lr=0.5,
        data_dir=tiny_mnist_dir,
        progress=False,
        tensorboard=False,
    )
    result = train(config)
    assert result.metrics["test_accuracy"] > 0.9


def test_dry_run_runs_the_whole_path_on_a_few_batches(tiny_mnist_dir: Path, tmp_path: Path) -> None:
    result = train(small_cnn_config(tiny_mnist_dir, tmp_path, dry_run=True))
    assert load_checkpoint(tmp_path / "last.pt").step == train_module.DRY_RUN_BATCHES
    assert result.best is not None and "test_accuracy" in result.metrics


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"lr": 0.0}, "learning rate must be > 0"),
        ({"lr": -1.0}, "learning rate must be > 0"),
        ({"batch_size": 0}, "batch size must be >= 1"),
        ({"epochs": 0}, "epochs must be >= 1"),
        ({"steps": -5}, "steps must be >= 1"),
        ({"steps": 0}, "steps must be >= 1"),
        ({"threads": 0}, "--threads must be >= 1"),
        ({"model": "nope"}, "unknown model 'nope'"),
    ],
)
def test_bad_settings_raise_one_line_errors(
    tiny_mnist_dir: Path, tmp_path: Path, change: dict, message: str
) -> None:
    config = TrainConfig(
        **{"model": "softmax", "out": tmp_path / "o", "data_dir": tiny_mnist_dir, "progress": False, **change}
    )
    with pytest.raises(DigitreaderError, match=message):
        train(config)
    assert not (tmp_path / "o").exists()  # settings are checked before --out is touched


def test_resume_needs_a_checkpoint(tiny_mnist_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(DigitreaderError, match="no checkpoint to resume from"):
        train(TrainConfig(model="softmax", out=tmp_path, resume=True, data_dir=tiny_mnist_dir))


def test_resume_refuses_another_models_checkpoint(tiny_mnist_dir: Path, tmp_path: Path) -> None:
    from digitreader.models.registry import build_model

    save_checkpoint(tmp_path / "last.pt", model_name="mlp", model=build_model("mlp"), recipe={})
    with pytest.raises(DigitreaderError, match="a checkpoint of model 'mlp', not 'softmax'"):
        train(TrainConfig(model="softmax", out=tmp_path, resume=True, data_dir=tiny_mnist_dir))


def test_fresh_run_refuses_a_folder_with_checkpoints(tiny_mnist_dir: Path, tmp_path: Path) -> None:
    config = TrainConfig(
        model="softmax", out=tmp_path, epochs=1, data_dir=tiny_mnist_dir, progress=False, tensorboard=False
    )
    train(config)
    with pytest.raises(DigitreaderError, match="already holds checkpoints"):
        train(config)


def test_unwritable_out_is_a_clear_error(tiny_mnist_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(DigitreaderError, match="cannot write there"):
        train(TrainConfig(model="softmax", out=tmp_path / "file" / "run", data_dir=tiny_mnist_dir))


def test_only_the_newest_epoch_checkpoints_are_kept(tmp_path: Path) -> None:
    from digitreader.training.run_folder import KEEP_CHECKPOINTS, prune_checkpoints

    for name in [f"checkpoint-e{i:03d}.pt" for i in range(1, 8)] + ["best.pt", "last.pt"]:
        (tmp_path / name).write_bytes(b"x")
    prune_checkpoints(tmp_path)
    kept = sorted(p.name for p in tmp_path.iterdir())
    newest = [f"checkpoint-e{i:03d}.pt" for i in range(8 - KEEP_CHECKPOINTS, 8)]
    assert kept == sorted([*newest, "best.pt", "last.pt"])
