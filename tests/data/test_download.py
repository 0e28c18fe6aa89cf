"""Downloads against a real HTTP server on 127.0.0.1: good, corrupt, dead and failing mirrors. No internet."""

from __future__ import annotations

import hashlib
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from digitreader.data import mnist
from digitreader.data.download import download
from digitreader.errors import DataError

PAYLOAD = b"digit bytes " * 5000
SHA = hashlib.sha256(PAYLOAD).hexdigest()


class Server:
    """Serves `routes` (path -> (status, body)); records every path requested."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, bytes]] = {}
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                server.requests.append(self.path)
                status, body = server.routes.get(self.path, (404, b"not found"))
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    s = Server()
    yield s
    s.close()


@pytest.fixture
def dead_url() -> str:
    """A URL on a port nobody listens on: connection refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/file.bin"


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_good_file(server: Server, tmp_path: Path) -> None:
    server.routes["/a/file.bin"] = (200, PAYLOAD)
    dest = tmp_path / "sub" / "file.bin"
    assert download([server.url + "/a/file.bin"], dest, SHA, progress=False) == dest
    assert dest.read_bytes() == PAYLOAD
    assert _leftovers(dest.parent) == ["file.bin"]
    # Already there with the right bytes: not fetched again.
    download([server.url + "/a/file.bin"], dest, SHA.upper(), progress=False)
    assert server.requests == ["/a/file.bin"]


def test_corrupt_mirror_then_good(server: Server, tmp_path: Path) -> None:
    server.routes["/bad/file.bin"] = (200, PAYLOAD[:-1] + b"X")
    server.routes["/good/file.bin"] = (200, PAYLOAD)
    dest = tmp_path / "file.bin"
    download([server.url + "/bad/file.bin", server.url + "/good/file.bin"], dest, SHA, progress=False)
    assert dest.read_bytes() == PAYLOAD
    # A checksum mismatch is not retried on the same mirror.
    assert server.requests == ["/bad/file.bin", "/good/file.bin"]
    assert _leftovers(tmp_path) == ["file.bin"]


def test_dead_and_missing_mirrors_then_good(server: Server, tmp_path: Path, dead_url: str) -> None:
    server.routes["/good/file.bin"] = (200, PAYLOAD)
    urls = [dead_url, server.url + "/missing/file.bin", server.url + "/good/file.bin"]
    download(urls, tmp_path / "file.bin", SHA, retries=2, backoff=0, progress=False)
    assert (tmp_path / "file.bin").read_bytes() == PAYLOAD
    assert server.requests == ["/missing/file.bin", "/good/file.bin"]  # a 404 is not retried


def test_server_errors_are_retried(server: Server, tmp_path: Path) -> None:
    server.routes["/flaky/file.bin"] = (503, b"busy")
    with pytest.raises(DataError, match=r"HTTP 503, 3 tries"):
        download([server.url + "/flaky/file.bin"], tmp_path / "file.bin", SHA, retries=3, backoff=0)
    assert server.requests == ["/flaky/file.bin"] * 3


def test_all_failing(server: Server, tmp_path: Path, dead_url: str) -> None:
    server.routes["/bad/file.bin"] = (200, b"not it")
    urls = [dead_url, server.url + "/missing/file.bin", server.url + "/bad/file.bin"]
    dest = tmp_path / "file.bin"
    dest.write_bytes(b"old partial junk")  # a stale wrong file is left alone, never half-replaced
    with pytest.raises(DataError) as info:
        download(urls, dest, SHA, retries=2, backoff=0, progress=False)
    message = str(info.value)
    assert message.startswith(f"{dest}: download failed:") and "\n" not in message
    assert f"{dead_url} (" in message and "2 tries" in message
    assert f"{server.url}/missing/file.bin (HTTP 404)" in message
    assert f"{server.url}/bad/file.bin (checksum mismatch" in message
    assert dest.read_bytes() == b"old partial junk"
    assert _leftovers(tmp_path) == ["file.bin"]


def test_no_mirrors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no mirrors given"):
        download([], tmp_path / "x", SHA)


def test_load_mnist_downloads_missing_files(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_mnist_dir: Path
) -> None:
    """load_mnist fetches a missing file from $DIGITREADER_MNIST_MIRRORS, checking its published hash."""
    spec = mnist.TEST_LABELS
    body = (tiny_mnist_dir / spec.name).read_bytes()
    # The tiny file stands in for the published one: its hash becomes the "published" hash.
    patched = mnist.MnistFile(spec.name, hashlib.sha256(body).hexdigest(), "0" * 64, spec.count)
    monkeypatch.setattr(mnist, "FILES", (*mnist.FILES[:3], patched))
    for other in mnist.FILES[:3]:
        (tmp_path / other.name).write_bytes((tiny_mnist_dir / other.name).read_bytes())
    server.routes["/m/" + spec.name] = (200, body)
    monkeypatch.setenv(mnist.ENV_MIRRORS, f"{server.url}/corrupt,{server.url}/m")
    server.routes["/corrupt/" + spec.name] = (200, body[:-1])
    data = mnist.load_mnist(tmp_path)
    assert len(data.test_labels) == 200
    assert (tmp_path / spec.name).read_bytes() == body
    assert server.requests == ["/corrupt/" + spec.name, "/m/" + spec.name]
    mnist.load_mnist(tmp_path)
    assert len(server.requests) == 2  # present now: not fetched again


def test_mirrors_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(mnist.ENV_MIRRORS, raising=False)
    assert mnist.mirrors() == list(mnist.MIRRORS)
    monkeypatch.setenv(mnist.ENV_MIRRORS, "http://a/x, http://b/y/")
    assert mnist.mirrors() == ["http://a/x/", "http://b/y/"]
