"""Labeling: label status of the store's captures, the queue sent for labelling, and Label
Studio's progress per project when the labeling package offers it.

Label Studio is read only through one small function, ``labeling.progress.project_progress
(settings) -> list[dict]`` (rows: project, tasks, annotated, agreement, url), looked up when the
page runs; until it exists, or while Label Studio is not configured, the page says so and shows
what the store knows.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, get_args

import streamlit as st

from dashboard import data, services
from wound.errors import WoundError
from wound.settings import Settings
from wound.store.records import LabelStatus

SCAN_LIMIT = 10_000
QUEUE_SHOWN = 20


def page() -> None:
    st.title("Labeling")
    store = services.store_or_stop()
    counts = status_counts(data.current_key())
    total = sum(counts.values())
    columns = st.columns(len(counts))
    for column, (status, n) in zip(columns, counts.items(), strict=True):
        column.metric(
            status.replace("_", " "),
            n,
            f"{n / total:.0%}" if total else None,
            delta_color="off",
            delta_arrow="off",
        )
    st.caption(
        f"Label status of the store's captures ({total}; the first {SCAN_LIMIT:,} are counted)."
    )
    _label_studio(services.settings())
    with services.guard("The labelling queue could not be read"):
        queued = store.list_captures(label_status="queued", limit=QUEUE_SHOWN).items
    st.subheader("Queued for labelling")
    if queued:
        st.dataframe(
            {
                "capture": [r.capture_id for r in queued],
                "wound type": [r.wound_type for r in queued],
                "captured (UTC)": [f"{r.captured_at:%Y-%m-%d %H:%M}" for r in queued],
            },
            hide_index=True,
        )
    else:
        st.caption("No capture is queued for labelling.")


@st.cache_data(show_spinner=False, ttl=60)
def status_counts(key: services.StoreKey) -> dict[str, int]:
    """Captures per label status (cached 60 s)."""
    counts = dict.fromkeys(get_args(LabelStatus), 0)
    for i, record in enumerate(services.get_store().iter_captures()):
        if i >= SCAN_LIMIT:
            break
        counts[record.label_status] = counts.get(record.label_status, 0) + 1
    return counts


def progress_function() -> Callable[[Settings], list[dict[str, Any]]] | None:
    """``labeling.progress.project_progress`` when the labeling package offers it."""
    try:
        module = importlib.import_module("labeling.progress")
    except ImportError:
        return None
    fn = getattr(module, "project_progress", None)
    return fn if callable(fn) else None


def _label_studio(config: Settings) -> None:
    st.subheader("Label Studio")
    progress = progress_function()
    if progress is None:
        st.info(
            "Label Studio: not configured. Its progress per project (tasks, annotated, agreement) "
            "and a link into it appear here once the labeling service is set up (docs/labeling.md)."
        )
        return
    try:
        rows = progress(config)
    except (WoundError, OSError) as exc:
        st.warning(str(exc))  # names the server and what to do (labeling.client.connect)
        return
    if not rows:
        st.info("Label Studio: no project yet (push captures to create one).")
        return
    st.dataframe(rows, hide_index=True)
    st.link_button("Open Label Studio", config.label_studio_url)
