"""File names made safe to print on one line: a newline in a name must not forge a report line, and
terminal escape codes in a name must not reach the terminal."""

from __future__ import annotations


def printable(name: str) -> str:
    """`name` with every non-printable character escaped as Python writes it (\\n, \\x1b, \\u200b, ...)."""
    if name.isprintable():
        return name
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in name)
