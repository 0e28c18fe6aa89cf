"""The test fixtures' own promises: the committed MNIST sample is real MNIST, and CI cannot skip MNIST."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from digitreader.data.idx import read_idx
from digitreader.data.mnist import load_mnist

REPO = Path(__file__).resolve().parents[1]


def test_the_committed_sample_is_the_first_mnist_digits_and_small(mnist_sample_dir: Path) -> None:
    data = load_mnist(mnist_sample_dir, download=False)  # read as MNIST is read
    assert len(data.test_labels) == 300 and len(data.train_labels) + len(data.val_labels) == 120
    assert min(np.bincount(data.test_labels, minlength=10)) >= 21  # the vision tests take 12 of each
    assert sum(f.stat().st_size for f in mnist_sample_dir.glob("*.gz")) < 100_000
    full = os.environ.get("DIGITREADER_DATA")
    if full and (Path(full) / "t10k-images-idx3-ubyte.gz").exists():
        for name in ("t10k-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
            sample = read_idx(mnist_sample_dir / name)
            assert np.array_equal(sample, read_idx(Path(full) / name)[: len(sample)])


def test_tests_that_need_mnist_fail_instead_of_skipping_where_it_is_required(tmp_path: Path) -> None:
    shutil.copy(REPO / "tests" / "conftest.py", tmp_path / "conftest.py")  # the fixtures under test
    (tmp_path / "test_needs_mnist.py").write_text("def test_it(mnist_dir):\n    pass\n")
    # Not inherited from CI, which requires MNIST for the suite itself.
    inherited = {k: v for k, v in os.environ.items() if k != "DIGITREADER_REQUIRE_MNIST"}
    env = {**inherited, "DIGITREADER_DATA": str(tmp_path / "nowhere")}
    run = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", os.devnull, str(tmp_path)]
    skipped = subprocess.run(run, env=env, capture_output=True, text=True, cwd=tmp_path)
    required = subprocess.run(
        run, env={**env, "DIGITREADER_REQUIRE_MNIST": "1"}, capture_output=True, text=True, cwd=tmp_path
    )
    assert skipped.returncode == 0 and "1 skipped" in skipped.stdout, skipped.stdout
    assert required.returncode == 1 and "DIGITREADER_REQUIRE_MNIST=1 requires them" in required.stdout
