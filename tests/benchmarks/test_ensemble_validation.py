"""`benchmarks.ensemble_validation` on two tiny real runs: run rows match what training recorded."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from benchmarks import ensemble_validation
from digitreader.cli import main
from digitreader.training.checkpoint import load_checkpoint


@pytest.fixture(scope="module")
def two_runs(tiny_mnist_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    threads = torch.get_num_threads()
    runs = []
    for seed in (0, 1):
        out = tmp_path_factory.mktemp("runs") / f"mlp-s{seed}"
        argv = ["train", "--model", "mlp", "--epochs", "1", "--seed", str(seed), "--out", str(out)]
        argv += ["--data-dir", str(tiny_mnist_dir), "--no-progress", "--no-tensorboard", "--threads", "1"]
        assert main(argv) == 0
        runs.append(out)
    torch.set_num_threads(threads)
    return runs


def rows(printed: str, first: str) -> list[list[str]]:
    return [
        [c.strip() for c in line.strip("|").split("|")]
        for line in printed.splitlines()
        if line.startswith(first)
    ]


def test_each_run_scores_what_its_training_recorded_and_candidates_average_them(
    two_runs: list[Path], tiny_mnist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s0, s1 = two_runs
    capsys.readouterr()
    argv = [f"one={s0}", f"twice={s0},{s0}", f"both={s0},{s1}", "--data-dir", str(tiny_mnist_dir)]
    assert ensemble_validation.main(argv) == 0
    printed = capsys.readouterr().out
    for run in two_runs:
        recorded = load_checkpoint(run / "best.pt").metrics["best_val_accuracy"] * 100
        assert rows(printed, f"| {run} |")[0][3] == f"{recorded:.2f}%"
    one, twice, both = (rows(printed, f"| {name} |")[0] for name in ("one", "twice", "both"))
    assert one[1] == "1" and one[2] == rows(printed, f"| {s0} |")[0][3]
    assert twice[1] == "2" and twice[2:] == one[2:]  # a run averaged with itself is that run
    assert both[1] == "2" and both[2].endswith("%") and int(both[3]) >= 0


def test_a_malformed_candidate_or_a_missing_run_is_one_line(tmp_path: Path, tiny_mnist_dir: Path) -> None:
    with pytest.raises(SystemExit):
        ensemble_validation.main(["no-runs-given", "--data-dir", str(tiny_mnist_dir)])
    with pytest.raises(SystemExit, match="ensemble_validation: "):
        ensemble_validation.main([f"x={tmp_path / 'nowhere'}", "--data-dir", str(tiny_mnist_dir)])
