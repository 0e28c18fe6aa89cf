"""Continental styles drawn by label: a 1's up-stroke, a 7's bar; nothing else touched."""

from __future__ import annotations

import torch

from digitreader.models.recipe import Augmentation
from digitreader.training.augment import augment_batch
from digitreader.training.styles import add_styles


def _strokes(labels: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """A plain stem for 1s and 7s (a 7 with its top bar), a ring for 0s, a blob for the rest."""
    x = torch.zeros(len(labels), 1, 28, 28)
    for i, label in enumerate(labels):
        if label in (1, 7):
            x[i, 0, 4:24, 14:16] = 1.0
            if label == 7:
                x[i, 0, 4:6, 8:16] = 1.0
        elif label == 0:
            x[i, 0, 4:24, 8:10] = x[i, 0, 4:24, 18:20] = 1.0
            x[i, 0, 4:6, 8:20] = x[i, 0, 22:24, 8:20] = 1.0
        else:
            x[i, 0, 10:18, 10:18] = 1.0
    return x, torch.tensor(labels)


def test_every_chosen_digit_gets_its_stroke_where_it_belongs() -> None:
    x, labels = _strokes([1, 7, 0, 4])
    out = add_styles(x, labels, 1.0, torch.Generator().manual_seed(0))
    added = (out - x)[:, 0]
    assert out.min() >= 0 and out.max() <= 1 and torch.all(out >= x)
    # The 1: new ink left of the stem, below its top, none above it.
    assert added[0, 5:, :13].sum() > 3 and added[0, :3].sum() == 0
    # The 7: a bar crossing the stem between 40% and 70% of the way down.
    assert added[1, 12:19, 10:14].sum() > 2 and added[1, 12:19, 17:22].sum() > 2
    assert torch.equal(out[2], x[2]) and torch.equal(out[3], x[3])  # 0s and 4s are left as they are


def test_a_share_of_zero_changes_nothing_and_a_generator_repeats() -> None:
    x, labels = _strokes([1, 7, 0] * 20)
    assert torch.equal(add_styles(x, labels, 0.0, torch.Generator().manual_seed(1)), x)
    a = add_styles(x, labels, 0.5, torch.Generator().manual_seed(2))
    b = add_styles(x, labels, 0.5, torch.Generator().manual_seed(2))
    assert torch.equal(a, b)
    changed = sum(not torch.equal(a[i], x[i]) for i in range(len(x)))
    assert 10 <= changed <= 30  # about half of the 40 ones and sevens


def test_augment_batch_restyles_only_when_given_labels() -> None:
    x, labels = _strokes([1] * 8)
    styles_only = Augmentation(styles=1.0)
    assert styles_only.enabled
    with_labels = augment_batch(x, styles_only, torch.Generator().manual_seed(0), labels)
    assert not torch.equal(with_labels, x)
    assert torch.equal(augment_batch(x, styles_only, torch.Generator().manual_seed(0)), x)
