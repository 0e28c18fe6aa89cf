"""load_image: real files in many formats written by Pillow, arrays of every dtype, and what it refuses."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from digitreader import budget
from digitreader.errors import ImageError, ImageTooLargeError
from digitreader.vision.load import DEFAULT_MAX_PIXELS, load_image


def _mark(size: tuple[int, int] = (40, 30)) -> Image.Image:
    """White L image with a black block at top-left (x 0..9, y 0..9): orientation and polarity are visible."""
    im = Image.new("L", size, 255)
    im.paste(0, (0, 0, 10, 10))
    return im


def _assert_mark(gray: np.ndarray, shape: tuple[int, int] = (30, 40), tol: float = 12.0) -> None:
    assert gray.dtype == np.uint8 and gray.ndim == 2 and gray.shape == shape
    assert gray.flags.c_contiguous
    assert gray[1:8, 1:8].mean() < tol, "the ink block should be dark"
    assert gray[15:, 15:].mean() > 255 - tol, "the paper should be white"


@pytest.mark.parametrize(
    ("fmt", "suffix", "kwargs"),
    [
        ("PNG", ".png", {}),
        ("JPEG", ".jpg", {"quality": 95}),
        ("BMP", ".bmp", {}),
        ("TIFF", ".tif", {}),
        ("WEBP", ".webp", {"lossless": True}),
        ("GIF", ".gif", {}),
    ],
)
def test_common_formats_from_path(tmp_path: Path, fmt: str, suffix: str, kwargs: dict) -> None:
    path = tmp_path / f"mark{suffix}"
    _mark().convert("RGB").save(path, fmt, **kwargs)
    _assert_mark(load_image(path))
    _assert_mark(load_image(str(path)))


def test_bytes_and_pil_inputs_match_the_path(tmp_path: Path) -> None:
    path = tmp_path / "mark.png"
    _mark().save(path)
    from_path = load_image(path)
    np.testing.assert_array_equal(load_image(path.read_bytes()), from_path)
    np.testing.assert_array_equal(load_image(bytearray(path.read_bytes())), from_path)
    np.testing.assert_array_equal(load_image(Image.open(path)), from_path)


def test_16bit_png_is_scaled_not_clipped(tmp_path: Path) -> None:
    arr = np.full((30, 40), 65535, dtype=np.uint16)
    arr[:10, :10] = 0
    arr[10:14, 0:4] = 32896  # 128 * 257, outside the areas _assert_mark checks
    path = tmp_path / "deep.png"
    Image.fromarray(arr).save(path)
    assert Image.open(path).mode.startswith("I")  # really a 16-bit file
    gray = load_image(path)
    _assert_mark(gray, tol=1)
    assert gray[12, 2] == 128


def test_cmyk_jpeg(tmp_path: Path) -> None:
    im = Image.new("CMYK", (40, 30), (0, 0, 0, 0))  # no ink: white paper
    im.paste((0, 0, 0, 255), (0, 0, 10, 10))  # full black
    path = tmp_path / "cmyk.jpg"
    im.save(path, "JPEG", quality=95)
    assert Image.open(path).mode == "CMYK"
    _assert_mark(load_image(path), tol=20)


def test_palette_gif_reads_the_first_frame(tmp_path: Path) -> None:
    first = _mark().convert("P")
    second = Image.new("P", (40, 30), 0)
    path = tmp_path / "anim.gif"
    first.save(path, save_all=True, append_images=[second], duration=100)
    assert getattr(Image.open(path), "n_frames", 1) == 2
    with budget.read_budget(None) as spent:
        _assert_mark(load_image(path), tol=1)
    assert spent.notes == ["an animated picture: its first frame was read"]  # said, not silently
    with budget.read_budget(None) as still:
        load_image(_mark())
    assert still.notes == []


def test_transparent_background_becomes_white(tmp_path: Path) -> None:
    rgba = np.zeros((30, 40, 4), dtype=np.uint8)  # transparent black everywhere: a naive convert gives black
    rgba[:10, :10] = (0, 0, 0, 255)  # opaque black strokes
    path = tmp_path / "canvas.png"
    Image.fromarray(rgba, "RGBA").save(path)
    _assert_mark(load_image(path), tol=1)
    _assert_mark(load_image(rgba), tol=1)
    la = Image.fromarray(rgba, "RGBA").convert("LA")
    _assert_mark(load_image(la), tol=1)


def test_palette_png_with_transparency(tmp_path: Path) -> None:
    im = Image.new("P", (40, 30), 0)
    im.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    im.paste(1, (0, 0, 10, 10))  # red strokes on a transparent (index 0 = black) background
    path = tmp_path / "pal.png"
    im.save(path, transparency=0)
    gray = load_image(path)
    assert gray[15:, 15:].min() == 255
    assert 70 <= gray[5, 5] <= 80  # red's luma: 0.299 * 255


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    path = tmp_path / "phone.jpg"
    _mark().convert("RGB").save(path, "JPEG", quality=95, exif=exif.tobytes())
    gray = load_image(path)
    assert gray.shape == (40, 30)  # width and height swapped
    assert gray[1:8, -8:-1].mean() < 12  # the top-left block is now at the top-right
    assert gray[1:8, 1:8].mean() > 240


def test_bilevel_and_float_modes(tmp_path: Path) -> None:
    path = tmp_path / "bilevel.png"
    _mark().convert("1").save(path)
    _assert_mark(load_image(path), tol=1)
    f_image = Image.fromarray(np.asarray(_mark(), dtype=np.float32), "F")
    _assert_mark(load_image(f_image), tol=1)


@pytest.mark.parametrize(
    ("array", "expected_ink", "expected_paper"),
    [
        (np.where(np.asarray(_mark()) > 0, 1.0, 0.0).astype(np.float64), 0, 255),  # float in [0, 1]
        (np.asarray(_mark()).astype(np.float32), 0, 255),  # float in [0, 255]
        (np.asarray(_mark()) > 0, 0, 255),  # bool
        (np.asarray(_mark()).astype(np.uint16) * 257, 0, 255),  # uint16
        (np.asarray(_mark()).astype(np.int64), 0, 255),  # wide int, 8-bit values
        (np.stack([np.asarray(_mark())] * 3, axis=-1), 0, 255),  # RGB
        (np.asarray(_mark())[:, :, None], 0, 255),  # HxWx1
    ],
)
def test_arrays(array: np.ndarray, expected_ink: int, expected_paper: int) -> None:
    gray = load_image(array)
    assert gray.shape == (30, 40) and gray.dtype == np.uint8
    assert gray[5, 5] == expected_ink and gray[20, 30] == expected_paper


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims width x height, followed by a tiny garbage IDAT: decoding it would fail."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"\x00" * 16) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    "side", [20_000, 9_000]
)  # over Pillow's own bomb guard, and between ours and Pillow's
def test_huge_header_refused_before_decoding(tmp_path: Path, side: int) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_header_only(side, side))
    assert side * side > DEFAULT_MAX_PIXELS
    # The IDAT is garbage: had it been decoded we would get "damaged", not "too large".
    with pytest.raises(ImageTooLargeError, match=r"bomb\.png: image too large"):
        load_image(path)
    with pytest.raises(ImageTooLargeError):
        load_image(path.read_bytes())


def test_max_pixels_is_configurable(tmp_path: Path) -> None:
    path = tmp_path / "mark.png"
    _mark().save(path)
    with pytest.raises(ImageTooLargeError, match="1,200 pixels"):
        load_image(path, max_pixels=1000)
    with pytest.raises(ImageTooLargeError):
        load_image(np.zeros((30, 40), np.uint8), max_pixels=1000)


def _truncated_png(tmp_path: Path) -> Path:
    noise = np.random.default_rng(0).integers(0, 256, (200, 200), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(noise).save(buf, "PNG")
    path = tmp_path / "truncated.png"
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    return path


def _one_pixel(tmp_path: Path) -> Path:
    path = tmp_path / "dot.png"
    Image.new("L", (1, 1), 0).save(path)
    return path


def _text_as_png(tmp_path: Path) -> Path:
    path = tmp_path / "notes.png"
    path.write_text("this is not an image\n")
    return path


def _empty(tmp_path: Path) -> Path:
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    return path


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda tmp: tmp / "missing.png", "no such file"),
        (lambda tmp: tmp, "is a directory"),
        (_empty, "empty file"),
        (_truncated_png, "damaged or truncated"),
        (_text_as_png, "not an image"),
        (_one_pixel, "too small"),
    ],
)
def test_bad_files_one_line_naming_the_file(tmp_path: Path, make, reason: str) -> None:
    path = make(tmp_path)
    with pytest.raises(ImageError) as info:
        load_image(path)
    message = str(info.value)
    assert message.startswith(str(path) + ":"), message
    assert reason in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        (b"", "empty data"),
        (b"GIF89a garbage", "not"),
        (np.zeros((1, 1), np.uint8), "too small"),
        (np.zeros((5, 5, 2), np.uint8), "unsupported array shape"),
        (np.full((5, 5), np.nan), "NaN"),
        (np.zeros((5, 5), np.complex64), "dtype"),
        (12345, "not an image source"),
    ],
)
def test_bad_in_memory_sources(source: object, reason: str) -> None:
    with pytest.raises(ImageError, match=reason):
        load_image(source)


def test_name_labels_in_memory_sources() -> None:
    with pytest.raises(ImageError, match=r"^upload\.png: empty data"):
        load_image(b"", name="upload.png")
