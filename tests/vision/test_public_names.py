"""Each vision module says what it offers: `__all__` names exactly its own public functions and classes (and
any constants it shares), so everything else there is its own business."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import digitreader.vision

MODULES = sorted(m.name for m in pkgutil.iter_modules(digitreader.vision.__path__))
NOT_YET: set[str] = set()  # modules without `__all__` yet (a strict xfail says when one gets it)


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.xfail(strict=True, reason="no __all__ yet")) if n in NOT_YET else n
        for n in MODULES
    ],
)
def test_all_lists_the_modules_own_public_functions_and_classes(name: str) -> None:
    module = importlib.import_module(f"digitreader.vision.{name}")
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"vision/{name}.py has no __all__"
    assert len(set(exported)) == len(exported)
    missing = [n for n in exported if not hasattr(module, n)]
    assert not missing, f"__all__ names what vision/{name}.py lacks: {missing}"
    own = {
        n
        for n, v in vars(module).items()
        if not n.startswith("_")
        and (inspect.isfunction(v) or inspect.isclass(v))
        and v.__module__ == module.__name__
    }
    unlisted = sorted(own - set(exported))
    assert not unlisted, f"public but not in __all__ of vision/{name}.py: {unlisted}"
