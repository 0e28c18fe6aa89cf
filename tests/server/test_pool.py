"""Reading in worker processes (`--workers 2`): same answers as in process, errors mapped the same way, and
a worker that dies costs one request, not the server."""

from __future__ import annotations

import os
import signal
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

from digitreader.server.app import create_app
from digitreader.server.settings import Settings

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((REPO / "examples").glob("*.jpg"))[:4]


@pytest.fixture(scope="module")
def pooled(recognizer) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(create_app(Settings(workers=2), recognizer)) as client:
        yield client


def test_workers_give_the_readings_of_the_server_process(pooled, client) -> None:  # type: ignore[no-untyped-def]
    pool = pooled.app.state.read_pool
    assert pool is not None and pool.workers == 2
    for path in EXAMPLES:
        headers = {"Content-Type": "image/jpeg"}
        got = pooled.post("/v1/read?details=true", content=path.read_bytes(), headers=headers)
        want = client.post("/v1/read?details=true", content=path.read_bytes(), headers=headers)
        assert got.status_code == want.status_code == 200
        assert got.json() == want.json(), path.name


def test_an_image_a_worker_cannot_read_is_the_same_error(pooled, client) -> None:  # type: ignore[no-untyped-def]
    truncated = EXAMPLES[0].read_bytes()[:2000]  # a valid JPEG header, then nothing
    headers = {"Content-Type": "image/jpeg"}
    got = pooled.post("/v1/read", content=truncated, headers=headers)
    want = client.post("/v1/read", content=truncated, headers=headers)
    assert got.status_code == want.status_code == 422
    assert got.json() == want.json()


def test_a_killed_worker_costs_one_request_then_reading_goes_on(pooled) -> None:  # type: ignore[no-untyped-def]
    pool = pooled.app.state.read_pool
    victim = next(iter(pool._pool._processes))  # a worker's pid
    os.kill(victim, signal.SIGKILL)
    body, headers = EXAMPLES[0].read_bytes(), {"Content-Type": "image/jpeg"}
    statuses = [pooled.post("/v1/read", content=body, headers=headers).status_code for _ in range(3)]
    assert statuses.count(500) <= 1 and statuses[-1] == 200, statuses
