"""POST /v1/corrections: off by default; on, pictures and texts land where `digits finetune` takes them."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from digitreader.server.app import create_app
from digitreader.server.settings import Settings
from digitreader.tuning.source import list_labelled


def _png(value: int = 0) -> bytes:
    image = Image.new("L", (60, 30), 255)
    image.paste(value, (20, 5, 24, 25))  # a stroke: something to decode
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_corrections_are_off_unless_the_server_has_a_folder(recognizer) -> None:  # type: ignore[no-untyped-def]
    with TestClient(create_app(Settings(), recognizer)) as client:
        reply = client.post("/v1/corrections", files={"file": ("a.png", _png())}, data={"text": "12"})
        assert reply.status_code == 404 and "DIGITREADER_CORRECTIONS_DIR" in reply.json()["detail"]
        assert client.get("/healthz").json()["corrections"] is False


def test_saved_corrections_are_a_folder_digits_finetune_reads(recognizer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "corrections"
    with TestClient(create_app(Settings(corrections_dir=folder), recognizer)) as client:
        assert client.get("/healthz").json()["corrections"] is True
        first = client.post(
            "/v1/corrections", files={"file": ("../../evil name.png", _png())}, data={"text": " 1,250 "}
        )
        second = client.post("/v1/corrections", files={"file": ("x.png", _png(40))}, data={"text": "7"})
    assert first.status_code == 200 and first.json()["text"] == "1,250"
    saved = first.json()["saved"]
    assert saved.startswith("images/") and saved.endswith(".png") and "evil" not in saved
    assert sorted(p.name for p in folder.iterdir()) == ["images", "labels.csv"]
    with open(folder / "labels.csv", newline="") as f:
        assert list(csv.reader(f)) == [["path", "text"], [saved, "1,250"], [second.json()["saved"], "7"]]
    items, skipped = list_labelled(folder)
    assert (
        [i.text for i in items] == ["1,250", "7"] and skipped == [] and all(i.path.is_file() for i in items)
    )


@pytest.mark.parametrize(
    ("files", "data", "status", "says"),
    [
        ({"file": ("a.png", b"not a picture")}, {"text": "12"}, 415, ""),
        ({"file": ("a.png", _png())}, {"text": "12a"}, 422, "not a digit or a separator"),
        ({"file": ("a.png", _png())}, {"text": "1" * 65}, 422, "at most 64"),
        ({"file": ("a.png", _png())}, {}, 422, "no text field"),
    ],
)
def test_bad_corrections_are_refused_and_nothing_is_written(  # type: ignore[no-untyped-def]
    recognizer, tmp_path: Path, files: dict, data: dict, status: int, says: str
) -> None:
    with TestClient(create_app(Settings(corrections_dir=tmp_path / "c"), recognizer)) as client:
        reply = client.post("/v1/corrections", files=files, data=data)
    assert reply.status_code == status and says in reply.json()["detail"]
    assert not (tmp_path / "c" / "labels.csv").exists()
