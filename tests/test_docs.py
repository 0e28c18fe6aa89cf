"""The docs that describe the code keep up with it."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "src" / "digitreader"


def test_architecture_lists_every_module_and_only_modules_that_exist() -> None:
    listed = set(re.findall(r"^\| `([\w/]+\.py)` \|", (REPO / "docs" / "architecture.md").read_text(), re.M))
    modules = {
        p.relative_to(PACKAGE).as_posix()
        for p in PACKAGE.rglob("*.py")
        if p.name != "__init__.py" or p.parent == PACKAGE or len(p.read_text().splitlines()) > 1
    }  # a subpackage's __init__.py that is one docstring line is no module to describe
    assert modules - listed == set(), "modules missing from docs/architecture.md"
    assert listed - modules == set(), "docs/architecture.md lists modules that do not exist"
