"""Distributed training on the CPU: two real processes (gloo on 127.0.0.1) train together and resume.

The workers are started the way torchrun starts them (RANK, WORLD_SIZE, MASTER_ADDR/PORT in the
environment, `python -m digitreader train ...`), so the test covers the process group, the shards, rank 0's
checkpoints and the barriers, without the launcher's own start-up cost; one slow test runs `--nproc` itself.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from digitreader.cli import main
from digitreader.errors import DigitreaderError
from digitreader.training.checkpoint import load_checkpoint
from digitreader.training.distributed import (
    DistInfo,
    augmentation_generator,
    check_batch,
    shard,
)
from digitreader.training.launch import free_port
from digitreader.training.run_folder import checkpoints_in

WORKER_TIMEOUT = 300  # seconds; a hung collective fails the test instead of stalling the suite


def _train_args(tiny: Path, out: Path, *extra: str) -> list[str]:
    return [
        "train",
        "--model",
        "fast",
        "--data-dir",
        str(tiny),
        "--out",
        str(out),
        "--threads",
        "1",
        "--device",
        "cpu",
        "--no-progress",
        "--no-tensorboard",
        *extra,
    ]


def _run_ranks(args: list[str], world: int = 2) -> list[str]:
    """Start `world` ranks of `python -m digitreader ARGS` as torchrun would; return their outputs."""
    env_base = {
        **os.environ,
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(free_port()),
        "WORLD_SIZE": str(world),
        "OMP_NUM_THREADS": "1",
    }
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "digitreader", *args],
            env={**env_base, "RANK": str(rank), "LOCAL_RANK": str(rank)},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for rank in range(world)
    ]
    outputs = []
    try:
        for proc in procs:
            out, _ = proc.communicate(timeout=WORKER_TIMEOUT)
            outputs.append(out)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    for rank, (proc, out) in enumerate(zip(procs, outputs, strict=True)):
        assert proc.returncode == 0, f"rank {rank} exited {proc.returncode}:\n{out}"
    return outputs


def _weights(path: Path) -> dict[str, torch.Tensor]:
    state = load_checkpoint(path).state
    return {**state["model_state"], **{f"opt.{k}": v for k, v in _flat(state["optimizer_state"]).items()}}


def _flat(tree: object, prefix: str = "") -> dict[str, torch.Tensor]:
    if isinstance(tree, torch.Tensor):
        return {prefix: tree}
    if isinstance(tree, dict):
        return {k: v for key, sub in tree.items() for k, v in _flat(sub, f"{prefix}.{key}").items()}
    if isinstance(tree, list):
        return {k: v for i, sub in enumerate(tree) for k, v in _flat(sub, f"{prefix}.{i}").items()}
    return {}


def test_shards_of_a_batch_are_disjoint_and_cover_it() -> None:
    batch = torch.randperm(103)
    parts = [shard(batch, DistInfo(rank=r, world_size=3)) for r in range(3)]
    assert sorted(torch.cat(parts).tolist()) == sorted(batch.tolist())
    assert [len(p) for p in parts] == [35, 34, 34]
    assert torch.equal(shard(batch, DistInfo()), batch)


def test_augmentation_draws_depend_on_seed_step_and_rank_only() -> None:
    def draw(seed: int, step: int, rank: int) -> torch.Tensor:
        return torch.rand(4, generator=augmentation_generator(seed, step, DistInfo(rank=rank, world_size=2)))

    assert torch.equal(draw(0, 5, 1), draw(0, 5, 1))  # a resumed run redraws the same distortions
    others = [draw(0, 5, 0), draw(0, 6, 1), draw(1, 5, 1)]
    assert all(not torch.equal(draw(0, 5, 1), o) for o in others)


def test_a_global_batch_smaller_than_the_ranks_is_refused() -> None:
    check_batch(2, DistInfo(rank=0, world_size=2))
    with pytest.raises(DigitreaderError, match="smaller than the 3 processes"):
        check_batch(2, DistInfo(rank=0, world_size=3))


def test_two_ranks_train_in_step_and_resume_exactly(tiny_mnist_dir: Path, tmp_path: Path) -> None:
    recipe = ("--epochs", "2", "--batch-size", "64", "--lr", "0.05")
    straight = tmp_path / "straight"
    outputs = _run_ranks(_train_args(tiny_mnist_dir, straight, *recipe))
    # Rank 0 speaks and writes; rank 1 stays quiet.
    assert "best checkpoint" in outputs[0] and "best checkpoint" not in outputs[1]
    names = [p.name for p in checkpoints_in(straight)]
    assert names == ["checkpoint-e001.pt", "checkpoint-e002.pt", "last.pt"]
    last = load_checkpoint(straight / "last.pt")
    assert last.state["run"]["world_size"] == 2
    assert last.step == 2 * (550 // 64)  # global batches: the shards add up to one pass per epoch
    history = last.metrics["history"]
    assert [row["rank_weight_gap"] for row in history] == [0.0, 0.0]  # rank 1 held rank 0's weights
    assert all(row["world_size"] == 2 for row in history)

    # Resume from the epoch-1 checkpoint (as after a crash): the result is the straight run's, bit for bit.
    resumed = tmp_path / "resumed"
    resumed.mkdir()
    shutil.copy(straight / "checkpoint-e001.pt", resumed / "checkpoint-e001.pt")
    _run_ranks(_train_args(tiny_mnist_dir, resumed, "--resume"))
    a, b = _weights(straight / "last.pt"), _weights(resumed / "last.pt")
    assert a.keys() == b.keys()
    assert [k for k in a if not torch.equal(a[k], b[k])] == []


@pytest.mark.parametrize(
    ("flags", "message"),
    [(["--nproc", "0"], "--nproc must be >= 1"), (["--nproc", "2", "--model", "nope"], "unknown model")],
)
def test_bad_distributed_settings_are_one_line_errors(
    tiny_mnist_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], message: str
) -> None:
    args = _train_args(tiny_mnist_dir, tmp_path / "o") + flags
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err
    assert not (tmp_path / "o").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message of a machine without a GPU")
def test_cuda_without_a_gpu_is_a_one_line_error(
    tiny_mnist_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _train_args(tiny_mnist_dir, tmp_path / "o")
    args[args.index("cpu")] = "cuda"
    assert main(args) == 2
    assert "no CUDA GPU" in capsys.readouterr().err


@pytest.mark.slow
def test_nproc_launches_the_workers_itself(tiny_mnist_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = _train_args(tiny_mnist_dir, out, "--nproc", "2", "--dry-run", "--batch-size", "32")
    done = subprocess.run(
        [sys.executable, "-m", "digitreader", *args],
        capture_output=True,
        text=True,
        timeout=WORKER_TIMEOUT,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "best checkpoint" in done.stdout
    assert load_checkpoint(out / "last.pt").state["run"]["world_size"] == 2


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "killpg"), reason="Ctrl-C as a terminal sends it: to a process group")
def test_ctrl_c_under_nproc_says_one_line_and_a_resume_command_that_keeps_nproc(
    tiny_mnist_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    args = _train_args(tiny_mnist_dir, out, "--nproc", "2", "--epochs", "1000", "--batch-size", "32")
    run = subprocess.Popen(
        [sys.executable, "-m", "digitreader", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own group, as a terminal's foreground job is
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    try:
        deadline = time.monotonic() + WORKER_TIMEOUT
        while not (out / "checkpoint-e001.pt").exists() and time.monotonic() < deadline:
            assert run.poll() is None, run.communicate()
            time.sleep(0.2)
        os.killpg(run.pid, signal.SIGINT)  # Ctrl-C: the launcher and both workers get it
        # Well before the 30 s after which torch's launcher kills workers that do not stop.
        stdout, stderr = run.communicate(timeout=20)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
    assert run.returncode == 130, stdout + stderr
    assert stderr.strip() == "digits: interrupted"
    assert "Resume with: digits train --model fast --out" in stdout and "--resume --nproc 2" in stdout
    assert load_checkpoint(out / "last.pt").state["run"]["world_size"] == 2
