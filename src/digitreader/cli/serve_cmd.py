"""`digits serve [--host H] [--port P] [--model PATH] [--workers N]`: the HTTP API and page under uvicorn.

Defaults come from the environment (`DIGITREADER_HOST`, `DIGITREADER_PORT`, `DIGITREADER_MODEL`,
`DIGITREADER_WORKERS`, limits: see `digitreader.server.settings`). The model is loaded and the port bound
before uvicorn starts, so a bad model or a port in use is a one-line error (exit code 2), not a traceback.

`--workers N` reads in N worker processes (`digitreader.server.pool`): much of a read is Python holding the
GIL, so one process cannot keep two cores busy. Each worker loads its own copy of the model (~100 MB).

uvicorn runs with `server.connections`' protocol (header and body timeouts, a cap on connections, the
open-file limit raised to fit it), and the request log (one line per request) goes to stderr unless
`DIGITREADER_REQUEST_LOG=false`.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import logging
import socket
import sys
from pathlib import Path
from typing import Any

from digitreader.errors import DigitreaderError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "serve",
        help="serve the HTTP API and the drawing page",
        description="Serve POST /v1/read, GET /healthz, the drawing page at / and the API docs at /docs.",
    )
    p.add_argument("--host", help="address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)")
    p.add_argument("--port", type=int, help="port to listen on (default 8000; 0 picks a free one)")
    p.add_argument(
        "--model",
        type=Path,
        metavar="PATH",
        help="an .onnx file from `digits export` (a digit classifier or a sequence reader) in place of the "
        "bundled one of its kind (default: the bundled models)",
    )
    p.add_argument(
        "--workers", type=int, metavar="N", help="reading processes (default 1: threads in the server's own)"
    )
    p.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    # Imported here so other verbs never pay for FastAPI and uvicorn.
    import uvicorn
    from pydantic import ValidationError

    from digitreader.server.app import create_app, load_recognizer
    from digitreader.server.memory import steady_malloc
    from digitreader.server.settings import Settings

    given = (("host", args.host), ("port", args.port), ("model", args.model), ("workers", args.workers))
    overrides = {k: v for k, v in given if v is not None}
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise DigitreaderError(f"bad setting {'.'.join(map(str, first['loc']))}: {first['msg']}") from None

    # The allocator tuning is the serving process's choice, made here and not by create_app (whose callers,
    # tests included, keep theirs); before the model loads, so its buffers land in the tuned arenas.
    steady_malloc()
    recognizer = load_recognizer(settings)  # also checks the model before anything listens
    sock = _bind(settings.host, settings.port)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    workers = f", {settings.workers} reading processes" if settings.workers > 1 else ""
    print(f"digits serve: http://{shown}:{port}/ (API docs at /docs{workers}; Ctrl+C stops)", flush=True)

    app = create_app(settings, recognizer)
    _request_log(settings.request_log)
    # The request log replaces uvicorn's access log (one line per request, refusals included).
    config = uvicorn.Config(
        app, http=_protocol(settings), log_level="warning" if not args.verbose else "info", access_log=False
    )
    # uvicorn re-raises Ctrl+C after its graceful shutdown; for a server that is the normal way to stop.
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.Server(config).run(sockets=[sock])
    return 0


def _protocol(settings: Any) -> Any:
    """uvicorn's HTTP protocol with the settings' timeouts and connection cap (plain uvicorn without
    httptools, which the `serve` extra installs)."""
    from digitreader.server.connections import ConnectionLimits, fit_open_files, guarded_protocol

    try:
        import httptools  # noqa: F401
    except ImportError:
        logging.getLogger(__name__).warning("httptools is not installed: no header or body timeouts")
        return "auto"
    cap = fit_open_files(settings.max_connections)
    return guarded_protocol(ConnectionLimits(settings.header_timeout, settings.body_timeout, cap))


def _request_log(enabled: bool) -> None:
    """Send the request log (`server.requestlog`) to stderr, one line per request; or silence it."""
    logger = logging.getLogger("digitreader.server.requests")
    logger.propagate = False
    logger.setLevel(logging.INFO if enabled else logging.WARNING)
    if enabled and not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        logger.addHandler(handler)


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port, or a one-line error saying why not."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise DigitreaderError(f"cannot listen on host {host!r}: {exc.strerror}") from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        reason = "the port is in use" if exc.errno == errno.EADDRINUSE else exc.strerror
        raise DigitreaderError(f"cannot listen on {host}:{port}: {reason}") from None
    sock.set_inheritable(True)
    return sock
