"""A clinician's view in a real browser: Debian's Chromium (Playwright) logs into the session's
Label Studio, opens a pushed task and finds the image, the model's pre-annotation and the
clinical reference panel. The screenshot is kept in ``test-artifacts/labeling/``
(``WOUND_TEST_ARTIFACTS`` overrides the folder)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from label_studio_sdk import LabelStudio

from labeling.push import push, pushed_captures
from labeling.renderings import rendering_store
from labeling.server import LocalServer
from tests import browser
from tests.labeling.conftest import tiny_predictor
from wound.phantom import PhantomConfig, synth_cohort
from wound.pseudonym import pseudonymise
from wound.store import LocalStore

pytestmark = pytest.mark.integration


def artifacts_dir() -> Path:
    return browser.artifacts_dir("labeling")


@pytest.fixture
def page() -> Iterator[object]:
    with browser.chromium_page(width=1500, height=1000, timeout_ms=90_000) as page:
        yield page


def test_clinician_opens_a_task(
    tmp_path: Path, ls_client: LabelStudio, label_studio: LocalServer, page: object
) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    expect.set_options(timeout=90_000)
    store = LocalStore(tmp_path / "home")
    store.init()
    config = PhantomConfig(height=160, width=160)
    ids = []
    for capture in synth_cohort(subjects=1, captures_per_subject=2, seed=5, config=config):
        meta = capture.metadata.model_copy(
            update={"subject": pseudonymise(capture.metadata.subject, b"browser-test")}
        )
        ids.append(store.put_capture(replace(capture, metadata=meta)).capture_id)
    renderings = rendering_store(store, document_root=label_studio.document_root)
    report = push(store, ls_client, "burn-depth", renderings, predictor=tiny_predictor(8))
    task_id = pushed_captures(ls_client, report.project_id)[ids[1]]
    subject = store.get_record(ids[1]).subject
    store.close()

    page.goto(f"{label_studio.url}/user/login/")
    page.fill('input[name="email"]', label_studio.username)
    page.fill('input[name="password"]', label_studio.password)
    page.click('button[type="submit"]')
    page.wait_for_url(lambda url: "/user/login" not in url)
    page.goto(f"{label_studio.url}/projects/{report.project_id}/data?task={task_id}")

    try:
        expect(page.get_by_text("Clinical reference", exact=True)).to_be_visible()
        expect(page.get_by_role("cell", name=subject)).to_be_visible()
        expect(page.get_by_role("rowheader", name="Biopsy depth")).to_be_visible()
        expect(page.get_by_text("Earlier captures of this wound", exact=True)).to_be_visible()
        # the editor shows images as blob: URLs: the capture, the earlier capture's thumbnail
        # and the first band, each decoded at the capture's 160 px
        page.wait_for_function(
            "() => [...document.querySelectorAll('img')].filter("
            "i => i.src.startsWith('blob:') && i.complete && i.naturalWidth === 160).length >= 3"
        )
        # the model's pre-annotation is loaded as regions with the task's label names
        expect(page.get_by_text("tiny@0").first).to_be_attached()
        page.wait_for_timeout(1500)
    finally:
        page.screenshot(path=str(artifacts_dir() / "task.png"), full_page=True)
