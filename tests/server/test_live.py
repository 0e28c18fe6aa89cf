"""A real `digits serve` (uvicorn) process on loopback: limits seen on the wire, and many clients at once."""

from __future__ import annotations

import json
import socket
import threading

import httpx


def raw_request(server, head: str, body_parts: list[bytes]) -> tuple[int, dict[str, str], dict]:  # type: ignore[no-untyped-def]
    """Send `head` and `body_parts` on a plain socket, then read the whole answer (the server closes)."""
    with socket.create_connection((server.host, server.port), timeout=20) as sock:
        sock.sendall(head.encode("latin-1"))
        for part in body_parts:
            sock.sendall(part)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    header_block, _, payload = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = header_block.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in header_lines)}
    return int(status_line.split()[1]), headers, json.loads(payload)


def test_healthz(live_server):
    body = httpx.get(f"{live_server.url}/healthz").json()
    assert body["status"] == "ok" and body["max_body_bytes"] == live_server.max_body_bytes


def test_413_from_content_length_alone(live_server):
    # The client declares 50 MB and sends none of it: the answer comes from the header alone.
    head = (
        "POST /v1/read HTTP/1.1\r\nHost: test\r\nContent-Type: image/png\r\n"
        f"Content-Length: {50_000_000}\r\n\r\n"
    )
    status, headers, body = raw_request(live_server, head, [])
    assert status == 413
    assert headers["connection"] == "close"
    assert str(live_server.max_body_bytes) in body["detail"]


def test_413_while_a_chunked_body_is_still_streaming(live_server):
    # Chunks totalling one byte over the limit and no final chunk: the body never ends, yet the answer comes.
    head = (
        "POST /v1/read HTTP/1.1\r\nHost: test\r\nContent-Type: image/png\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    )
    piece = b"\0" * 100_000
    parts = [b"%x\r\n%s\r\n" % (len(piece), piece)] * (live_server.max_body_bytes // len(piece))
    parts.append(b"1\r\n\0\r\n")
    status, _, body = raw_request(live_server, head, parts)
    assert status == 413
    assert "larger than the limit" in body["detail"]


def test_reads_after_refusals_still_work(live_server, digit_png):
    raw_request(live_server, f"POST /v1/read HTTP/1.1\r\nHost: t\r\nContent-Length: {10**9}\r\n\r\n", [])
    response = httpx.post(
        f"{live_server.url}/v1/read", files={"file": ("7.png", digit_png("7"), "image/png")}
    )
    assert response.status_code == 200
    assert response.json()["text"] == "7"


def test_413_for_pixels_and_415_on_the_wire(live_server, png_of_size):
    url = f"{live_server.url}/v1/read"
    big = httpx.post(url, content=png_of_size(3000, 3000), headers={"Content-Type": "image/png"})
    assert big.status_code == 413 and "pixels" in big.json()["detail"]
    text = httpx.post(url, content=b"plain words", headers={"Content-Type": "image/jpeg"})
    assert text.status_code == 415


def test_32_simultaneous_requests_are_all_answered_correctly(live_server, recognizer, digit_png):
    texts = ["7", "0", "1", "4", "17", "70", "471", "104"]
    images = {text: digit_png(text) for text in texts}
    # "Correctly": each answer is the one the library gives for that very picture (no mix-ups, nothing lost).
    expected = {text: recognizer.read(images[text], mode="number").to_dict() for text in texts}
    jobs = [texts[i % len(texts)] for i in range(32)]
    start = threading.Barrier(len(jobs))
    answers: list[dict | None] = [None] * len(jobs)

    def client(i: int, text: str) -> None:
        with httpx.Client(base_url=live_server.url, timeout=60) as http:
            start.wait()
            # Half as forms, half as raw bodies: both paths under load.
            if i % 2:
                response = http.post(
                    "/v1/read?mode=number", content=images[text], headers={"Content-Type": "image/png"}
                )
            else:
                response = http.post(
                    "/v1/read", files={"file": ("n.png", images[text], "image/png")}, data={"mode": "number"}
                )
            assert response.status_code == 200, response.text
            answers[i] = response.json() | {"path": None}

    threads = [threading.Thread(target=client, args=(i, text)) for i, text in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert answers == [expected[text] for text in jobs]
    # And the readings are real ones: all but at most one of the eight pictures read as drawn.
    right = sum(answer["text"] == text for answer, text in zip(answers, jobs, strict=True))  # type: ignore[index]
    assert right >= 28
