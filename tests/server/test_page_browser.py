"""The page in a real Chromium on a real `digits serve`: draw with the mouse, read live, undo, clear, upload.

Needs Debian's Chromium at /usr/bin/chromium (`make browser-deps`); the tests skip, saying why, where it is
missing, unless DIGITREADER_REQUIRE_BROWSER=1 (CI), where they fail. Screenshots go to pytest's temporary
folder (`--basetemp` chooses it; pytest keeps the last three runs'), never into the repository.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
REPO = Path(__file__).resolve().parents[2]
READ_TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        reason = f"Chromium not found at {CHROMIUM} (install it with `make browser-deps`)"
        if os.environ.get("DIGITREADER_REQUIRE_BROWSER") == "1":
            pytest.fail(reason + "; DIGITREADER_REQUIRE_BROWSER=1 requires it")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture()
def page(browser, live_server):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1200, "height": 900}, device_scale_factor=1)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.goto(live_server.url + "/")
    tab.wait_for_function("() => document.getElementById('model-name').textContent.startsWith('Model: ')")
    yield tab
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


_SHOTS: list[Path] = []  # the folder of this module's screenshots, made by `_screenshots`


@pytest.fixture(scope="module", autouse=True)
def _screenshots(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    _SHOTS.append(tmp_path_factory.mktemp("screenshots"))
    yield
    _SHOTS.clear()


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    """A screenshot for a person to look at when a test fails, in the temporary folder."""
    page.screenshot(path=str(_SHOTS[-1] / f"{name}.png"))


def draw(page, shapes, text: str, step_px: float = 10) -> None:  # type: ignore[no-untyped-def]
    """Draw `text` on the pad with mouse drags (a move every `step_px`), one digit per cell, side by side."""
    box = page.locator("#draw-canvas").bounding_box()
    cell = min(box["width"] / (len(text) + 0.6), box["height"] * 0.6)
    left = box["x"] + (box["width"] - cell * len(text)) / 2
    top = box["y"] + (box["height"] - cell) / 2
    for i, char in enumerate(text):
        for stroke in shapes[char]:
            points = [(left + (i + x) * cell, top + y * cell) for x, y in stroke]
            page.mouse.move(*points[0])
            page.mouse.down()
            for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
                steps = max(1, math.ceil(math.hypot(x1 - x0, y1 - y0) / step_px))
                for t in range(1, steps + 1):
                    page.mouse.move(x0 + (x1 - x0) * t / steps, y0 + (y1 - y0) * t / steps)
            page.mouse.up()


def wait_for_reading(page, text: str) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_function(
        "t => document.getElementById('result-text').textContent === t && "
        "document.getElementById('result').dataset.state === 'done'",
        arg=text,
        timeout=READ_TIMEOUT_MS,
    )


def ink_pixels(page, canvas_id: str) -> int:  # type: ignore[no-untyped-def]
    """How many pixels of a canvas are not transparent."""
    return page.evaluate(
        """id => { const c = document.getElementById(id);
                   const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                   let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n; }""",
        canvas_id,
    )


@pytest.mark.parametrize("digit", ["7", "0"])
def test_drawing_one_digit_shows_it_with_ten_bars(page, shapes, digit):
    draw(page, shapes, digit)
    wait_for_reading(page, digit)
    assert "confident" in page.locator("#result-confidence").inner_text()
    bars = page.locator("#chart li")
    assert bars.count() == 10
    assert page.locator("#chart li.top .bar-label").inner_text() == digit
    assert ink_pixels(page, "draw-overlay") > 0  # the digit's box is drawn over the pad
    page.wait_for_function("d => document.getElementById('announcer').textContent.includes(d)", arg=digit)
    shot(page, f"page-draw-{digit}")


def test_drawing_a_number_boxes_each_digit_then_undo_and_clear(page, shapes):
    draw(page, shapes, "17")
    wait_for_reading(page, "17")
    assert page.locator("#chips li").count() == 2
    assert page.locator("#chart").is_hidden()
    assert ink_pixels(page, "draw-overlay") > 0
    shot(page, "page-draw-17")

    # Undo (Ctrl+Z) takes the 7 away: the reading follows.
    page.keyboard.press("Control+z")
    wait_for_reading(page, "1")

    page.get_by_role("button", name="Clear").click()
    assert ink_pixels(page, "draw-canvas") == 0
    assert ink_pixels(page, "draw-overlay") == 0
    assert page.locator("#result-empty").is_visible()
    assert page.locator("#clear").is_disabled() and page.locator("#undo").is_disabled()
    shot(page, "page-cleared")


def test_mode_one_digit_reads_the_pad_as_a_single_digit(page, shapes):
    draw(page, shapes, "17")
    wait_for_reading(page, "17")
    page.get_by_role("radio", name="One digit").check()
    page.wait_for_function(
        "() => document.getElementById('result').dataset.state === 'done' && "
        "document.getElementById('result-text').textContent.length === 1",
        timeout=READ_TIMEOUT_MS,
    )
    assert page.locator("#chart li").count() == 10


def make_photo(path: Path, digits_png: bytes) -> Path:
    """Turn a clean drawing into something like a phone photo: warm paper, uneven light, noise, JPEG."""
    ink = cv2.imdecode(np.frombuffer(digits_png, np.uint8), cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255
    ink = cv2.resize(ink, None, fx=1.5, fy=1.5, interpolation=cv2.INTER_LINEAR)
    h, w = ink.shape
    yy, xx = np.mgrid[0:h, 0:w]
    light = 205 + 30 * np.cos(xx / w * 2.2) - 25 * (yy / h)
    gray = light * (0.2 + 0.8 * ink) + np.random.default_rng(0).normal(0, 4, (h, w))
    bgr = np.stack([gray * 0.9, gray * 0.96, gray], -1).clip(0, 255).astype(np.uint8)
    cv2.imwrite(str(path), bgr, [cv2.IMWRITE_JPEG_QUALITY, 88])
    return path


def pick_photo(recognizer, digit_png, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    """A picture of a number from examples/ that the reader finds several digits in, else one made here."""
    for path in sorted((REPO / "examples").glob("*")):
        if path.name.startswith(("number_", "cheque_")) and len(recognizer.read(path).digits) >= 2:
            return path
    return make_photo(tmp_path / "photo-470.jpg", digit_png("470"))


def test_uploading_a_photo_shows_boxes_and_labels(page, recognizer, digit_png, tmp_path):
    photo = pick_photo(recognizer, digit_png, tmp_path)
    expected = recognizer.read(photo)  # the page must show the library's own reading, box by box
    assert len(expected.digits) >= 2

    page.get_by_role("tab", name="Photo").click()
    page.set_input_files("#file-input", str(photo))
    page.wait_for_function(
        "n => document.querySelectorAll('#photo-overlay rect.box').length === n",
        arg=len(expected.digits),
        timeout=READ_TIMEOUT_MS,
    )
    wait_for_reading(page, expected.text)
    labels = page.locator("#photo-overlay text").all_text_contents()
    assert labels == [str(d.label) for d in expected.digits]
    assert page.locator("#photo-name").inner_text() == photo.name
    shot(page, "page-photo")


def test_a_number_is_shown_with_its_separators(page, recognizer):
    photo = REPO / "examples" / "decimal_10.4_grey.jpg"
    expected = recognizer.read(photo)  # the library's reading: the text as written, separators kept
    assert expected.text != expected.digits_text, "the reader should see the decimal point of 10.4"
    page.get_by_role("tab", name="Photo").click()
    page.set_input_files("#file-input", str(photo))
    wait_for_reading(page, expected.text)
    assert page.locator("#photo-overlay rect.box").count() == len(expected.digits)


def test_tabs_work_from_the_keyboard(page):
    page.get_by_role("tab", name="Draw").focus()
    page.keyboard.press("ArrowRight")
    assert page.get_by_role("tab", name="Photo").get_attribute("aria-selected") == "true"
    assert page.locator("#panel-photo").is_visible() and page.locator("#panel-draw").is_hidden()
    page.keyboard.press("ArrowLeft")
    assert page.get_by_role("tab", name="Draw").get_attribute("aria-selected") == "true"


def test_a_refused_upload_shows_the_servers_reason(page, tmp_path):
    not_image = tmp_path / "notes.png"
    not_image.write_bytes(b"these are words, not pixels")
    page.get_by_role("tab", name="Photo").click()
    page.set_input_files("#file-input", str(not_image))
    alert = page.get_by_role("alert")
    alert.wait_for(timeout=READ_TIMEOUT_MS)
    assert "not an image" in alert.inner_text()


def test_phone_sized_screen(browser, live_server, shapes):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    phone = context.new_page()
    phone.goto(live_server.url + "/")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # nothing sticks out sideways
    assert phone.locator("#draw-canvas").bounding_box()["width"] > 300
    draw(phone, shapes, "7")
    wait_for_reading(phone, "7")
    shot(phone, "page-phone")
    context.close()


def test_api_docs_render_without_internet(browser, live_server):  # type: ignore[no-untyped-def]
    """Swagger UI comes from the package: the browser here cannot reach any CDN, yet /docs shows the API."""
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    tab = context.new_page()
    outside: list[str] = []
    tab.on("request", lambda r: None if r.url.startswith(live_server.url) else outside.append(r.url))
    tab.goto(live_server.url + "/docs")
    tab.get_by_text("/v1/read").first.wait_for(timeout=READ_TIMEOUT_MS)
    assert tab.get_by_text("/healthz").count() >= 1
    shot(tab, "api-docs")
    context.close()
    assert not outside, f"/docs fetched from outside the server: {outside}"


def test_a_corrected_reading_is_saved_where_digits_finetune_takes_it(browser, corrections_server, shapes):  # type: ignore[no-untyped-def]
    server, folder = corrections_server
    context = browser.new_context(viewport={"width": 1200, "height": 900}, device_scale_factor=1)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(server.url + "/")
    page.wait_for_function("() => document.getElementById('model-name').textContent.startsWith('Model: ')")
    assert page.locator("#correct").is_hidden()  # nothing read yet
    draw(page, shapes, "7")
    wait_for_reading(page, "7")
    assert page.locator("#correct-text").input_value() == "7"
    page.locator("#correct-text").fill("1")
    page.get_by_role("button", name="Save").click()
    page.wait_for_function("() => document.getElementById('correct-status').textContent.startsWith('Saved')")
    shot(page, "correction-saved")
    rows = (folder / "labels.csv").read_text().splitlines()
    assert rows[0] == "path,text" and rows[1].endswith(",1") and len(rows) == 2
    assert (folder / rows[1].split(",")[0]).is_file()
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
