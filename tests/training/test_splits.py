"""Training data: MNIST's split as tensors, and a user's dataset split into train/validation/test."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from digitreader.data.folder import build_dataset, load_dataset
from digitreader.errors import DataError
from digitreader.training.splits import _user_split, as_input, load_split, load_splits


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A built dataset of 60 drawn digits (6 per class, dark on white like a scan)."""
    src = tmp_path_factory.mktemp("src")
    for d in range(10):
        (src / str(d)).mkdir()
        for k in range(6):
            img = np.full((80, 64), 255, np.uint8)
            cv2.putText(img, str(d), (6 + k, 66), cv2.FONT_HERSHEY_SIMPLEX, 2.4, 0, 4 + k % 3)
            assert cv2.imwrite(str(src / str(d) / f"{k}.png"), img)
    out = tmp_path_factory.mktemp("ds") / "ds"
    build_dataset(src, out, workers=0, progress=False)
    return out


def test_mnist_splits_as_tensors(tiny_mnist_dir: Path) -> None:
    splits = load_splits(data_dir=tiny_mnist_dir)
    assert (len(splits.train), len(splits.validation), len(splits.test)) == (550, 50, 200)
    assert splits.train.images.dtype == torch.uint8 and splits.train.images.shape[1:] == (28, 28)
    assert splits.train.labels.dtype == torch.int64
    x = as_input(splits.test.images[:3])
    assert x.shape == (3, 1, 28, 28) and x.dtype == torch.float32 and x.min() >= 0 and x.max() <= 1


def test_user_dataset_is_split_disjointly_and_repeatably(dataset: Path) -> None:
    splits = load_splits(dataset)
    sizes = (len(splits.train), len(splits.validation), len(splits.test))
    assert sum(sizes) == 60 and sizes[1] == sizes[2] == 6
    train_idx, val_idx, test_idx = _user_split(60)
    assert sorted([*train_idx, *val_idx, *test_idx]) == list(range(60))  # disjoint and complete
    assert torch.equal(splits.validation.labels, torch.from_numpy(load_dataset(dataset).labels[val_idx]))
    again = load_splits(dataset)
    assert torch.equal(again.validation.images, splits.validation.images)
    part, description = load_split("test", dataset)
    assert torch.equal(part.labels, splits.test.labels) and "test split" in description


def test_with_mnist_mixes_training_images_and_tests_both(dataset: Path, tiny_mnist_dir: Path) -> None:
    splits = load_splits(dataset, with_mnist=True, data_dir=tiny_mnist_dir)
    # 48 user images are repeated until they are >= 10% of the training set, then MNIST's 550 join.
    assert len(splits.train) == 48 * 2 + 550
    assert len(splits.validation) == 6 and "mnist_test" in splits.extra_tests
    assert len(splits.extra_tests["mnist_test"]) == 200


def test_refusals(tiny_mnist_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="--with-mnist needs --data"):
        load_splits(with_mnist=True, data_dir=tiny_mnist_dir)
    with pytest.raises(DataError, match="unknown split 'dev'"):
        load_split("dev", data_dir=tiny_mnist_dir)
    with pytest.raises(DataError, match="nothing-here"):
        load_splits(tmp_path / "nothing-here")
