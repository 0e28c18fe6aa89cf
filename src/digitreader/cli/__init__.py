"""The `digits` command: a thin layer that parses arguments, calls the library and prints.

Each verb lives in its own module with `register(subparsers)`; handlers import their heavy dependencies
(torch, onnxruntime, fastapi) only when they run, so `digits read` never imports torch.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from digitreader.errors import DigitreaderError

# Verb modules, in the order `digits --help` lists them.
_VERBS = ("read", "train", "finetune", "evaluate", "export", "models", "data", "serve")


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = argparse.ArgumentParser(
        prog="digits", description="Read handwritten digits; train and evaluate models."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    sub = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    for verb in _VERBS:
        importlib.import_module(f"digitreader.cli.{verb}_cmd").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `digits`. Returns the exit code: 0 ok, 2 bad input, 130 interrupted."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        return int(args.handler(args) or 0)
    except DigitreaderError as exc:
        print(f"digits: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("digits: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `digits ... | head` closed our stdout: not an error. Point stdout at devnull so the
        # interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
