"""A real `digits serve` on loopback, held to the usual 1,024 open files, against slow clients and slow
pictures: bounded in count (1,000 slow clients, three slow pictures) and in time (timeouts of a few
seconds). No test here asserts how fast an answer came: `python -m benchmarks.hostile_server` measures that.
"""

from __future__ import annotations

import re
import resource
import selectors
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from .conftest import ellipse_grid, png

REPO = Path(__file__).resolve().parents[2]
OPEN_FILES = 1024  # the usual soft limit, which 1,000 slow clients used to exhaust
SLOW_CLIENTS = 1000


@dataclass
class Served:
    proc: subprocess.Popen[str]
    port: int
    url: str
    log: list[str] = field(default_factory=list)


def _limit_open_files() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (OPEN_FILES, OPEN_FILES))


def serve(env: dict[str, str]) -> Iterator[Served]:
    """`digits serve` on a free port with `env` settings; its stderr (the request log) collected."""
    import os

    proc = subprocess.Popen(
        [sys.executable, "-m", "digitreader", "serve", "--host", "127.0.0.1", "--port", "0"],
        cwd=REPO,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_limit_open_files,
    )
    assert proc.stdout is not None and proc.stderr is not None
    match = re.search(r"http://127\.0\.0\.1:(\d+)/", proc.stdout.readline())
    if not match:
        proc.kill()
        raise AssertionError(f"digits serve did not start: {proc.communicate(timeout=10)}")
    served = Served(proc, int(match.group(1)), match.group(0).rstrip("/"))
    drain = threading.Thread(target=lambda: served.log.extend(proc.stderr), daemon=True)  # type: ignore[arg-type]
    drain.start()
    try:
        yield served
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        drain.join(10)
        assert not any("Traceback" in line for line in served.log), "".join(served.log)


@pytest.fixture(scope="module")
def server() -> Iterator[Served]:
    if resource.getrlimit(resource.RLIMIT_NOFILE)[1] < SLOW_CLIENTS + 200:
        pytest.skip("this test process may not open the 1,000 sockets of the slow clients")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    env = {
        "DIGITREADER_HEADER_TIMEOUT": "4",
        "DIGITREADER_BODY_TIMEOUT": "4",
        "DIGITREADER_READ_SECONDS": "2",
    }
    yield from serve(env)


def read_answer(sock: socket.socket) -> bytes:
    answer = b""
    while chunk := sock.recv(65536):
        answer += chunk
    return answer


def normal_read(url: str, data: bytes) -> httpx.Response:
    return httpx.post(f"{url}/v1/read", content=data, headers={"Content-Type": "image/png"}, timeout=60)


def test_a_read_is_answered_while_1000_slow_clients_hold_connections(
    server: Served, digit_png_bytes: bytes
) -> None:
    slow = []
    for _ in range(SLOW_CLIENTS):  # each sends half a request's headers, then nothing
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        sock.sendall(b"POST /v1/read HTTP/1.1\r\nHost: test\r\nContent-Type: ima")
        slow.append(sock)
    try:
        response = normal_read(server.url, digit_png_bytes)
        assert response.status_code == 200 and response.json()["text"] == "7"
        # Every slow client is let go: answered 408 once its header time is up, or closed sooner to make
        # room (the server holds fewer than 1,024 files). None is left holding a connection.
        answers = collect(slow, within=30)
        assert len(answers) == SLOW_CLIENTS
        timed_out = [a for a in answers if a.startswith(b"HTTP/1.1 408")]
        assert all(a == b"" or a.startswith(b"HTTP/1.1 408") for a in answers)
        assert timed_out and all(
            b'"detail": "request headers not complete within 4 s"' in a for a in timed_out
        )
    finally:
        for sock in slow:
            sock.close()


def collect(socks: list[socket.socket], within: float) -> list[bytes]:
    """What each socket receives until the server closes it (waiting `within` seconds at most for all)."""
    selector = selectors.DefaultSelector()
    received: dict[socket.socket, bytes] = {}
    for sock in socks:
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
        received[sock] = b""
    done: list[bytes] = []
    deadline = time.monotonic() + within
    while len(done) < len(socks) and time.monotonic() < deadline:
        for key, _ in selector.select(timeout=0.5):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if chunk:
                received[sock] += chunk
                continue
            selector.unregister(sock)
            done.append(received[sock])
    selector.close()
    return done


def test_three_slow_pictures_do_not_hold_up_a_normal_read(server: Served, digit_png_bytes: bytes) -> None:
    slow_picture = png(ellipse_grid())  # ~10 s of CPU to read in full; stopped at the server's 2 s
    answers: list[httpx.Response] = []
    uploads = [
        threading.Thread(target=lambda: answers.append(normal_read(f"{server.url}", slow_picture)))
        for _ in range(3)
    ]
    for upload in uploads:
        upload.start()
    time.sleep(1.0)  # sequencing only: let the three be read first (nothing here depends on how long)
    response = normal_read(server.url, digit_png_bytes)
    assert response.status_code == 200 and response.json()["text"] == "7"
    for upload in uploads:
        upload.join(60)
    assert [a.status_code for a in answers] == [422] * 3
    assert all(a.json()["detail"].startswith("reading stopped after 2 s of CPU time") for a in answers)


def test_a_late_body_is_answered_408(server: Served) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(
            b"POST /v1/read HTTP/1.1\r\nHost: t\r\nContent-Type: image/png\r\nContent-Length: 1000\r\n\r\n"
        )
        sock.sendall(b"\x89PNG\r\n\x1a\n")  # and the other 992 bytes never come
        answer = read_answer(sock)
    assert answer.startswith(b"HTTP/1.1 408")
    assert answer.endswith(b'{"detail": "request body not complete within 4 s"}')


def test_each_request_is_one_log_line(server: Served, digit_png_bytes: bytes) -> None:
    before = len(server.log)
    normal_read(server.url, digit_png_bytes)
    httpx.get(f"{server.url}/healthz")

    def mine() -> list[str]:  # lines of earlier tests' requests may still come in: count these two's
        return [
            line
            for line in server.log[before:]
            if '"POST /v1/read" 200' in line or '"GET /healthz" 200' in line
        ]

    deadline = time.monotonic() + 10
    while len(mine()) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)  # sequencing only: a duplicate line would have come by now
    lines = mine()
    assert len(lines) == 2 and '"POST /v1/read" 200' in lines[0] and '"GET /healthz" 200' in lines[1]
    assert re.search(r'127\.0\.0\.1:\d+ "GET /healthz" 200 [\d.]+ ms 0 B$', lines[1].rstrip())


def test_with_every_connection_busy_a_new_one_gets_503_and_retry_after(digit_png_bytes: bytes) -> None:
    for served in serve({"DIGITREADER_MAX_CONNECTIONS": "20", "DIGITREADER_BODY_TIMEOUT": "3"}):
        busy = []
        for _ in range(20):  # each is inside a request: headers done, its body coming slowly
            sock = socket.create_connection(("127.0.0.1", served.port), timeout=30)
            sock.sendall(
                b"POST /v1/read HTTP/1.1\r\nHost: t\r\nContent-Type: image/png\r\nContent-Length: 99\r\n\r\n"
            )
            busy.append(sock)
        time.sleep(2.0)  # sequencing only: let the server take in all 20 headers (milliseconds of work)
        with socket.create_connection(("127.0.0.1", served.port), timeout=30) as extra:
            answer = read_answer(extra)
        assert answer.startswith(b"HTTP/1.1 503")
        assert b"retry-after: 1\r\n" in answer
        # Their bodies never end: each is let go at its body time, and the server serves again.
        assert all(a.startswith(b"HTTP/1.1 408") for a in collect(busy, within=30))
        response = normal_read(served.url, digit_png_bytes)
        assert response.status_code == 200
