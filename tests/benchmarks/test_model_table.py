"""`benchmarks.model_table` on two tiny real runs and their ensemble: rows carry what the runs recorded."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from benchmarks import model_table
from digitreader.cli import main
from digitreader.training.checkpoint import load_checkpoint


def test_table_groups_seeds_and_scores_the_ensemble(
    capsys: pytest.CaptureFixture[str], tiny_mnist_dir: Path, tmp_path: Path
) -> None:
    threads = torch.get_num_threads()
    runs = []
    for seed in (0, 1):
        out = tmp_path / f"mlp-s{seed}"
        argv = ["train", "--model", "mlp", "--epochs", "1", "--seed", str(seed), "--out", str(out)]
        argv += ["--data-dir", str(tiny_mnist_dir), "--no-progress", "--no-tensorboard", "--threads", "1"]
        assert main(argv) == 0
        runs.append(out)
    torch.set_num_threads(threads)
    capsys.readouterr()

    table = tmp_path / "ensemble.onnx"
    argv = [*map(str, runs), "--ensemble", *map(str, runs), "--ensemble-out", str(table)]
    assert model_table.main([*argv, "--data-dir", str(tiny_mnist_dir), "--digits", "128"]) == 0
    printed = capsys.readouterr().out
    row = next(line for line in printed.splitlines() if line.startswith("| `mlp`"))
    accuracies = [load_checkpoint(r / "best.pt").metrics["test_accuracy"] * 100 for r in runs]
    assert "| 0, 1 |" in row and all(f"{a:.2f}%" in row for a in accuracies)
    assert any(line.startswith("| ensemble: `mlp` seed 0 + `mlp` seed 1") for line in printed.splitlines())
    assert table.is_file()
