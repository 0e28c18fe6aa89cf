"""`digits train` through `digitreader.cli.main`: exit codes, one-line errors, files made, resume."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from digitreader.cli import main
from digitreader.training.checkpoint import load_checkpoint


@pytest.fixture(autouse=True)
def _restore_threads() -> Iterator[None]:
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def _train(capsys: pytest.CaptureFixture[str], tiny: Path, *argv: str) -> tuple[int, str, str]:
    code = main(["train", "--data-dir", str(tiny), "--no-progress", "--no-tensorboard", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("digits: error: "), err
    return lines[0]


def test_train_softmax_then_resume_finished_run(
    capsys: pytest.CaptureFixture[str], tiny_mnist_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    code, stdout, err = _train(
        capsys, tiny_mnist_dir, "--model", "softmax", "--epochs", "2", "--out", str(out)
    )
    assert code == 0, err
    assert f"best checkpoint: {out / 'best.pt'}" in stdout and "test accuracy" in stdout
    assert "epoch 2/2" in stdout and "val acc" in stdout
    for name in ("best.pt", "last.pt", "checkpoint-e001.pt", "checkpoint-e002.pt", "metrics.jsonl"):
        assert (out / name).is_file(), name
    assert 0 <= load_checkpoint(out / "best.pt").metrics["test_accuracy"] <= 1
    # Resuming a finished run does no more steps and scores it again; the model comes from the checkpoint.
    code, stdout, err = _train(capsys, tiny_mnist_dir, "--out", str(out), "--resume")
    assert code == 0, err
    assert load_checkpoint(out / "last.pt").step == 2 * (550 // 100)
    # A seed given on resume would be ignored (the run keeps its own): it is refused instead.
    code, _, err = _train(capsys, tiny_mnist_dir, "--out", str(out), "--resume", "--seed", "3")
    assert code == 2 and "a resumed run keeps the seed it started with" in _one_line_error(err)


def test_the_resume_command_of_a_distributed_worker_names_its_processes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from digitreader.training.config import TrainConfig
    from digitreader.training.run_folder import resume_command

    cfg = TrainConfig(model="cnn", out=Path("runs/x"), threads=1)
    assert resume_command(cfg, "cnn") == "digits train --model cnn --out runs/x --resume --threads 1"
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    assert (
        resume_command(cfg, "cnn") == "digits train --model cnn --out runs/x --resume --nproc 2 --threads 1"
    )


def test_dry_run_with_threads_and_tensorboard(
    capsys: pytest.CaptureFixture[str], tiny_mnist_dir: Path, tmp_path: Path
) -> None:
    code = main(
        [
            "train",
            "--model",
            "mlp",
            "--dry-run",
            "--threads",
            "1",
            "--data-dir",
            str(tiny_mnist_dir),
            "--out",
            str(tmp_path),
            "--no-progress",
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert (tmp_path / "best.pt").is_file() and list((tmp_path / "tb").iterdir())


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--model", "nope"], "unknown model 'nope'; known models: softmax"),
        (["--model", "softmax", "--lr", "0"], "learning rate must be > 0"),
        (["--model", "softmax", "--lr", "-0.1"], "learning rate must be > 0"),
        (["--model", "softmax", "--batch-size", "0"], "batch size must be >= 1"),
        (["--model", "softmax", "--epochs", "0"], "epochs must be >= 1"),
        (["--model", "softmax", "--resume"], "no checkpoint to resume from"),
        (["--resume"], "no checkpoint to resume from"),
        ([], "--model NAME is needed"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], tiny_mnist_dir: Path, tmp_path: Path, argv: list[str], message: str
) -> None:
    code, _, err = _train(capsys, tiny_mnist_dir, "--out", str(tmp_path / "o"), *argv)
    assert code == 2
    assert message in _one_line_error(err)


def test_unwritable_out_and_missing_data(
    capsys: pytest.CaptureFixture[str], tiny_mnist_dir: Path, tmp_path: Path
) -> None:
    (tmp_path / "file").write_text("x")
    code, _, err = _train(
        capsys, tiny_mnist_dir, "--model", "softmax", "--out", str(tmp_path / "file" / "sub")
    )
    assert code == 2 and "cannot write there" in _one_line_error(err)
    code = main(
        [
            "train",
            "--model",
            "softmax",
            "--out",
            str(tmp_path / "o"),
            "--data",
            str(tmp_path / "no-such-dataset"),
        ]
    )
    assert code == 2 and "no-such-dataset" in _one_line_error(capsys.readouterr().err)
    assert not (tmp_path / "o").exists()  # a run that could not start leaves no folder behind


@pytest.mark.parametrize("model", ["softmax", "crnn"])
def test_a_run_whose_mnist_fails_to_load_leaves_no_out_folder(
    capsys: pytest.CaptureFixture[str], tiny_mnist_dir: Path, tmp_path: Path, model: str
) -> None:
    broken = tmp_path / "mnist"
    broken.mkdir()
    for f in tiny_mnist_dir.iterdir():
        data = f.read_bytes()
        (broken / f.name).write_bytes(data[:100] if f.name.startswith("train-images") else data)
    out = tmp_path / "runs" / "first"
    code, _, err = _train(capsys, broken, "--model", model, "--dry-run", "--out", str(out))
    assert code == 2 and "train-images" in _one_line_error(err)
    assert not (tmp_path / "runs").exists()


def test_checkpoint_of_another_model_in_out(
    capsys: pytest.CaptureFixture[str], tiny_mnist_dir: Path, tmp_path: Path
) -> None:
    code, _, err = _train(
        capsys, tiny_mnist_dir, "--model", "softmax", "--epochs", "1", "--out", str(tmp_path)
    )
    assert code == 0, err
    code, _, err = _train(capsys, tiny_mnist_dir, "--model", "mlp", "--out", str(tmp_path), "--resume")
    assert code == 2 and "a checkpoint of model 'softmax', not 'mlp'" in _one_line_error(err)
    code, _, err = _train(capsys, tiny_mnist_dir, "--model", "mlp", "--out", str(tmp_path))
    assert code == 2 and "already holds checkpoints" in _one_line_error(err)


def test_epochs_and_steps_exclude_each_other(
    capsys: pytest.CaptureFixture[str], tiny_mnist_dir: Path
) -> None:
    with pytest.raises(SystemExit) as info:
        _train(capsys, tiny_mnist_dir, "--model", "softmax", "--epochs", "1", "--steps", "5")
    assert info.value.code == 2


def test_user_dataset_with_mnist_dry_run(
    capsys: pytest.CaptureFixture[str], tiny_mnist_dir: Path, tmp_path: Path
) -> None:
    import cv2
    import numpy as np

    from digitreader.data.folder import build_dataset

    src = tmp_path / "src"
    for d in range(10):
        (src / str(d)).mkdir(parents=True)
        for k in range(3):
            img = np.full((60, 48), 255, np.uint8)
            cv2.putText(img, str(d), (4, 50), cv2.FONT_HERSHEY_SIMPLEX, 1.8, 0, 3 + k)
            cv2.imwrite(str(src / str(d) / f"{k}.png"), img)
    build_dataset(src, tmp_path / "ds", workers=0, progress=False)
    out = tmp_path / "run"
    code, stdout, err = _train(
        capsys,
        tiny_mnist_dir,
        "--model",
        "softmax",
        "--data",
        str(tmp_path / "ds"),
        "--with-mnist",
        "--dry-run",
        "--out",
        str(out),
    )
    assert code == 0, err
    assert "+ MNIST train" in stdout
    metrics = load_checkpoint(out / "best.pt").metrics
    assert "mnist_test_accuracy" in metrics and "test_accuracy" in metrics
