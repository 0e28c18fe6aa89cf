"""Hostile files, bytes, arrays and PIL images at the loading door: every failure is one `ImageError` line
naming the source, and nothing is converted (or allocated) before its size and type are checked."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, features

from digitreader.errors import ImageError, ImageTooLargeError, NotAnImageError
from digitreader.vision.load import FORMATS, load_image


def picture(fmt: str, mode: str = "RGB", size: tuple[int, int] = (40, 30), **kwargs: object) -> bytes:
    im = Image.new(mode, size, "white")
    im.paste("black" if mode in ("RGB", "L") else 0, (5, 5, 20, 25))
    buffer = io.BytesIO()
    im.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


def assert_one_line(exc: BaseException, name: str) -> None:
    message = str(exc)
    assert message.startswith(f"{name}: "), message
    assert "\n" not in message and "Traceback" not in message


@pytest.mark.skipif(not features.check("avif"), reason="this Pillow has no AVIF codec to write one with")
@pytest.mark.parametrize("damage", [False, True])
def test_avif_is_not_a_format_we_open(damage: bool) -> None:
    data = picture("AVIF")
    if damage:  # a damaged AVIF made Pillow's AVIF plugin raise RuntimeError
        data = data[:40] + bytes(len(data) - 40)
    with pytest.raises(NotAnImageError, match="unknown or unsupported format") as info:
        load_image(data, name="x.avif")
    assert_one_line(info.value, "x.avif")


@pytest.mark.parametrize("fmt", ["DDS", "TGA", "ICO", "PCX", "SGI", "QOI"])
def test_formats_outside_the_list_are_refused_unread(fmt: str) -> None:
    with pytest.raises(NotAnImageError, match="not an image") as info:
        load_image(picture(fmt), name=f"x.{fmt.lower()}")
    assert_one_line(info.value, f"x.{fmt.lower()}")


def test_a_damaged_dds_header_is_not_an_image() -> None:
    # DXT10 with a format Pillow does not implement: its DDS plugin raised NotImplementedError.
    header = bytearray(picture("DDS"))
    header[84:88] = b"DX10"
    data = bytes(header[:128]) + (999).to_bytes(4, "little") + bytes(200)
    with pytest.raises(NotAnImageError):
        load_image(data, name="x.dds")


def test_the_list_is_what_the_docs_name() -> None:
    # Pillow's names in FORMATS; the docs use the names people know (PPM is Pillow's reader for all of PNM).
    known = {"WEBP": "WebP", "PPM": "PNM"}
    repo = Path(__file__).resolve().parents[2]
    for doc, line_start in (
        ("README.md", "Hostile and broken input"),
        ("docs/hostile-input.md", "- **Formats**"),
    ):
        text = (repo / doc).read_text()
        paragraph = text[text.index(line_start) :].split("\n\n")[0]
        named = {word.strip(",.()") for word in paragraph.split()}
        assert {known.get(f, f) for f in FORMATS} <= named, doc


def test_a_lazily_opened_truncated_pil_image_is_a_damaged_image(tmp_path: Path) -> None:
    noise = np.random.default_rng(0).integers(0, 256, (200, 200), dtype=np.uint8)
    path = tmp_path / "cut.png"
    Image.fromarray(noise).save(path)
    path.write_bytes(path.read_bytes()[:3000])
    lazy = Image.open(path)  # header only: the truncation shows when the pixels are read
    with pytest.raises(ImageError, match="damaged or truncated") as info:
        load_image(lazy, name="cut.png")
    assert_one_line(info.value, "cut.png")


@pytest.mark.parametrize(
    ("name", "reason"),
    [("x" * 5000 + ".png", "cannot open"), ("a\0b.png", "no such file")],
)
def test_impossible_file_names_are_one_line(name: str, reason: str) -> None:
    with pytest.raises(ImageError, match=reason) as info:
        load_image(name)
    assert "\n" not in str(info.value)


def test_a_name_with_control_characters_is_printed_escaped(tmp_path: Path) -> None:
    path = tmp_path / "evil\nname\x1b[31m.png"
    path.write_bytes(b"not a picture")
    with pytest.raises(ImageError) as info:
        load_image(path)
    message = str(info.value)
    assert "\n" not in message and "\x1b" not in message
    assert "evil\\nname\\x1b[31m.png: not an image" in message


@pytest.mark.timeout(20)
def test_a_fifo_or_a_device_is_not_read(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    for path in (fifo, Path("/dev/zero")):
        with pytest.raises(ImageError, match="not a regular file"):
            load_image(path)


# ---------------------------------------------------------------------------------------------- arrays


@pytest.mark.parametrize(
    "dtype", ["timedelta64[s]", "datetime64[s]", "complex64", "object", "U1", "S1", "V4"]
)
def test_arrays_of_non_pixel_types_are_refused_before_conversion(dtype: str) -> None:
    with pytest.raises(ImageError, match="unsupported array dtype") as info:
        load_image(np.zeros((10, 10), dtype=dtype), name="arr")
    assert_one_line(info.value, "arr")


class Unconvertible(np.ndarray):
    """An array that fails any test converting it: its size must be judged from its shape alone."""

    def astype(self, *args: object, **kwargs: object) -> np.ndarray:
        raise AssertionError("converted before its size was checked")


def test_a_huge_array_is_refused_before_anything_is_converted() -> None:
    # 20000 x 20000 RGBA float64 would be 12.8 GB, its float32 copies 6.4 GB each; a broadcast view costs
    # nothing, and it cannot be converted.
    huge = np.broadcast_to(np.float64(0.5), (20_000, 20_000, 4)).view(Unconvertible)
    with pytest.raises(ImageTooLargeError, match="400,000,000 pixels"):
        load_image(huge, name="huge")


def test_a_large_accepted_array_converts_in_bands_with_the_same_result() -> None:
    from digitreader.vision import gray

    rng = np.random.default_rng(0)
    arr = rng.random((301, 203, 4)).astype(np.float64)
    whole = load_image(arr)
    small_bands = gray.BAND_PIXELS
    try:
        gray.BAND_PIXELS = 1000  # bands of 4 rows
        banded = load_image(arr)
    finally:
        gray.BAND_PIXELS = small_bands
    np.testing.assert_array_equal(banded, whole)


# ------------------------------------------------------------------------------------------ PIL modes

ALL_MODES = ["1", "L", "P", "RGB", "RGBA", "RGBX", "RGBa", "CMYK", "YCbCr", "LAB", "HSV", "I", "F"]
ALL_MODES += ["LA", "La", "PA", "I;16", "I;16L", "I;16B", "I;16N"]


@pytest.mark.parametrize("mode", ALL_MODES)
def test_every_pil_mode_reads_or_is_refused_in_one_line(mode: str) -> None:
    im = Image.new(mode, (30, 20))
    try:
        gray = load_image(im, name="im")
    except ImageError as exc:
        assert_one_line(exc, "im")
    else:
        assert gray.shape == (20, 30) and gray.dtype == np.uint8


def test_premultiplied_la_is_composited_onto_white() -> None:
    values = np.zeros((8, 8, 2), np.uint8)
    values[:4, :, 1] = 255  # top half: opaque black; bottom half: fully transparent
    im = Image.frombytes("La", (8, 8), values.tobytes())
    gray = load_image(im)
    assert (gray[:4] == 0).all() and (gray[4:] == 255).all()


@pytest.mark.parametrize("mode", ["RGBA", "I;16", "F", "RGB", "P"])
def test_bands_give_the_same_gray_as_one_piece(mode: str) -> None:
    from digitreader.vision import gray

    rng = np.random.default_rng(1)
    base = Image.fromarray(rng.integers(0, 256, (97, 61, 4), dtype=np.uint8), "RGBA")
    im = (
        base
        if mode == "RGBA"
        else base.convert("L").convert(mode)
        if mode in ("I;16", "F")
        else base.convert(mode)
    )
    whole = load_image(im)
    saved = gray.BAND_PIXELS
    try:
        gray.BAND_PIXELS = 500
        banded = load_image(im)
    finally:
        gray.BAND_PIXELS = saved
    np.testing.assert_array_equal(banded, whole)


# ---------------------------------------------------------------------------------------------- memory


def test_a_large_picture_is_read_within_a_few_times_its_decoded_size(tmp_path: Path) -> None:
    """A small file that decodes to 49 MP RGBA (196 MB in Pillow): converted whole, its read peaked at
    ~1 GB; in bands it must stay under twice the decoded size above the reader's own footprint."""
    path = tmp_path / "big.png"
    im = Image.new("RGBA", (7000, 7000), (255, 255, 255, 255))
    im.paste((0, 0, 0, 255), (100, 100, 400, 600))
    im.save(path)
    del im
    script = textwrap.dedent(
        f"""
        import resource
        import numpy as np
        from digitreader.recognizer import Recognizer
        r = Recognizer.load(threads=1, read_seconds=0)
        r.read(np.full((64, 64), 255, np.uint8), "digit")
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        text = r.read({str(path)!r}, "digit").text
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(text, (peak - before) // 1024)
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    text, grown_mib = out.stdout.split()
    assert len(text) == 1 and text.isdigit()  # read through (a filled box has no right answer)
    assert int(grown_mib) < 2 * 196, f"the read grew the process by {grown_mib} MiB"
