"""`digits export` (placeholder until its module lands)."""

import argparse

from digitreader.errors import DigitreaderError


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("export", help="(not yet available)")
    p.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    raise DigitreaderError("'digits export' is not available yet")
