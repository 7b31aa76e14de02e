"""The model in use travels with the visitor's link (issue 24): a test image opened from Evaluate in a new tab
explains the model Evaluate showed, for the same participant."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import pytest
import torch
from playwright.sync_api import expect

from tests.support.browser import EXCEPTION, open_page, wait_idle

pytestmark = pytest.mark.e2e


def _nudged_checkpoint(path):
    """The shipped weights, nudged: a model whose answers differ from the shipped one's."""
    from simplecnn.checkpoint import DEFAULT_CHECKPOINT, load_checkpoint, save_checkpoint

    generator = torch.Generator().manual_seed(0)
    state = {
        k: v + 0.02 * torch.randn(v.shape, generator=generator) if v.is_floating_point() else v
        for k, v in load_checkpoint(DEFAULT_CHECKPOINT).state_dict.items()
    }
    save_checkpoint(path, state, config={"recipe": "quick"})
    return path


def test_a_cell_image_opens_the_inside_view_of_the_visitors_model(server, page, tmp_path):
    open_page(page, server + "/evaluate?lang=en", "Evaluate")
    page.get_by_role("combobox").first.click()
    page.get_by_role("option", name=re.compile("Upload a checkpoint")).click()
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        str(_nudged_checkpoint(tmp_path / "mine.pt"))
    )
    link = page.locator('.st-key-eval_cell_images a[href*="inside?test="]').first
    expect(link).to_be_attached(timeout=90_000)
    wait_idle(page)
    query = parse_qs(urlparse(link.get_attribute("href") or "").query)
    token = parse_qs(urlparse(page.url).query)["p"]
    assert query["p"] == token and query["model"][0].startswith("upload-")
    shown = re.search(r"read as (\d) \((\d+%|99%\+) sure\)", link.locator("img").get_attribute("alt") or "")
    assert shown is not None
    with page.context.expect_page() as opened:
        link.click()
    inside = opened.value
    expect(inside.get_by_role("heading", name="Inside", level=1)).to_be_visible(timeout=60_000)
    expect(inside.get_by_text("Uploaded: mine.pt")).to_be_visible(timeout=60_000)
    sure = "over 99% sure" if shown[2] == "99%+" else f"{shown[2]} sure"
    expect(inside.get_by_text(f"Decision: {shown[1]} · {sure}")).to_be_visible(timeout=60_000)
    assert parse_qs(urlparse(inside.url).query)["p"] == token  # the same participant (their run badge, drawing)
    assert inside.locator(EXCEPTION).count() == 0 and page.locator(EXCEPTION).count() == 0
    inside.close()
