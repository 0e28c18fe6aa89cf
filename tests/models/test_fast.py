"""The `fast` family: channels-last layout, config checks, and an ONNX export that matches torch."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from digitreader.errors import ModelError
from digitreader.models.registry import build_model, get_spec
from digitreader.training.checkpoint import save_checkpoint
from digitreader.training.export import export_onnx


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def test_kernels_are_channels_last_and_layout_does_not_change_the_answer() -> None:
    torch.manual_seed(0)
    model = build_model("fast").eval()
    conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d) and m.in_channels > 1)
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    x = torch.rand(6, 1, 28, 28)
    with torch.no_grad():
        plain, nhwc = model(x), model(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(plain, nhwc)
    assert plain.shape == (6, 10) and plain.is_contiguous()


def test_recipe_is_short_large_batch_and_undistorted() -> None:
    recipe = get_spec("fast").recipe
    assert recipe.batch_size >= 128 and (recipe.epochs or 0) <= 10
    assert recipe.schedule == "onecycle" and recipe.label_smoothing > 0
    assert not recipe.augment.enabled


@pytest.mark.parametrize("bad", [{"widths": [8, 16]}, {"widths": [8, 0, 16]}, {"stem_kernel": 4}])
def test_bad_config_is_a_model_error(bad: dict) -> None:
    with pytest.raises(ModelError, match="bad config"):
        build_model("fast", bad)


def test_onnx_export_matches_torch(tmp_path: Path, tiny_mnist_dir: Path) -> None:
    torch.manual_seed(0)
    model = build_model("fast", {"widths": [8, 16, 16]})
    ckpt = save_checkpoint(tmp_path / "f.pt", model_name="fast", model=model, recipe={})
    result = export_onnx(ckpt, tmp_path / "f.onnx", data_dir=tiny_mnist_dir, n_check=50)
    assert result.max_abs_diff <= 1e-4 and result.argmax_agreement == 1.0


def test_fast_aug_is_the_wider_distorted_longer_variant() -> None:
    fast, aug = get_spec("fast"), get_spec("fast-aug")
    assert aug.parameter_count() > fast.parameter_count()
    assert aug.recipe.augment.enabled and (aug.recipe.epochs or 0) > (fast.recipe.epochs or 0)
