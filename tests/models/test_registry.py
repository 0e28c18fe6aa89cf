"""Every registered model: shape, finite output, learns a fixed batch; the registry's errors."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from digitreader.errors import DigitreaderError, ModelError
from digitreader.models.recipe import Augmentation, Recipe, describe, recipe_from_dict, recipe_to_dict
from digitreader.models.registry import build_model, get_spec, list_specs

NAMES = [spec.name for spec in list_specs()]
CLASSIFIERS = [
    spec.name for spec in list_specs() if spec.kind == "classifier"
]  # the sequence reader: test_crnn


def test_the_required_models_are_registered() -> None:
    assert {"softmax", "mlp", "lenet-tf", "cnn"} <= set(CLASSIFIERS)
    assert [spec.name for spec in list_specs() if spec.kind == "sequence"] == ["crnn"]


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_output_is_finite_logits_of_shape_n_by_10(name: str) -> None:
    torch.manual_seed(0)
    model = build_model(name).eval()
    x = torch.rand(5, 1, 28, 28)
    with torch.no_grad():
        out = model(x)
    assert out.shape == (5, 10)
    assert out.dtype == torch.float32
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_loss_falls_on_a_fixed_batch(name: str) -> None:
    torch.manual_seed(0)
    model = build_model(name)
    x = torch.rand(32, 1, 28, 28)
    y = torch.arange(32) % 10
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.eval()  # no dropout noise: the loss must fall because the model learns
    with torch.no_grad():
        before = F.cross_entropy(model(x), y).item()
    for _ in range(15):
        model.train()
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        after = F.cross_entropy(model(x), y).item()
    assert after < 0.8 * before, (before, after)


@pytest.mark.parametrize("name", NAMES)
def test_spec_has_a_valid_recipe_and_preprocessing(name: str) -> None:
    spec = get_spec(name)
    config = spec.make_config()
    assert config.std > 0
    assert spec.recipe.lr > 0 and spec.recipe.batch_size >= 1
    assert (spec.recipe.steps or 0) > 0 or (spec.recipe.epochs or 0) > 0
    assert spec.parameter_count() > 0
    assert describe(spec.recipe)


def test_normalisation_happens_inside_the_model() -> None:
    # Two cnn models identical but for mean/std must disagree on the same input: the constants are used.
    torch.manual_seed(0)
    a = build_model("cnn").eval()
    b = build_model("cnn", {"mean": 0.5, "std": 0.25}).eval()
    b.load_state_dict(a.state_dict())
    x = torch.rand(3, 1, 28, 28)
    with torch.no_grad():
        assert not torch.allclose(a(x), b(x))


def test_unknown_model_lists_the_known_ones() -> None:
    with pytest.raises(DigitreaderError) as info:
        get_spec("resnet-9000")
    message = str(info.value)
    assert "resnet-9000" in message and "cnn" in message and "softmax" in message
    assert "\n" not in message


def test_config_overrides_change_the_architecture() -> None:
    small = build_model("cnn", {"channels": [8, 16], "depth": [1, 1]})
    assert sum(p.numel() for p in small.parameters()) < get_spec("cnn").parameter_count() / 10
    assert small.config.channels == (8, 16)  # lists (from JSON / checkpoints) become tuples
    assert dataclasses.asdict(small.config)["channels"] == (8, 16)


def test_bad_config_raises_model_error() -> None:
    with pytest.raises(ModelError, match="no config field"):
        build_model("mlp", {"channels": [3]})
    with pytest.raises(ModelError, match="bad config"):
        build_model("cnn", {"channels": [8, 16], "depth": [1]})


def test_recipe_round_trips_through_a_plain_dict() -> None:
    recipe = Recipe(optimizer="adamw", steps=7, epochs=None, augment=Augmentation(rotate_deg=5), ema=0.99)
    data = recipe_to_dict(recipe)
    assert isinstance(data["augment"], dict)
    assert recipe_from_dict(data) == recipe
    assert recipe_from_dict({**data, "from_the_future": 1}) == recipe
