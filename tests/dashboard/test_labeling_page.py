"""Labeling page: label-status counts from the store, the queue, Label Studio not configured."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from streamlit.testing.v1 import AppTest

from dashboard.views import labeling
from wound.store import LocalStore


def test_counts_queue_and_not_configured(
    dashboard_env: Path, page_app: Callable[[str], AppTest]
) -> None:
    store = LocalStore(dashboard_env)
    queued = next(iter(store.iter_captures())).capture_id
    store.set_label_status(queued, "queued")
    at = page_app("labeling").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {"unlabelled": "12", "queued": "1", "in progress": "0", "labelled": "0"}
    [queue] = at.dataframe
    assert list(queue.value["capture"]) == [queued]
    # labeling.progress exists; no Label Studio runs at the page's URL here
    assert labeling.progress_function() is not None
    [warning] = at.warning
    assert "is not reachable" in warning.value and "wound label serve" in warning.value


def test_empty_store(empty_env: Path, page_app: Callable[[str], AppTest]) -> None:
    at = page_app("labeling").run()
    assert not at.exception and not at.error
    assert {m.value for m in at.metric} == {"0"}
    assert any("No capture is queued" in c.value for c in at.caption)
