"""preprocess: polarity, lighting, noise floor, MNIST framing, one-digit pictures and blank pages."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from digitreader.vision.preprocess import (
    _median_u8,
    _opening,
    ink_is_dark,
    ink_map,
    prepare_digit,
    prepare_single_digit,
    single_digit_candidates,
    stroke_width,
)


def _glyph(text: str = "7", size: tuple[int, int] = (160, 200), thickness: int = 12) -> np.ndarray:
    """A bright glyph on black (uint8 HxW): the ink of a digit-like shape, placed off-centre."""
    h, w = size
    img = np.zeros((h, w), np.uint8)
    cv2.putText(
        img, text, (w // 5, int(h * 0.8)), cv2.FONT_HERSHEY_SIMPLEX, h / 40, 255, thickness, cv2.LINE_AA
    )
    return img


def _on_paper(ink: np.ndarray, paper: float = 225, pen: float = 40) -> np.ndarray:
    """Dark pen on light paper."""
    f = ink.astype(np.float32) / 255
    return np.clip(paper * (1 - f) + pen * f, 0, 255).astype(np.uint8)


def _com(img: np.ndarray) -> tuple[float, float]:
    f = img.astype(np.float64)
    ys, xs = np.mgrid[0 : img.shape[0], 0 : img.shape[1]]
    return float((ys * f).sum() / f.sum()), float((xs * f).sum() / f.sum())


def test_polarity_dark_pen_on_paper_and_chalk_on_board() -> None:
    ink = _glyph()
    paper = _on_paper(ink)
    board = (40 + ink.astype(np.float32) * 0.7).astype(np.uint8)
    assert ink_is_dark(paper)
    assert not ink_is_dark(board)
    # Both give the same ink map up to anti-aliasing: ink bright where the glyph is.
    for gray in (paper, board):
        m = ink_map(gray)
        assert m[ink > 200].mean() > 200
        assert m[ink == 0].mean() < 5


def test_shadow_and_lighting_gradient_are_removed() -> None:
    ink = _glyph()
    h, w = ink.shape
    light = np.linspace(0.35, 1.0, w, dtype=np.float32)[None, :] * np.ones((h, 1), np.float32)
    light[: h // 3, : w // 2] *= 0.6  # a hard shadow in one corner
    gray = np.clip(_on_paper(ink).astype(np.float32) * light, 0, 255).astype(np.uint8)
    m = ink_map(gray)
    stroke = ink > 200
    # The stroke reads as ink in the dark half and in the bright half; the paper reads as nothing.
    left, right = stroke.copy(), stroke.copy()
    left[:, w // 2 :] = False
    right[:, : w // 2] = False
    assert m[left].mean() > 170 and m[right].mean() > 170
    paper = cv2.dilate(ink, np.ones((9, 9), np.uint8)) == 0
    assert (m[paper] > 64).mean() < 0.01


def test_a_marker_stroke_filling_a_narrow_crop_is_ink_all_through() -> None:
    # A thick "1" cropped tightly: a stroke 40 px wide in a picture 56 px wide. A background estimate
    # narrower than the stroke took its middle for paper and left a hollow outline (read as a "0").
    gray = np.full((200, 56), 225, np.uint8)
    gray[12:188, 6:46] = 40
    m = ink_map(gray)
    assert m[20:180, 10:42].min() > 200  # the stroke's middle
    assert m[:, 50:].max() < 40  # the paper beside it


def test_the_background_opening_equals_opening_the_picture_padded_all_round() -> None:
    # The plain way, padding by the whole square before opening, is the reference; the opening pads by half.
    rng = np.random.default_rng(3)
    for trial in range(60):
        h, w = (int(v) for v in rng.integers(4, 170, 2))
        img = rng.integers(0, 256, (h, w)).astype(np.uint8)
        if trial % 2:
            img = cv2.GaussianBlur(img, (0, 0), 3)  # smooth shading, as lighting is
        k = max(5, round(min(h, w, max(h, w) / 2)) | 1)
        padded = cv2.copyMakeBorder(img, k, k, k, k, cv2.BORDER_REPLICATE)
        reference = cv2.morphologyEx(padded, cv2.MORPH_OPEN, np.ones((k, k), np.uint8))[k:-k, k:-k]
        assert np.array_equal(_opening(img), reference), (h, w)


def test_jpeg_noise_and_faint_grey_background_are_suppressed() -> None:
    ink = _glyph()
    gray = _on_paper(ink, paper=190, pen=70)
    rng = np.random.default_rng(0)
    gray = np.clip(gray + rng.normal(0, 6, gray.shape), 0, 255).astype(np.uint8)
    ok, enc = cv2.imencode(".jpg", gray, [cv2.IMWRITE_JPEG_QUALITY, 30])
    assert ok
    gray = cv2.imdecode(enc, cv2.IMREAD_GRAYSCALE)
    m = ink_map(gray)
    paper = cv2.dilate(ink, np.ones((9, 9), np.uint8)) == 0
    assert (m[paper] > 40).mean() < 0.005
    assert m[ink > 200].mean() > 180


def test_blank_pictures_have_no_ink_and_no_digit() -> None:
    rng = np.random.default_rng(1)
    for gray in (
        np.full((100, 80), 255, np.uint8),
        np.zeros((28, 28), np.uint8),
        np.clip(200 + rng.normal(0, 4, (120, 90)), 0, 255).astype(np.uint8),
        np.tile(np.linspace(90, 230, 300, dtype=np.float32), (200, 1)).astype(np.uint8),
    ):
        assert ink_map(gray).max() == 0
        assert prepare_single_digit(gray) is None
        assert single_digit_candidates(ink_map(gray)) == []


def test_prepare_digit_frames_like_mnist() -> None:
    ink = _glyph("2", size=(300, 260), thickness=20)
    out = prepare_digit(ink)
    assert out.shape == (28, 28) and out.dtype == np.uint8
    ys, xs = np.nonzero(out)
    assert max(ys.max() - ys.min() + 1, xs.max() - xs.min() + 1) == 20
    cy, cx = _com(out)
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5
    assert out.max() == 255
    # Anti-aliased: grey edge pixels exist.
    assert ((out > 20) & (out < 230)).sum() > 10


def test_prepare_digit_keeps_aspect_of_a_one() -> None:
    ink = np.zeros((200, 200), np.uint8)
    cv2.line(ink, (100, 20), (100, 180), 255, 14)
    out = prepare_digit(ink)
    ys, xs = np.nonzero(out > 30)
    assert ys.max() - ys.min() + 1 >= 19
    assert xs.max() - xs.min() + 1 <= 6


def test_prepare_digit_is_identity_on_mnist_framed_input() -> None:
    digit = prepare_digit(_glyph("3", size=(280, 240), thickness=24))
    assert np.abs(prepare_digit(digit).astype(int) - digit).max() <= 1


@pytest.mark.parametrize("pen", [1, 110])
def test_stroke_width_is_normalised(pen: int) -> None:
    # A hairline and a marker both end up with MNIST-like strokes (about 2.3 px at 28x28).
    ink = np.zeros((400, 400), np.uint8)
    cv2.ellipse(ink, (200, 200), (110, 170), 0, 0, 360, 255, pen, cv2.LINE_AA)
    width = stroke_width(prepare_digit(ink, normalise_stroke=True) > 127)
    assert 1.3 <= width <= 4.3
    raw = stroke_width(prepare_digit(ink, normalise_stroke=False) > 127)
    assert abs(width - 2.3) < abs(raw - 2.3)


def test_single_digit_keeps_the_digit_drops_specks_and_border_junk() -> None:
    ink = _glyph("5", size=(240, 240), thickness=16)
    gray = _on_paper(ink)
    gray[:, :6] = 30  # the dark edge of the table beside the sheet
    gray[20:23, 200:203] = 30  # a speck
    (found,) = single_digit_candidates(ink_map(gray), alternatives=False)
    digit, (x, y, w, h) = found
    ys, xs = np.nonzero(ink > 127)
    assert abs(x - xs.min()) <= 2 and abs(y - ys.min()) <= 2
    assert abs(x + w - 1 - xs.max()) <= 2 and abs(y + h - 1 - ys.max()) <= 2
    assert np.array_equal(digit, prepare_single_digit(gray))


def test_a_line_through_the_digit_gives_two_readings_unless_only_the_first_is_wanted() -> None:
    ink = _glyph("3", size=(200, 220), thickness=14)
    ys, _ = np.nonzero(ink > 127)
    cv2.line(ink, (0, int(ys.mean())), (219, int(ys.mean())), 255, 3)  # ruled line through the digit
    m = ink_map(_on_paper(ink))
    erased, kept = single_digit_candidates(m)  # the line erased, and kept as part of the digit
    assert kept[1][2] > 200 and erased[1][2] < 160  # only the kept reading spans the picture
    (first,) = single_digit_candidates(m, alternatives=False)
    assert first[1] == erased[1] and np.array_equal(first[0], erased[0])


@pytest.mark.parametrize("size", [1, 2, 7, 112, 113])
def test_median_u8_is_numpys_median(size: int) -> None:
    values = np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8)
    assert _median_u8(values) == float(np.median(values.astype(np.float32)))
