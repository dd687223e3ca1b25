"""Captures: filter the store, browse thumbnails page by page (the store's cursor), open one."""

from __future__ import annotations

from datetime import date
from typing import Any, cast, get_args

import streamlit as st

from dashboard import data, services
from dashboard.paging import FilteredPage, Filters, QualityFilter, fetch_page, quality_of
from wound.errors import WoundError
from wound.pseudonym import is_pseudonym, pseudonymise
from wound.store.records import CaptureRecord, LabelStatus

PAGE_SIZE = 24
COLUMNS = 4
ANY = "(any)"
STATE = "captures_paging"  # {"filters": Filters, "cursors": [None, c1, ...], "index": int}


def page() -> None:
    st.title("Captures")
    store = services.store_or_stop()
    filters = _filters()
    state = st.session_state.get(STATE)
    if state is None or state["filters"] != filters:
        state = {"filters": filters, "cursors": [None], "index": 0}
        st.session_state[STATE] = state
    with services.guard("The captures could not be listed"):
        result = fetch_page(store, filters, cursor=state["cursors"][state["index"]], size=PAGE_SIZE)
    _pager(state, result)
    if not result.items:
        st.info(
            "No captures match these filters."
            if filters != Filters()
            else "The store holds no captures yet: `wound ingest FOLDER` adds some."
        )
        return
    _grid(result.items)


def _filters() -> Filters:
    with st.expander("Filters", expanded=True):
        a, b, c = st.columns(3)
        subject_text = a.text_input(
            "Subject: pseudonym (sub-…) or subject id (pseudonymised, never shown)",
            key="cap_subject",
            type="password",
        ).strip()
        wound_id = a.text_input("Wound (needs the subject)", key="cap_wound").strip()
        wound_type = b.selectbox("Wound type", [ANY, "burn", "dfu", "other"], key="cap_type")
        status = b.selectbox("Label status", [ANY, *get_args(LabelStatus)], key="cap_status")
        quality = c.selectbox("Quality verdict", [ANY, *get_args(QualityFilter)], key="cap_quality")
        start = c.date_input("Captured from", value=None, key="cap_from")
        end = c.date_input("Captured until", value=None, key="cap_until")
    subject = None
    if subject_text:
        subject = subject_text
        if not is_pseudonym(subject_text):
            key = services.settings().pseudonym_key_bytes()
            subject = pseudonymise(subject_text, key)
    if wound_id and not subject:
        st.warning("The wound filter needs a subject; it is ignored.")
    return Filters(
        subject=subject,
        wound_id=wound_id or None,
        wound_type=None if wound_type == ANY else wound_type,
        label_status=None if status == ANY else cast(LabelStatus, status),
        quality=None if quality == ANY else cast(QualityFilter, quality),
        start=start if isinstance(start, date) else None,
        end=end if isinstance(end, date) else None,
    )


def _pager(state: dict[str, Any], result: FilteredPage) -> None:
    index = state["index"]
    left, middle, right = st.columns([1, 3, 1])
    if left.button("← Previous", disabled=index == 0, key="cap_prev"):
        state["index"] = index - 1
        st.rerun()
    middle.caption(
        f"Page {index + 1} · {len(result.items)} captures shown · {result.scanned} records read"
        + ("" if result.cursor else " · last page")
    )
    if right.button("Next →", disabled=result.cursor is None, key="cap_next"):
        cursors = state["cursors"]
        del cursors[index + 1 :]
        cursors.append(result.cursor)
        state["index"] = index + 1
        st.rerun()


def _grid(records: list[CaptureRecord]) -> None:
    key = data.current_key()
    for start in range(0, len(records), COLUMNS):
        for column, record in zip(
            st.columns(COLUMNS), records[start : start + COLUMNS], strict=False
        ):
            with column:
                try:
                    st.image(data.thumbnail(key, record.capture_id), width=160)
                except WoundError as exc:  # one bad preview must not hide the page
                    st.warning(f"No preview: {exc}")
                st.caption(_caption(record))
                a, b = st.columns(2)
                if a.button("Detail", key=f"cap_open_{record.capture_id}"):
                    services.open_capture(record.capture_id, "detail")
                if b.button("Score", key=f"cap_score_{record.capture_id}"):
                    st.session_state["score_source"] = "A stored capture"
                    services.open_capture(record.capture_id, "score")


def _caption(record: CaptureRecord) -> str:
    meta = record.header.get("metadata", {})
    visit = f" · visit {meta['visit']}" if meta.get("visit") else ""
    return (
        f"**{short(record.capture_id)}**  \n"
        f"{record.subject} · wound {record.wound_id}{visit}  \n"
        f"{record.wound_type} · {record.captured_at:%Y-%m-%d %H:%M}  \n"
        f"labels: {record.label_status} · quality: {quality_of(record)}"
    )


def short(capture_id: str, length: int = 20) -> str:
    """A capture id cut for a thumbnail caption (the detail page shows it whole)."""
    return capture_id if len(capture_id) <= length else capture_id[: length - 1] + "…"
