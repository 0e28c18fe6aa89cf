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


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [(b"%PDF-1.4 not an image", 415, "not an image"), (b"", 415, "empty")],
)
def test_refusals_are_the_same_through_workers(pooled, client, body, status, words) -> None:  # type: ignore[no-untyped-def]
    headers = {"Content-Type": "image/png"}
    got, want = (c.post("/v1/read", content=body, headers=headers) for c in (pooled, client))
    assert got.status_code == want.status_code == status
    assert got.json() == want.json() and words in got.json()["detail"]


def test_workers_refuse_images_over_the_pixel_limit_before_decoding(recognizer, png_of_size) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(workers=2, max_pixels=1_000_000)
    with TestClient(create_app(settings, recognizer)) as small:
        headers = {"Content-Type": "image/png"}
        big = small.post("/v1/read", content=png_of_size(1001, 1000), headers=headers)
        assert big.status_code == 413 and "1,000,000" in big.json()["detail"]
        fits = small.post("/v1/read", content=png_of_size(1000, 1000), headers=headers)
        assert fits.status_code == 200


def test_a_model_the_workers_cannot_load_stops_the_start(recognizer, tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    app = create_app(Settings(workers=2, model=bad), recognizer)
    with pytest.raises(Exception, match="could not start.*bad.onnx"), TestClient(app):
        pass


def test_a_killed_worker_costs_one_request_then_reading_goes_on(pooled) -> None:  # type: ignore[no-untyped-def]
    pool = pooled.app.state.read_pool
    victim = pool.pids()[0]
    os.kill(victim, signal.SIGKILL)
    body, headers = EXAMPLES[0].read_bytes(), {"Content-Type": "image/jpeg"}
    statuses = [pooled.post("/v1/read", content=body, headers=headers).status_code for _ in range(3)]
    assert statuses.count(500) <= 1 and statuses[-1] == 200, statuses


def test_answers_stay_with_their_requests_when_some_are_cancelled(recognizer) -> None:  # type: ignore[no-untyped-def]
    # Each worker holds up to two pictures and answers in order: a request whose client went away must
    # still take its own answer off the socket, or every later request would get its neighbour's.
    import asyncio

    from digitreader.server.pool import ReadPool

    pictures = {name: (REPO / "examples" / name).read_bytes() for name in _EXPECTED}

    async def scenario() -> list[tuple[str, str]]:
        pool = ReadPool(2, recognizer.path, threads=1, max_pixels=50_000_000)
        await pool.start()
        try:
            names = list(_EXPECTED) * 3
            tasks = [asyncio.create_task(pool.read(pictures[n], "auto", n)) for n in names]
            await asyncio.sleep(0)  # all sent (two per worker) or waiting for room
            for task in tasks[1::3]:
                task.cancel()
            results = await asyncio.gather(*tasks, return_exceptions=True)
            kept = [
                (n, r.text) for n, r in zip(names, results, strict=True) if not isinstance(r, BaseException)
            ]
            after = await asyncio.gather(*(pool.read(pictures[n], "auto", n) for n in _EXPECTED))
            return kept + [(n, r.text) for n, r in zip(_EXPECTED, after, strict=True)]
        finally:
            await pool.close()

    answered = asyncio.run(asyncio.wait_for(scenario(), 60))  # a lost answer would hang a request
    assert len(answered) >= 2 * len(_EXPECTED)
    assert all(text == _EXPECTED[name] for name, text in answered), answered


_EXPECTED = {"cheque_4096.jpg": "4096", "digit_7_photo.jpg": "7", "number_31415_chalkboard.jpg": "31415"}
