"""Server settings from the environment (prefix DIGITREADER_), with their defaults and their checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from digitreader.server.settings import Settings


def test_defaults(monkeypatch):
    for name in ("HOST", "PORT", "MODEL", "MAX_BODY_BYTES", "MAX_PIXELS", "CORS_ORIGINS", "THREADS"):
        monkeypatch.delenv(f"DIGITREADER_{name}", raising=False)
    settings = Settings()
    assert (settings.host, settings.port, settings.model) == ("127.0.0.1", 8000, None)
    assert settings.max_body_bytes == 10_000_000
    assert settings.cors_origins == []


def test_values_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("DIGITREADER_PORT", "9123")
    monkeypatch.setenv("DIGITREADER_MODEL", "/models/mine.onnx")
    monkeypatch.setenv("DIGITREADER_MAX_PIXELS", "1000")
    monkeypatch.setenv("DIGITREADER_CORS_ORIGINS", "https://a.example, https://b.example")
    settings = Settings()
    assert settings.port == 9123
    assert settings.model == Path("/models/mine.onnx")
    assert settings.max_pixels == 1000
    assert settings.cors_origins == ["https://a.example", "https://b.example"]


def test_arguments_beat_the_environment(monkeypatch):
    monkeypatch.setenv("DIGITREADER_PORT", "9123")
    assert Settings(port=9000).port == 9000


@pytest.mark.parametrize(("name", "value"), [("PORT", "70000"), ("MAX_BODY_BYTES", "0"), ("PORT", "eighty")])
def test_bad_values_are_refused(monkeypatch, name, value):
    monkeypatch.setenv(f"DIGITREADER_{name}", value)
    with pytest.raises(ValidationError):
        Settings()
