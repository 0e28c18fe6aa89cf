"""The `digits` entry point itself: help, unknown verbs, and a reader that closes the pipe early."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from digitreader.cli import main


def test_help_lists_every_verb(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for verb in ("read", "train", "evaluate", "export", "models", "data", "serve"):
        assert verb in out


def test_unknown_verb_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["fly"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_closed_pipe_is_not_a_traceback() -> None:
    # `digits models | head -c 0`: the reader is gone before digits writes; it must exit quietly.
    code = (
        "import io, sys\n"
        "from digitreader.cli import main\n"
        "raw = open(sys.stdout.fileno(), 'wb', buffering=0, closefd=False)\n"
        "sys.stdout = io.TextIOWrapper(raw, write_through=True)  # every print reaches the pipe at once\n"
        "sys.exit(main(['models']))\n"
    )
    read_end, write_end = os.pipe()
    os.close(read_end)  # nobody will ever read: the first write fails with EPIPE
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code], stdout=write_end, stderr=subprocess.PIPE, timeout=60
        )
    finally:
        os.close(write_end)
    err = proc.stderr.decode()
    assert "Traceback" not in err and "BrokenPipeError" not in err
    assert proc.returncode == 0
