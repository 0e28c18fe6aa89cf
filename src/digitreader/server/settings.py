"""Server settings, typed, read from the environment (prefix `DIGITREADER_`: `DIGITREADER_PORT=9000`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    """Where the server listens, which model it loads, and the limits it puts on each request.

    The model is chosen here, by whoever starts the server, never by a request.
    """

    model_config = SettingsConfigDict(env_prefix="DIGITREADER_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    # None: the bundled default model.
    model: Path | None = None
    # ONNX Runtime threads inside each read. One: a read's batch is small, and a server's parallelism comes
    # from reading several requests at once (one per CPU), which spare threads would only fight.
    threads: int = Field(default=1, ge=1)
    # Reading processes (`digits serve --workers`); each loads the model. 1: threads in the server's process.
    workers: int = Field(default=1, ge=1, le=64)
    # Largest request body in bytes (uploads included); larger ones get 413 before they are read whole.
    max_body_bytes: int = Field(default=10_000_000, gt=0)
    # Largest image in pixels (width * height), checked from the header before decoding.
    max_pixels: int = Field(default=50_000_000, gt=0)
    # Origins allowed to call the API from other sites' pages; none by default. Env: comma-separated.
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Host header values served ("digits.example.org", "*.example.org"; port ignored); empty: any.
    # Env: comma-separated. Set it when the server is reachable by name (DNS rebinding).
    allowed_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # CPU seconds one picture may take to read (0: no limit); a read over it is answered 422.
    read_seconds: float = Field(default=5.0, ge=0, allow_inf_nan=False)
    # A request's headers must arrive within this many seconds of the connection opening (or of the
    # previous answer on a kept-alive connection), and its body within `body_timeout` of its headers.
    header_timeout: float = Field(default=10.0, gt=0, allow_inf_nan=False)
    body_timeout: float = Field(default=60.0, gt=0, allow_inf_nan=False)
    # Open connections at most: beyond it the one waiting longest for a request is closed, or, when all are
    # busy, the new one is answered 503. The open-file limit is raised to fit (or this lowered to fit it).
    max_connections: int = Field(default=1000, ge=1)
    # Reads waiting for a reader at most (beyond those being read): one more is answered 503 with
    # Retry-After at once, rather than waiting without end.
    max_queued_reads: int = Field(default=64, ge=0)
    # Where the page's "correct this reading" control saves pictures and their corrected texts, in the
    # layout `digits finetune` takes (images/ and labels.csv). None: corrections are off (the default).
    corrections_dir: Path | None = None
    # One log line per request on stderr (client, method, path, status, time, bytes received).
    request_log: bool = True

    @field_validator("cors_origins", "allowed_hosts", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value
