"""`digits models`: the registered models, their parameter counts and training recipes."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("models", help="list the registered models and their recipes")
    p.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from digitreader.models.recipe import describe
    from digitreader.models.registry import list_specs

    rows = [("name", "params", "recipe", "description")]
    for spec in list_specs():
        rows.append((spec.name, f"{spec.parameter_count():,}", describe(spec.recipe), spec.description))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print(f"{row[0]:<{widths[0]}}  {row[1]:>{widths[1]}}  {row[2]:<{widths[2]}}  {row[3]}")
    return 0
