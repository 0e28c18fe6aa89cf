"""`digits models` through `digitreader.cli.main`: a table of names, parameter counts and recipes."""

from __future__ import annotations

import pytest

from digitreader.cli import main
from digitreader.models.registry import list_specs


def test_lists_every_model_with_its_parameter_count(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:3] == ["name", "params", "recipe"]
    for spec in list_specs():
        row = next(line for line in out if line.startswith(spec.name + " "))
        assert f"{spec.parameter_count():,}" in row
        assert spec.recipe.optimizer in row
    assert any("lenet-tf" in line and "20000 steps" in line for line in out)
