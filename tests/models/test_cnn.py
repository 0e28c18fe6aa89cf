"""The `cnn` family: `cnn-long` is the bundled network's recipe run longer (32 epochs), nothing else."""

from __future__ import annotations

import dataclasses

from digitreader.models.registry import build_model, get_spec


def test_cnn_long_is_cnn_trained_longer() -> None:
    cnn, long = get_spec("cnn"), get_spec("cnn-long")
    assert long.model_cls is cnn.model_cls and long.config_cls is cnn.config_cls
    assert long.parameter_count() == cnn.parameter_count()
    assert long.recipe.epochs == 32 and long.recipe.epochs > (cnn.recipe.epochs or 0)
    # Every other setting is the bundled model's, so the two rows of the results table compare length.
    differ = {"epochs", "notes"}
    for field in dataclasses.fields(cnn.recipe):
        if field.name not in differ:
            assert getattr(long.recipe, field.name) == getattr(cnn.recipe, field.name), field.name


def test_cnn_long_builds_the_same_layers() -> None:
    a, b = build_model("cnn"), build_model("cnn-long")
    assert [type(m) for m in a.modules()] == [type(m) for m in b.modules()]
