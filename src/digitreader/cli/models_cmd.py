"""`digits models` (placeholder until its module lands)."""

import argparse

from digitreader.errors import DigitreaderError


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("models", help="(not yet available)")
    p.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    raise DigitreaderError("'digits models' is not available yet")
