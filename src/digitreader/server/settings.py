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

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value
