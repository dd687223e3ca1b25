"""Debian's Chromium driven by Playwright, for the browser tests (never `playwright install`:
`make browser` installs the chromium package). Screenshots go to ``test-artifacts/<name>/``
(``WOUND_TEST_ARTIFACTS`` overrides the folder) so a person can look at them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
# Headless as root, and no background connections (this machine's network is closed).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ROOT = Path(__file__).resolve().parents[1]


def artifacts_dir(name: str) -> Path:
    folder = Path(os.environ.get("WOUND_TEST_ARTIFACTS", ROOT / "test-artifacts")) / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@contextmanager
def chromium_page(*, width: int, height: int, timeout_ms: int) -> Iterator[object]:
    """A page of a fresh headless Chromium; fails (never skips) when Chromium is missing."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} missing: `make browser` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.set_default_timeout(timeout_ms)
            yield page
        finally:
            browser.close()
