"""Captures page: filters and paging through the store's cursor (AppTest + the paging function)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import paging
from dashboard.views import captures
from wound.store import LocalStore


def _shown_ids(at: AppTest) -> list[str]:
    return [
        b.key.removeprefix("cap_open_")
        for b in at.button
        if b.key and b.key.startswith("cap_open_")
    ]


def test_fetch_page_covers_every_capture_once(dashboard_env: Path) -> None:
    store = LocalStore(dashboard_env)
    everything = [r.capture_id for r in store.iter_captures()]
    seen: list[str] = []
    cursor = None
    while True:
        page = paging.fetch_page(store, paging.Filters(), cursor=cursor, size=4)
        seen += [r.capture_id for r in page.items]
        if page.cursor is None:
            break
        cursor = page.cursor
    assert seen == everything and len(seen) == 13


def test_fetch_page_filters_on_records(dashboard_env: Path) -> None:
    store = LocalStore(dashboard_env)
    records = list(store.iter_captures())
    checked = {r.capture_id for r in records if r.quality is not None}
    assert checked  # the seed scored two captures
    page = paging.fetch_page(store, paging.Filters(quality="not checked"), size=3)
    assert page.items and not {r.capture_id for r in page.items} & checked
    day = records[4].captured_at.date()
    dated = paging.fetch_page(store, paging.Filters(start=day, end=day), size=50)
    assert {r.captured_at.date() for r in dated.items} == {day}
    assert not paging.fetch_page(store, paging.Filters(wound_type="dfu"), size=50).items
    later = paging.Filters(start=records[-1].captured_at.date() + timedelta(days=1))
    assert paging.fetch_page(store, later, size=50).items == []


def test_pages_forward_and_back(
    dashboard_env: Path, page_app: Callable[[str], AppTest], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(captures, "PAGE_SIZE", 4)
    at = page_app("captures").run()
    assert not at.exception and not at.error
    first = _shown_ids(at)
    assert len(first) == 4 and len(at.image) == 4
    at.button(key="cap_next").click().run()
    second = _shown_ids(at)
    at.button(key="cap_next").click().run()
    third = _shown_ids(at)
    at.button(key="cap_next").click().run()
    fourth = _shown_ids(at)
    assert len(second) == len(third) == 4 and len(fourth) == 1
    assert at.button(key="cap_next").disabled
    assert len(set(first + second + third + fourth)) == 13
    at.button(key="cap_prev").click().run()
    assert _shown_ids(at) == third


def test_subject_filter_takes_the_raw_id_and_never_shows_it(
    dashboard_env: Path, page_app: Callable[[str], AppTest]
) -> None:
    at = page_app("captures").run()
    at.text_input(key="cap_subject").input("phantom-s001").run()
    shown = _shown_ids(at)
    assert len(shown) == 3
    store = LocalStore(dashboard_env)
    assert len({store.get_record(c).subject for c in shown}) == 1
    text = "\n".join(str(m.value) for m in [*at.markdown, *at.caption, *at.info, *at.warning])
    assert "phantom-s001" not in text and "sub-" in text


def test_label_status_and_quality_filters(
    dashboard_env: Path, page_app: Callable[[str], AppTest]
) -> None:
    at = page_app("captures").run()
    at.selectbox(key="cap_quality").set_value("not checked").run()
    assert len(_shown_ids(at)) == 11
    at.selectbox(key="cap_status").set_value("labelled").run()
    assert _shown_ids(at) == []
    assert any("No captures match" in i.value for i in at.info)


def test_empty_store(empty_env: Path, page_app: Callable[[str], AppTest]) -> None:
    at = page_app("captures").run()
    assert not at.exception and not at.error
    assert any("holds no captures" in i.value for i in at.info)
