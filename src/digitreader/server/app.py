"""The HTTP API and the drawing page: `create_app(settings, recognizer)` builds the FastAPI application.

Routes: `POST /v1/read` (an image -> the JSON of `digits read --json`), `GET /healthz`, `GET /` (the page,
from `static/`), OpenAPI at `/docs`. The recogniser is loaded once, at startup, and each read runs off the
event loop: in a thread of this process (ONNX Runtime sessions are thread-safe), or with `workers > 1` in
one of the reading processes of `server.pool`. Either way the upload is decoded, and its header checked
against the pixel limit, only where it is read.

Reads are admitted up to a bound and read fast-first (`server.admission`: 503 with Retry-After when full);
each runs under a CPU budget (`read_seconds`) and stops when its client goes away (answered 499, to nobody).
Middlewares, outermost first: the request log, CORS, the allowed hosts, the body-size limit. Slow and surplus
connections are dealt with below the app, in uvicorn's protocol (`server.connections`, set by `digits serve`).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, Protocol

import anyio
import anyio.to_thread
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import UploadFile
from starlette.requests import ClientDisconnect

from digitreader import budget
from digitreader.contract import MODES, check_mode
from digitreader.errors import (
    DigitreaderError,
    ImageTooLargeError,
    ModelError,
    NotAnImageError,
    ReadCancelledError,
)
from digitreader.onnx_engine import available_cpus
from digitreader.reading import Reading
from digitreader.server.admission import Admission, Busy
from digitreader.server.connections import RETRY_AFTER_S
from digitreader.server.corrections import router as corrections_router
from digitreader.server.hosts import AllowedHosts
from digitreader.server.limits import BodySizeLimit
from digitreader.server.pool import IN_HAND, ReadPool, WorkerDiedError, prepare_reading_process, read_image
from digitreader.server.requestlog import RequestLog
from digitreader.server.schemas import ErrorOut, HealthOut, ReadingOut
from digitreader.server.settings import Settings

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"

# The page loads only its own files; uploads are shown from blob: URLs.
_PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut, "description": text}
    for code, text in (
        (413, "The body is over `max_body_bytes`, or the image over `max_pixels`."),
        (415, "The upload is not an image."),
        (
            422,
            "A bad `mode`, a form without `file`, or an image that cannot be read (truncated, tiny, "
            "over `read_seconds` of CPU).",
        ),
        (
            503,
            "The server has as many reads in hand as it takes (`max_queued_reads`): retry after the "
            "seconds of the Retry-After header.",
        ),
    )
}

# The request body the read route parses itself (a form OR a raw image), described for /docs.
_READ_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary", "description": "The image."},
                        "mode": {"type": "string", "enum": list(MODES), "description": "Beats the query."},
                    },
                }
            },
            "image/*": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


_READ_PARAMETERS = [
    {
        "name": "mode",
        "in": "query",
        "required": False,
        "description": "digit, number or auto (default auto)",
        "schema": {"type": "string", "enum": list(MODES), "default": "auto"},
    },
    {
        "name": "details",
        "in": "query",
        "required": False,
        "description": "Add each digit's ten probabilities.",
        "schema": {"type": "boolean", "default": False},
    },
]

# The spellings of a boolean query flag that pydantic (and so FastAPI) accepts.
_FLAGS = {"true": True, "1": True, "yes": True, "on": True, "t": True, "y": True}
_FLAGS |= {"false": False, "0": False, "no": False, "off": False, "f": False, "n": False}


class RecognizerLike(Protocol):
    """What the server needs of `digitreader.recognizer.Recognizer`."""

    def read(self, image: Any, mode: str = "auto") -> Reading: ...


def create_app(settings: Settings | None = None, recognizer: RecognizerLike | None = None) -> FastAPI:
    """Build the application; `recognizer=None` loads `settings.model` (None: the bundled one) at startup."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        prepare_reading_process()  # OpenCV on one thread; reading processes (--workers) do the same
        if app.state.recognizer is None:
            app.state.recognizer = await anyio.to_thread.run_sync(load_recognizer, settings)
        log.info("reading with model %s", _model_name(app.state.recognizer))
        if settings.workers > 1:
            app.state.read_pool = ReadPool(
                settings.workers, settings.model, settings.threads, settings.max_pixels, settings.read_seconds
            )
            pids = await app.state.read_pool.start()
            log.info("reading in %d worker processes: %s", settings.workers, pids)
        try:
            yield
        finally:
            if app.state.read_pool is not None:
                await app.state.read_pool.close()
                app.state.read_pool = None

    app = FastAPI(
        title="digitreader",
        summary="Read handwritten digits in photos, scans and drawings.",
        version=_version(),
        lifespan=lifespan,
        docs_url=None,  # served below from the package: FastAPI's default page loads Swagger UI from a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.recognizer = recognizer
    app.state.read_pool = None  # worker processes, with settings.workers > 1 (started with the app)
    # Reads read at once: one per core (reading processes: each with its pictures in hand), and one slow
    # read aside (`server.admission`).
    readers = settings.workers * IN_HAND if settings.workers > 1 else max(2, available_cpus())
    app.state.admission = Admission(readers, 1, settings.max_queued_reads)

    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _internal_error)
    # Added innermost first: the last added sees a request first.
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(AllowedHosts, allowed=settings.allowed_hosts)
    if settings.cors_origins:  # outside the limits: its headers go on their 413 and 400 too
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["*"],
        )
    app.add_middleware(RequestLog)

    _add_routes(app)
    app.include_router(corrections_router)
    _add_docs(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


def _add_docs(app: FastAPI) -> None:
    """Swagger UI at /docs from the vendored copy in static/vendor (works without internet access)."""
    from fastapi.openapi.docs import get_swagger_ui_html

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title="digitreader API",
            swagger_js_url="/static/vendor/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="/static/vendor/swagger-ui/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg",
        )


async def get_recognizer(request: Request) -> RecognizerLike:
    """The recogniser loaded at startup, or the one given to `create_app` (which is how tests give theirs).

    `/healthz` takes it as a FastAPI dependency; `/v1/read` calls it directly (see the comment there), so
    `app.dependency_overrides` does not reach reads. `async`: FastAPI runs a plain `def` dependency in its
    thread pool, a thread hop per request for a field lookup."""
    recognizer: RecognizerLike | None = request.app.state.recognizer
    if recognizer is None:
        raise HTTPException(503, "the model is not loaded yet")
    return recognizer


async def get_settings(request: Request) -> Settings:
    """The settings the application was built with."""
    settings: Settings = request.app.state.settings
    return settings


def _add_routes(app: FastAPI) -> None:
    @app.post(
        "/v1/read",
        response_model=ReadingOut,
        response_model_exclude_unset=True,
        responses=_ERRORS,
        openapi_extra={**_READ_BODY, "parameters": _READ_PARAMETERS},
        summary="Read the digits in an image",
    )
    async def read(request: Request) -> Any:
        """Upload an image as multipart field `file` (optional form field `mode`), or send it as the raw body
        with an `image/*` content type. Returns the same JSON as `digits read --json`."""
        # Parameters and dependencies are taken here by hand, not declared for FastAPI to solve: in a
        # profile of the server under load, its dependency solving was a third of this route's Python
        # time. `_READ_PARAMETERS` documents them in the OpenAPI schema; tests give their recogniser to
        # `create_app` (dependency_overrides do not reach this route).
        recognizer, settings = await get_recognizer(request), await get_settings(request)
        query = request.query_params
        mode = _check_mode(query["mode"]) if "mode" in query else None
        details = _flag("details", query.get("details", "false"))
        try:
            data, filename, form_mode = await _image_from_request(request)
        except ClientDisconnect:
            return Response(status_code=499)  # gone before its upload ended: nobody to answer
        chosen = _check_mode(form_mode) if form_mode is not None else (mode or "auto")
        pool: ReadPool | None = request.app.state.read_pool
        admission: Admission = request.app.state.admission

        async def read_it(cancel: threading.Event) -> Reading:
            # The image's header is checked where it is decoded (worker or thread): one parse, not two.
            if pool is not None:
                return await pool.read(data, chosen, filename)

            def work(on_slow: Callable[[], None]) -> Reading:
                limit, after = settings.read_seconds or None, admission.slow_after
                with budget.read_budget(limit, cancel=cancel, slow_after=after, on_slow=on_slow):
                    return read_image(recognizer, data, chosen, settings.max_pixels, filename)

            return await admission.run(work, cancel)

        try:
            with admission.admit():
                reading = await _while_connected(request, read_it)
        except Busy as exc:
            raise HTTPException(503, str(exc), headers={"Retry-After": str(RETRY_AFTER_S)}) from exc
        except ReadCancelledError:
            return Response(status_code=499)
        except ImageTooLargeError as exc:
            raise HTTPException(413, str(exc)) from exc
        except NotAnImageError as exc:
            raise HTTPException(415, str(exc)) from exc
        except WorkerDiedError as exc:
            raise HTTPException(500, "the reading process failed on this image") from exc
        except ModelError as exc:
            log.error("the model failed on %s: %s", filename or "a request body", exc)
            raise HTTPException(500, "the model failed on this image") from exc  # no server paths in answers
        except DigitreaderError as exc:  # ImageError: truncated, too small, nothing to read
            raise HTTPException(422, str(exc)) from exc
        except Exception as exc:  # a bug in reading: logged once here, and the connection stays usable
            log.exception("reading %s failed", filename or "a request body")
            raise HTTPException(500, "internal error while reading the image") from exc
        # Returned as a response, so FastAPI does not validate our own output again (ReadingOut documents it).
        return JSONResponse(reading.to_dict(path=filename, details=details))

    @app.get("/healthz", response_model=HealthOut, summary="Health check")
    async def healthz(
        recognizer: Annotated[RecognizerLike, Depends(get_recognizer)],
        settings: Annotated[Settings, Depends(get_settings)],
    ) -> HealthOut:
        """`ok` and the model's name once the model is loaded; 503 before."""
        return HealthOut(
            status="ok",
            model=_model_name(recognizer),
            max_body_bytes=settings.max_body_bytes,
            max_pixels=settings.max_pixels,
            corrections=settings.corrections_dir is not None,
        )

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", headers=_PAGE_HEADERS)


async def _while_connected(
    request: Request, read: Callable[[threading.Event], Awaitable[Reading]]
) -> Reading:
    """`read(cancel)`, with `cancel` set and the wait given up when the client disconnects meanwhile
    (`ReadCancelledError`): a read nobody waits for stops at its next budget check."""
    cancel = threading.Event()
    with anyio.CancelScope() as scope:

        async def watch() -> None:
            while (await request.receive())["type"] != "http.disconnect":
                pass
            cancel.set()
            scope.cancel()

        watcher = asyncio.get_running_loop().create_task(watch())
        try:
            return await read(cancel)
        finally:
            watcher.cancel()
    raise ReadCancelledError("the client went away before its reading was ready")


async def _image_from_request(request: Request) -> tuple[bytes, str | None, str | None]:
    """The image bytes, the uploaded file's name (None for a raw body) and the form's `mode` (or None)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        async with request.form(max_files=1, max_fields=8) as form:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise HTTPException(422, "the form has no file field named 'file'")
            data = await upload.read()
            form_mode = form.get("mode")
            filename = upload.filename or None
        if form_mode is not None and not isinstance(form_mode, str):
            raise HTTPException(422, "mode must be a plain form field, not a file")
    elif content_type.startswith("image/") or content_type == "application/octet-stream":
        data, filename, form_mode = await request.body(), None, None
    else:
        raise HTTPException(
            415,
            "expected an image: a multipart form with field 'file', or an image/* body "
            f"(got content type {content_type or 'none'!r})",
        )
    if not data:
        raise HTTPException(415, "the uploaded image is empty")
    return data, filename, form_mode


def _flag(name: str, value: str) -> bool:
    try:
        return _FLAGS[value.strip().lower()]
    except KeyError:
        raise HTTPException(422, f"{name}: Input should be a valid boolean (got {value[:40]!r})") from None


def _check_mode(mode: str) -> str:
    try:
        return check_mode(mode)
    except DigitreaderError as exc:
        raise HTTPException(422, str(exc)) from None


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    """422 with a plain string `detail` (FastAPI's default is a list of objects)."""
    errors: Sequence[Any] = exc.errors() if isinstance(exc, RequestValidationError) else []
    parts = []
    for error in errors:
        where = ".".join(str(part) for part in error.get("loc", ()) if part not in ("query", "body", "path"))
        parts.append(f"{where}: {error.get('msg', 'invalid')}" if where else str(error.get("msg", "invalid")))
    return JSONResponse({"detail": "; ".join(parts) or "invalid request"}, status_code=422)


async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    """500 with a plain `detail` (Starlette re-raises afterwards, so the server logs the traceback once)."""
    return JSONResponse({"detail": "internal server error"}, status_code=500)


def load_recognizer(settings: Settings) -> RecognizerLike:
    """The recogniser the settings name (`model`, `threads`); raises `ModelError` naming a bad file."""
    from digitreader.recognizer import Recognizer  # imported here: ONNX Runtime only when a server starts

    recognizer: RecognizerLike = Recognizer.load(
        settings.model, threads=settings.threads, read_seconds=settings.read_seconds
    )
    return recognizer


def _model_name(recognizer: object) -> str:
    """A short name for the model, from whatever the recogniser exposes."""
    for attribute in ("name", "model_name"):
        value = getattr(recognizer, attribute, None)
        if isinstance(value, str) and value:
            return value
    return type(recognizer).__name__


def _version() -> str:
    from digitreader import __version__

    return __version__
