"""`digits read`: text and JSON output, --show, the interactive prompt, and bad inputs among good ones."""

from __future__ import annotations

import io
import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from digitreader.cli import main

REPO = Path(__file__).resolve().parents[2]
CHEQUE = REPO / "examples" / "cheque_4096.jpg"
SEVEN = REPO / "examples" / "digit_7_photo.jpg"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str], list[str]]:
    code = main(["read", *argv])
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err.splitlines()


def test_one_line_per_image(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run([str(CHEQUE), str(SEVEN)], capsys)
    assert code == 0 and err == []
    assert out == [f"{CHEQUE}: 4096", f"{SEVEN}: 7"]


def test_json_lines(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["--json", str(CHEQUE), str(SEVEN)], capsys)
    assert code == 0 and len(out) == 2
    first = json.loads(out[0])
    assert first["path"] == str(CHEQUE) and first["text"] == "4096"
    assert [d["label"] for d in first["digits"]] == [4, 0, 9, 6]
    for d in first["digits"]:
        assert set(d) == {"label", "confidence", "box"} and len(d["box"]) == 4 and 0 < d["confidence"] <= 1
    boxes_x = [d["box"][0] for d in first["digits"]]
    assert boxes_x == sorted(boxes_x)  # left to right
    code, out, _ = run(["--json", "--details", str(SEVEN)], capsys)
    assert len(json.loads(out[0])["digits"][0]["probabilities"]) == 10


def test_separators_as_written_in_text_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    from digitreader import Recognizer

    amount = REPO / "examples" / "amount_1,250_cheque.jpg"
    expected = Recognizer.load(threads=1).read(amount)  # the library's own reading, separators kept
    code, out, _ = run([str(amount)], capsys)
    assert code == 0 and out == [f"{amount}: {expected.text}"]
    code, out, _ = run(["--json", str(amount)], capsys)
    body = json.loads(out[0])
    assert body["text"] == expected.text and body["digits_text"] == expected.digits_text
    assert len(body["digits"]) == len(expected.digits_text)


def test_mode_digit(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["--mode", "digit", str(SEVEN)], capsys)
    assert code == 0 and out == [f"{SEVEN}: 7"]


def test_blank_page_exit_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blank = tmp_path / "blank.png"
    Image.new("L", (300, 200), 235).save(blank)
    code, out, err = run([str(blank)], capsys)
    assert code == 0 and err == []
    assert out == [f"{blank}: (no digits found; try --mode digit, or a crop around the writing)"]
    code, out, _ = run(["--mode", "digit", str(blank)], capsys)
    assert out == [f"{blank}: (no digits found; try a crop around the digit)"]
    code, out, _ = run(["--json", str(blank)], capsys)
    assert json.loads(out[0]) == {
        "path": str(blank),
        "text": "",
        "digits_text": "",
        "digits": [],
        "notes": ["no digits found"],
    }


def _bomb_header(path: Path) -> Path:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", 20_000, 20_000, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"\0" * 16) + chunk(b"IEND", b"")
    )
    return path


def _bad_inputs(tmp: Path) -> dict[str, str]:
    """path -> the reason its error must give."""
    (tmp / "empty.png").write_bytes(b"")
    (tmp / "notes.png").write_text("not an image")
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (200, 200), dtype=np.uint8)).save(buf, "PNG")
    (tmp / "truncated.png").write_bytes(buf.getvalue()[:3000])
    Image.new("L", (1, 1)).save(tmp / "dot.png")
    (tmp / "folder.png").mkdir()
    return {
        str(tmp / "missing.png"): "no such file",
        str(tmp / "folder.png"): "is a directory",
        str(tmp / "empty.png"): "empty file",
        str(tmp / "notes.png"): "not an image",
        str(tmp / "truncated.png"): "damaged or truncated",
        str(tmp / "dot.png"): "too small",
        str(_bomb_header(tmp / "huge.png")): "image too large",
    }


def test_bad_inputs_reported_and_others_still_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = _bad_inputs(tmp_path)
    argv = [str(CHEQUE), *bad, str(SEVEN)]
    code, out, err = run(argv, capsys)
    assert code == 2
    assert out == [f"{CHEQUE}: 4096", f"{SEVEN}: 7"]
    assert len(err) == len(bad)
    for line, (path, reason) in zip(err, bad.items(), strict=True):
        assert line.startswith(f"digits: error: {path}: ") and reason in line, line


def test_model_that_is_not_onnx(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = tmp_path / "model.onnx"
    model.write_text("definitely not onnx")
    code, out, err = run(["--model", str(model), str(CHEQUE)], capsys)
    assert code == 2 and out == []
    assert len(err) == 1 and err[0].startswith(f"digits: error: {model}: not an ONNX model")


def test_show_one_image(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_png = tmp_path / "shown.png"
    code, _, _ = run(["--show", str(out_png), str(CHEQUE)], capsys)
    assert code == 0
    shown = Image.open(out_png)
    assert shown.size == Image.open(CHEQUE).size and shown.mode == "RGB"
    original = np.asarray(Image.open(CHEQUE).convert("L").convert("RGB"), dtype=np.int16)
    changed = np.abs(np.asarray(shown, dtype=np.int16) - original).max(axis=2) > 40
    assert changed.mean() > 0.01  # boxes and labels were drawn
    assert list(tmp_path.glob(".*")) == []  # no temp files left


def test_show_several_images(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = run(["--show", str(tmp_path / "shown.png"), str(CHEQUE), str(SEVEN)], capsys)
    assert code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shown-cheque_4096.png", "shown-digit_7_photo.png"]


def test_show_into_missing_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["--show", str(tmp_path / "no" / "x.png"), str(SEVEN)], capsys)
    assert code == 2 and out == [f"{SEVEN}: 7"] and "cannot write the annotated image" in err[0]


def test_interactive_paths_until_empty_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        "sys.stdin", io.StringIO(f"{CHEQUE}\n{tmp_path / 'missing.png'}\n{SEVEN}\n\n{CHEQUE}\n")
    )
    code, out, err = run([], capsys)
    assert out == [f"{CHEQUE}: 4096", f"{SEVEN}: 7"]  # stops at the empty line
    assert len(err) == 1 and "missing.png: no such file" in err[0]
    assert code == 2


def test_interactive_ends_at_end_of_input(capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{SEVEN}\n"))
    code, out, _ = run([], capsys)
    assert code == 0 and out == [f"{SEVEN}: 7"]


def test_interactive_paths_lose_the_quotes_a_dragged_file_brings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    spaced = tmp_path / "my digit 7.jpg"
    spaced.write_bytes(SEVEN.read_bytes())
    escaped = str(spaced).replace(" ", "\\ ")
    monkeypatch.setattr("sys.stdin", io.StringIO(f"'{spaced}'\n\"{spaced}\"\n{escaped}\n"))
    code, out, err = run([], capsys)
    assert code == 0 and err == [] and out == [f"{spaced}: 7"] * 3


@pytest.mark.parametrize("zipped", [True, False])
def test_a_checkpoint_given_as_model_says_to_export_it_first(
    zipped: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import torch

    best = tmp_path / "best.pt"
    torch.save({"model": {}}, best, _use_new_zipfile_serialization=zipped)
    code, out, err = run(["--model", str(best), str(SEVEN)], capsys)
    assert code == 2 and out == []
    assert err == [
        f"digits: error: {best}: a PyTorch checkpoint, not an ONNX model; export it first: "
        f"digits export {best} --out model.onnx"
    ]
