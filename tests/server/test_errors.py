"""Every error the API answers, each with its status code and a one-line string `detail`."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from digitreader.errors import ModelError
from digitreader.server.app import create_app
from digitreader.server.settings import Settings

SMALL_BODY = 50_000
SMALL_PIXELS = 250_000


@pytest.fixture(scope="module")
def strict(recognizer) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    """A client on an app with small limits, so that going over them is cheap."""
    settings = Settings(max_body_bytes=SMALL_BODY, max_pixels=SMALL_PIXELS)
    with TestClient(create_app(settings, recognizer)) as test_client:
        yield test_client


def assert_error(response, status: int, *words: str) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str) and "\n" not in detail
    for word in words:
        assert word in detail
    return detail


def test_413_by_content_length(strict):
    body = b"\x89PNG" + b"\0" * SMALL_BODY
    response = strict.post("/v1/read", content=body, headers={"Content-Type": "image/png"})
    assert_error(response, 413, str(SMALL_BODY))
    assert response.headers["connection"] == "close"


def test_413_by_content_length_on_a_multipart_upload(strict):
    response = strict.post("/v1/read", files={"file": ("big.png", b"\0" * (SMALL_BODY + 1), "image/png")})
    assert_error(response, 413)


def test_413_for_a_streamed_body_without_content_length(strict):
    sent = []

    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            sent.append(1)
            yield b"\0" * 10_000

    response = strict.post("/v1/read", content=chunks(), headers={"Content-Type": "image/png"})
    assert "content-length" not in response.request.headers
    assert_error(response, 413, str(SMALL_BODY))


def test_a_body_just_under_the_limit_is_read(strict, digit_png):
    data = digit_png("7")
    assert len(data) < SMALL_BODY
    assert strict.post("/v1/read", content=data, headers={"Content-Type": "image/png"}).status_code == 200


def test_413_for_too_many_pixels(strict, png_of_size):
    assert_error(
        strict.post("/v1/read", content=png_of_size(600, 600), headers={"Content-Type": "image/png"}),
        413,
        "pixels",
    )


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims `width` x `height` pixels and holds almost no data: a bomb is refused from this."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grey
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("side", [8_000, 100_000])
def test_413_for_a_decompression_bomb_under_the_default_limits(client, side):
    # 64 MP (over the 50 MP limit) and 10 GP (over Pillow's own bomb limit): both refused before decoding.
    bomb = png_header_only(side, side)
    assert len(bomb) < 200
    assert_error(client.post("/v1/read", content=bomb, headers={"Content-Type": "image/png"}), 413, "pixels")


def test_415_for_a_body_that_is_not_an_image(client):
    response = client.post(
        "/v1/read", content=b"%PDF-1.4 not an image", headers={"Content-Type": "image/png"}
    )
    assert_error(response, 415, "not an image")


def test_415_for_an_uploaded_file_that_is_not_an_image(client):
    response = client.post("/v1/read", files={"file": ("notes.txt", b"hello world", "text/plain")})
    assert_error(response, 415)


def test_415_for_a_content_type_that_is_not_an_image(client, digit_png):
    response = client.post("/v1/read", content=digit_png("7"), headers={"Content-Type": "text/plain"})
    assert_error(response, 415, "text/plain")


def test_415_for_an_empty_body(client):
    assert_error(client.post("/v1/read", content=b"", headers={"Content-Type": "image/png"}), 415, "empty")


def test_422_for_a_bad_mode_in_the_query(client, digit_png):
    response = client.post(
        "/v1/read?mode=letters", content=digit_png("7"), headers={"Content-Type": "image/png"}
    )
    assert_error(response, 422, "mode", "digit")


def test_422_for_a_bad_mode_in_the_form(client, digit_png):
    response = client.post(
        "/v1/read", files={"file": ("a.png", digit_png("7"), "image/png")}, data={"mode": "x"}
    )
    assert_error(response, 422, "mode")


def test_422_for_a_bad_details_flag(client, digit_png):
    response = client.post(
        "/v1/read?details=maybe", content=digit_png("7"), headers={"Content-Type": "image/png"}
    )
    assert_error(response, 422, "details")


def test_422_for_a_form_without_a_file(client):
    assert_error(client.post("/v1/read", data={"mode": "digit"}, files={"other": ("a", b"x")}), 422, "'file'")


def test_422_for_a_truncated_image(client, digit_png):
    data = digit_png("7")
    response = client.post("/v1/read", content=data[: len(data) // 2], headers={"Content-Type": "image/png"})
    assert_error(response, 422)


def test_405_for_get_on_the_read_route(client):
    assert_error(client.get("/v1/read"), 405)


class BrokenRecognizer:
    """Fails every read the given way (the real recogniser does not fail on demand)."""

    model_name = "broken"

    def __init__(self, error: Exception) -> None:
        self.error = error

    def read(self, image: object, mode: str = "auto") -> None:
        raise self.error


@pytest.mark.parametrize(
    ("error", "words"),
    [(ModelError("model.onnx: session failed"), "model failed"), (RuntimeError("a bug"), "internal error")],
)
def test_500_when_reading_fails_inside(digit_png, caplog, error, words):
    with TestClient(create_app(Settings(), BrokenRecognizer(error))) as broken:
        response = broken.post("/v1/read", content=digit_png("7"), headers={"Content-Type": "image/png"})
        assert_error(response, 500, words)
        assert "a bug" not in response.text and "onnx" not in response.text  # no internals in the answer
        assert broken.get("/healthz").status_code == 200  # and the server goes on
    assert any(record.levelname == "ERROR" for record in caplog.records)
