"""End to end in a real browser: ``streamlit run`` (the command ``wound dashboard`` runs) on a
free loopback port, Debian's Chromium driven by Playwright scores an uploaded capture through the
Score page, and the patient timeline of a burn followed over four visits is opened.

Screenshots (what an operator sees) are kept in ``test-artifacts/dashboard/`` at the checkout's
root (``WOUND_TEST_ARTIFACTS`` overrides the folder).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from reliability import servers
from tests import browser
from wound.io import write_capture
from wound.phantom import PhantomConfig, synth_capture
from wound.pipeline import score_stored
from wound.predict import Predictor
from wound.store import LocalStore

pytestmark = pytest.mark.integration


def artifacts_dir() -> Path:
    return browser.artifacts_dir("dashboard")


@pytest.fixture
def server(dashboard_env: Path, tmp_path: Path) -> Iterator[str]:
    """``streamlit run dashboard/app.py`` on a free 127.0.0.1 port; yields its URL."""
    log = tmp_path / "streamlit.log"
    try:
        with servers.streamlit_server(log=log, cwd=dashboard_env.parent) as url:
            yield url
    except servers.ServerDidNotStart as exc:
        pytest.fail(str(exc))
    finally:
        shutil.copy(log, artifacts_dir() / "streamlit.log")


@pytest.fixture
def browser_page() -> Iterator[object]:
    from playwright.sync_api import expect

    expect.set_options(timeout=120_000)  # the first run imports torch and loads the model
    with browser.chromium_page(width=1400, height=1900, timeout_ms=120_000) as page:
        yield page


def _settled(page: object) -> None:
    """Wait until Streamlit has finished the run (no "running" status widget)."""
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    page.wait_for_timeout(300)
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=120_000)


def test_score_a_capture_in_the_browser(
    server: str, browser_page: object, dashboard_env: Path, tmp_path: Path
) -> None:
    from playwright.sync_api import Page, expect

    page = browser_page
    assert isinstance(page, Page)
    capture = synth_capture(
        seed=42, subject_index=1, capture_index=0, config=PhantomConfig(height=64, width=64)
    )
    upload = write_capture(capture, tmp_path / "upload.tif")
    page.goto(server)
    expect(page.get_by_role("heading", name="Score a capture")).to_be_visible()
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(upload)
    expect(page.get_by_text("upload.tif")).to_be_visible()
    _settled(page)
    page.get_by_role("button", name="Score", exact=True).click()
    metric = page.locator('[data-testid="stMetric"]').filter(has_text="Wound area")
    expect(metric).to_be_visible(timeout=120_000)
    expect(metric).to_contain_text("cm²")
    _settled(page)
    overlay = page.locator('[data-testid="stImage"] img').first
    expect(overlay).to_be_visible()
    size = overlay.evaluate("img => [img.complete, img.naturalWidth, img.naturalHeight]")
    assert size[0] and size[1] >= 320 and size[2] >= 320, size  # 64 px shown enlarged
    for label in ("Unlikely to heal within 21 days", "Indeterminate (hatched)"):
        expect(page.locator('[data-testid="stMetric"]').filter(has_text=label)).to_be_visible()
    expect(page.get_by_text("not an excision margin").first).to_be_visible()
    expect(page.get_by_text("superficial partial thickness").first).to_be_visible()
    expect(page.get_by_role("button", name="Report (PDF)")).to_be_visible()
    assert not page.locator('[data-testid="stException"]').count()
    page.mouse.click(5, 5)
    page.screenshot(path=str(artifacts_dir() / "score.png"), full_page=True)
    store = LocalStore(dashboard_env)
    assert any(p.capture_id == capture.identity() for p in store.list_predictions())


def test_patient_timeline_in_the_browser(
    server: str,
    browser_page: object,
    dashboard_env: Path,
    subject_of: Callable[[str], str],
) -> None:
    from playwright.sync_api import Page, expect

    page = browser_page
    assert isinstance(page, Page)
    subject = subject_of("phantom-burn000")
    with LocalStore(dashboard_env) as store:
        ids = [r.capture_id for r in store.iter_captures(subject=subject)]
        predictor = Predictor.from_store(store, "burn-depth-tiny-a")
        assert {o.status for o in score_stored(store, predictor, ids)} == {"scored"}
    page.goto(f"{server}/timeline")
    expect(page.get_by_role("heading", name="Patient timeline")).to_be_visible()
    _settled(page)
    chooser = page.locator('[data-testid="stSelectbox"]').filter(has_text="Subject (pseudonym)")
    chooser.locator("input").click()
    page.get_by_role("option", name=subject, exact=False).click()
    _settled(page)
    expect(page.get_by_text("Predicted healing map per visit")).to_be_visible()
    expect(page.locator('[data-testid="stVegaLiteChart"]')).to_have_count(2)
    expect(page.locator('[data-testid="stImage"] img')).to_have_count(4)
    expect(page.get_by_text("Sheehan").first).to_be_visible()
    assert not page.locator('[data-testid="stException"]').count()
    page.mouse.click(5, 5)  # focus and hover away from the widgets and charts
    page.wait_for_timeout(1000)  # charts finish drawing
    page.screenshot(path=str(artifacts_dir() / "timeline.png"), full_page=True)
