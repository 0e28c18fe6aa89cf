"""Corrections sent from the page, saved where `digits finetune` takes them as they are.

Only when the server was started with a corrections folder (`DIGITREADER_CORRECTIONS_DIR`; off by
default). The folder holds ``images/`` and ``labels.csv`` (``path,text``), the layout `digits finetune`
reads. A file's name is made here, never taken from the request: the time, the first 16 hex digits of the
picture's SHA-256, and the suffix of the format the picture decoded as. Each picture is written
atomically, then ``labels.csv`` is rewritten atomically with the new row, under a lock: a reader of the
folder sees the old table or the new one, and never a row whose picture is not there yet.
"""

from __future__ import annotations

import csv
import io
import threading
from datetime import UTC, datetime
from pathlib import Path

import anyio.to_thread
from fastapi import APIRouter, HTTPException, Request
from starlette.datastructures import UploadFile

from digitreader import budget
from digitreader.errors import DigitreaderError, ImageTooLargeError, NotAnImageError
from digitreader.files import atomic_write_bytes, sha256_bytes
from digitreader.server.schemas import CorrectionOut, ErrorOut
from digitreader.server.settings import Settings
from digitreader.tuning.source import LABELS_NAME, check_text

IMAGES = "images"
MAX_TEXT = 64  # characters: far above any number written in one picture
_SUFFIX = {"PNG": ".png", "JPEG": ".jpg", "BMP": ".bmp", "GIF": ".gif", "TIFF": ".tif", "WEBP": ".webp"}
_lock = threading.Lock()


def save_correction(folder: Path, data: bytes, text: str) -> str:
    """Save the picture `data` with its corrected `text` in `folder`; the picture's path in labels.csv.

    Raises `DigitreaderError` (one line) for a text the reader cannot learn or a picture that does not
    decode (`vision.load.load_image`'s checks: format, size)."""
    from PIL import Image

    from digitreader.vision.load import load_image

    text = text.strip()
    if len(text) > MAX_TEXT:
        raise DigitreaderError(f"the text has {len(text)} characters; at most {MAX_TEXT}")
    reason = check_text(text)
    if reason is not None:
        raise DigitreaderError(reason)
    load_image(data, name="the picture")  # refuses what reading refuses, in bounded time
    with Image.open(io.BytesIO(data)) as image:
        suffix = _SUFFIX.get(str(image.format), ".png")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    name = f"{IMAGES}/{stamp}-{sha256_bytes(data)[:16]}{suffix}"
    with _lock:
        (folder / IMAGES).mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(folder / name, data)
        table = folder / LABELS_NAME
        old = table.read_text(encoding="utf-8") if table.is_file() else "path,text\n"
        row = io.StringIO()
        csv.writer(row, lineterminator="\n").writerow([name, text])
        atomic_write_bytes(table, (old + ("" if old.endswith("\n") else "\n") + row.getvalue()).encode())
    return name


router = APIRouter()


@router.post(
    "/v1/corrections",
    response_model=CorrectionOut,
    responses={code: {"model": ErrorOut} for code in (404, 413, 415, 422)},
    summary="Save a picture with its corrected reading, for digits finetune",
)
async def correct(request: Request) -> CorrectionOut:
    """A multipart form: `file` (the picture) and `text` (what it says: a number as written, or one digit).
    Saved only when the server was started with `DIGITREADER_CORRECTIONS_DIR`; 404 otherwise."""
    settings: Settings = request.app.state.settings
    folder = settings.corrections_dir
    if folder is None:
        raise HTTPException(404, "corrections are off (start the server with DIGITREADER_CORRECTIONS_DIR)")
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "multipart/form-data":
        raise HTTPException(415, "expected a multipart form with fields 'file' and 'text'")
    async with request.form(max_files=1, max_fields=4) as form:
        upload, text = form.get("file"), form.get("text")
        if not isinstance(upload, UploadFile):
            raise HTTPException(422, "the form has no file field named 'file'")
        if not isinstance(text, str):
            raise HTTPException(422, "the form has no text field named 'text'")
        data = await upload.read()

    def save() -> str:
        with budget.read_budget(settings.read_seconds or None):
            return save_correction(Path(folder), data, text)

    try:
        saved = await anyio.to_thread.run_sync(save)
    except ImageTooLargeError as exc:
        raise HTTPException(413, str(exc)) from exc
    except NotAnImageError as exc:
        raise HTTPException(415, str(exc)) from exc
    except DigitreaderError as exc:
        raise HTTPException(422, str(exc)) from exc
    return CorrectionOut(saved=saved, text=text.strip())
