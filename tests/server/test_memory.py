"""The allocator tuning (`server.memory.steady_malloc`) belongs to `digits serve`, not to building the app."""

from __future__ import annotations

import warnings

import pytest

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

from digitreader.cli import main
from digitreader.server import memory
from digitreader.server.app import create_app
from digitreader.server.settings import Settings


@pytest.fixture
def tuned(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records each call of `steady_malloc` instead of changing this process's allocator."""
    calls: list[str] = []
    monkeypatch.setattr(memory, "steady_malloc", lambda: calls.append("steady_malloc"))
    return calls


def test_creating_and_running_the_app_leaves_the_allocator_alone(recognizer, tuned: list[str]) -> None:  # type: ignore[no-untyped-def]
    app = create_app(Settings(), recognizer)
    with TestClient(app) as client:  # the lifespan runs: startup and shutdown
        assert client.get("/healthz").status_code == 200
    assert tuned == []


def test_digits_serve_tunes_the_allocator_before_it_serves(
    tuned: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import uvicorn

    served: list[list[str]] = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: served.append(list(tuned)))
    assert main(["serve", "--port", "0"]) == 0
    assert served == [["steady_malloc"]]  # tuned once, before uvicorn ran
    assert capsys.readouterr().out.startswith("digits serve: http://127.0.0.1:")
