"""Augmentation: shape, range, determinism under a seed, and that each distortion does what it says."""

from __future__ import annotations

import torch

from digitreader.models.recipe import Augmentation
from digitreader.training.augment import augment_batch

FULL = Augmentation(rotate_deg=15, scale=0.15, shear_deg=15, shift_px=2, thickness=0.5, elastic_px=1.5)


def digits(n: int = 16) -> torch.Tensor:
    """Crude bright strokes on black, like MNIST digits: a bar and a blob per image."""
    x = torch.zeros(n, 1, 28, 28)
    x[:, :, 6:22, 12:15] = 1.0
    x[:, :, 8:12, 8:20] = 0.6
    return x


def test_shape_dtype_and_range_are_kept() -> None:
    out = augment_batch(digits(), FULL, torch.Generator().manual_seed(0))
    assert out.shape == (16, 1, 28, 28) and out.dtype == torch.float32
    assert out.min() >= 0 and out.max() <= 1
    assert not torch.equal(out, digits())


def test_same_seed_same_batch_other_seed_other_batch() -> None:
    a = augment_batch(digits(), FULL, torch.Generator().manual_seed(3))
    b = augment_batch(digits(), FULL, torch.Generator().manual_seed(3))
    c = augment_batch(digits(), FULL, torch.Generator().manual_seed(4))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_generator_state_continues_exactly() -> None:
    # Resume relies on this: saving the state mid-stream and restoring it gives the same next batch.
    g = torch.Generator().manual_seed(0)
    augment_batch(digits(), FULL, g)
    saved = g.get_state()
    first = augment_batch(digits(), FULL, g)
    g2 = torch.Generator()
    g2.set_state(saved)
    assert torch.equal(first, augment_batch(digits(), FULL, g2))


def test_no_strength_is_the_identity() -> None:
    x = digits()
    assert torch.equal(augment_batch(x, Augmentation(), torch.Generator().manual_seed(0)), x)
    assert torch.equal(augment_batch(x, Augmentation(rotate_deg=30, probability=0), torch.Generator()), x)


def test_each_geometric_distortion_moves_ink_but_keeps_most_of_it() -> None:
    x = digits(64)
    for aug in (
        Augmentation(rotate_deg=20),
        Augmentation(scale=0.2),
        Augmentation(shear_deg=20),
        Augmentation(shift_px=3),
        Augmentation(elastic_px=2),
    ):
        out = augment_batch(x, aug, torch.Generator().manual_seed(1))
        assert not torch.allclose(out, x), aug
        ink_ratio = out.sum() / x.sum()
        assert 0.7 < ink_ratio < 1.3, (aug, ink_ratio)


def test_thickness_thickens_some_strokes_and_thins_others() -> None:
    x = digits(200)
    out = augment_batch(x, Augmentation(thickness=1.0), torch.Generator().manual_seed(0))
    ink_before, ink_after = x.sum(dim=(1, 2, 3)), out.sum(dim=(1, 2, 3))
    assert (ink_after > ink_before * 1.05).sum() > 40  # thicker
    assert (ink_after < ink_before * 0.95).sum() > 40  # thinner
