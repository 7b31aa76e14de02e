"""Steps a person takes in the app, for the real-browser tests (Playwright's sync API)."""

from __future__ import annotations

import math
import re
import time

from playwright.sync_api import Page, expect

from simplecnn.data import TEST_SIZE
from ui.i18n import translate

EXCEPTION = '[data-testid="stException"]'
MAIN = '[data-testid="stMain"]'
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


def wait_idle(page: Page, timeout: float = 60) -> None:
    """Until the script has finished its run (Streamlit marks the app root with its script state)."""
    page.wait_for_selector(IDLE, timeout=timeout * 1000)


def open_page(page: Page, url: str, title: str) -> None:
    page.goto(url)
    expect(page.get_by_role("heading", name=title, level=1)).to_be_visible(timeout=60_000)
    wait_idle(page)


def progress(page: Page) -> int:
    """Batches done so far, read from the progress bar's text ("… epoch 2/30, batch 5/16 …")."""
    text = page.locator(f'{MAIN} [data-testid="stProgress"]').first.inner_text()
    found = re.search(r"epoch (\d+)/\d+, batch (\d+)/(\d+)", text)
    if not found:
        return 0
    epoch, batch, per_epoch = (int(v) for v in found.groups())
    return (epoch - 1) * per_epoch + batch


def press_stop(page: Page, lang: str = "en", tap: bool = False) -> None:
    """Press Stop and see it taken: "Stopping…" replaces it at once, the run then ends and Start comes back.
    A click that lands while the live panel redraws can be lost (Streamlit): a person presses again, so do we."""
    stop = page.get_by_role("button", name=translate(lang, "train.stop"), exact=True)
    for _ in range(3):
        if stop.count() == 0:
            break
        stop.tap() if tap else stop.click()
        try:
            expect(stop).to_have_count(0, timeout=10_000)
            break
        except AssertionError:
            continue
    expect(stop).to_have_count(0, timeout=1_000)
    expect(page.get_by_role("button", name=translate(lang, "train.start"))).to_be_enabled(timeout=90_000)


def set_number(page: Page, label: str, value: int) -> None:
    """Type a number and commit it, the way a person would: wait for the rerun, check it stuck (else retype).

    Typing faster than the app reruns can lose a keystroke in the browser (Playwright types instantly).
    """
    box = page.get_by_label(label, exact=True)
    for _ in range(3):
        box.fill(str(value))
        box.press("Enter")
        time.sleep(0.4)  # let the rerun start before waiting for it to finish
        wait_idle(page)
        time.sleep(0.3)
        wait_idle(page)
        if box.input_value() == str(value):
            return
    raise AssertionError(f"{label!r} did not keep {value}: it shows {box.input_value()!r}")


def evaluate_on_fewer_test_images(page: Page, lang: str = "en", count: int = 500) -> None:
    """Set the run's test images (its evaluations, and the one Stop makes of what it learned: 10,000 images are
    seconds of a core) in the Settings expander on /train, and leave the expander folded or open as it was."""
    label = translate(lang, "train.field.limit_test_all", count=TEST_SIZE)
    was_open = page.get_by_label(label, exact=True).is_visible()
    summary = page.locator('[data-testid="stExpander"] summary', has_text=translate(lang, "train.settings")).first
    if not was_open:
        summary.click()
        try:
            expect(page.get_by_label(label, exact=True)).to_be_visible(timeout=15_000)
        except AssertionError:
            summary.click()  # a click that came before a busy server's page was ready can be lost: once more
    set_number(page, label, count)
    if not was_open:
        summary.click()
        expect(page.get_by_label(label, exact=True)).to_be_hidden()
        wait_idle(page)


def open_settings_for(page: Page, preset: str) -> None:
    """Pick a preset on /train and open the Settings expander (folded away unless the preset is Custom)."""
    page.get_by_role("radio", name=preset, exact=True).click()  # a segmented control's option
    wait_idle(page)
    summary = page.locator('[data-testid="stExpander"] summary', has_text="Settings").first
    if page.get_by_label("Epochs", exact=True).is_hidden():
        summary.click()
    expect(page.get_by_label("Epochs", exact=True)).to_be_visible(timeout=20_000)


def strokes(digit: int) -> list[list[tuple[float, float]]]:
    """Strokes in canvas units (0..1), drawn like a person would."""
    if digit == 1:
        return [[(0.52, 0.15), (0.5, 0.5), (0.48, 0.85)]]
    if digit == 7:
        return [[(0.25, 0.2), (0.5, 0.2), (0.75, 0.2), (0.62, 0.5), (0.5, 0.85)]]
    if digit == 0:
        return [
            [
                (0.5 + 0.24 * math.sin(t * 2 * math.pi / 40), 0.5 - 0.34 * math.cos(t * 2 * math.pi / 40))
                for t in range(42)
            ]
        ]
    raise ValueError(digit)


def draw(page: Page, digit: int) -> None:
    """Draw a digit on /draw's canvas with the mouse."""
    canvas = page.locator("canvas.upper-canvas").first
    expect(canvas).to_be_visible(timeout=30_000)
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box is not None
    for stroke in strokes(digit):
        x0, y0 = stroke[0]
        page.mouse.move(box["x"] + x0 * box["width"], box["y"] + y0 * box["height"])
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"], steps=8)
        page.mouse.up()
