"""`digits serve`: starts a real server on loopback; a bad model, host or port is a one-line error, exit 2."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from digitreader.cli import main

REPO = Path(__file__).resolve().parents[2]
SEVEN = REPO / "examples" / "digit_7_photo.jpg"
JPEG = {"Content-Type": "image/jpeg"}


@pytest.mark.parametrize("workers", [1, 2])
def test_serve_answers_on_the_printed_address_and_stops_on_ctrl_c(workers):
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "DIGITREADER_MAX_BODY_BYTES": "123456"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "digitreader", "serve", "--port", "0", "--workers", str(workers)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.fullmatch(r"digits serve: (http://127\.0\.0\.1:\d+)/ .*\n", line)
        assert match, line
        url = match.group(1)
        health = None
        deadline = time.monotonic() + 30
        while health is None and time.monotonic() < deadline:
            try:
                health = httpx.get(f"{url}/healthz", timeout=2)
            except httpx.TransportError:
                time.sleep(0.1)
        assert health is not None and health.status_code == 200
        assert health.json()["max_body_bytes"] == 123456  # settings come from the environment
        assert httpx.get(url + "/").status_code == 200
        for _ in range(4):  # each worker has loaded the model (each request is a new connection)
            answer = httpx.post(f"{url}/v1/read?mode=digit", content=SEVEN.read_bytes(), headers=JPEG)
            assert answer.status_code == 200 and answer.json()["text"] == "7"
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
        if children.exists():  # Linux: the worker processes (not multiprocessing's resource tracker)
            commands = [Path(f"/proc/{pid}/cmdline").read_bytes() for pid in children.read_text().split()]
            assert sum(b"spawn_main" in c for c in commands) == (workers if workers > 1 else 0)
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=20)
    assert code == 0
    assert "Traceback" not in proc.stderr.read()  # type: ignore[union-attr]


def test_missing_model_is_a_one_line_error(tmp_path, capsys):
    missing = tmp_path / "nothing.onnx"
    assert main(["serve", "--port", "0", "--model", str(missing)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("digits: error:") and "nothing.onnx" in err
    assert "\n" not in err


def test_port_in_use_is_a_one_line_error(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 2
    err = capsys.readouterr().err.strip()
    assert f"127.0.0.1:{port}" in err and "in use" in err


def test_bad_port_from_the_environment_is_a_one_line_error(monkeypatch, capsys):
    monkeypatch.setenv("DIGITREADER_PORT", "99999")
    assert main(["serve"]) == 2
    assert "port" in capsys.readouterr().err


@pytest.mark.parametrize("flag", ["--host", "--port", "--model"])
def test_help_lists_the_options(flag, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["serve", "--help"])
    assert exit_info.value.code == 0
    assert flag in capsys.readouterr().out
