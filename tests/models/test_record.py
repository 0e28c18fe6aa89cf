"""The `record` family: size budget, the 28 -> 3 px pyramid, its recipe, and an ONNX export matching torch."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from digitreader.models.registry import build_model, get_spec
from digitreader.training.checkpoint import save_checkpoint
from digitreader.training.export import export_onnx


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def test_default_size_is_within_the_budget() -> None:
    assert 1_000_000 <= get_spec("record").parameter_count() <= 3_000_000


def test_feature_pyramid_ends_at_3_px_with_the_last_width() -> None:
    model = build_model("record", {"widths": [4, 8, 8, 16]}).eval()
    with torch.no_grad():
        features = model.features(torch.rand(2, 1, 28, 28))
    assert features.shape == (2, 16, 3, 3)


def test_residual_blocks_add_their_input() -> None:
    torch.manual_seed(0)
    model = build_model("record", {"widths": [4, 8, 8, 16]}).eval()
    block = model.features[2]
    for p in block.body.parameters():  # a body that outputs zeros leaves only the skip connection
        torch.nn.init.zeros_(p)
    x = torch.rand(2, 8, 14, 14)
    with torch.no_grad():
        torch.testing.assert_close(block(x), x)


def test_recipe_is_the_long_augmented_one() -> None:
    recipe = get_spec("record").recipe
    aug = recipe.augment
    assert aug.elastic_px > 0 and aug.thickness > 0 and aug.rotate_deg > 0 and aug.shift_px > 0
    assert recipe.ema and recipe.label_smoothing > 0 and recipe.schedule in ("onecycle", "cosine")
    assert (recipe.epochs or 0) >= 30


def test_onnx_export_matches_torch(tmp_path: Path, tiny_mnist_dir: Path) -> None:
    torch.manual_seed(0)
    model = build_model("record", {"widths": [4, 8, 8, 16]})
    ckpt = save_checkpoint(tmp_path / "r.pt", model_name="record", model=model, recipe={})
    result = export_onnx(ckpt, tmp_path / "r.onnx", data_dir=tiny_mnist_dir, n_check=50)
    assert result.max_abs_diff <= 1e-4 and result.argmax_agreement == 1.0
