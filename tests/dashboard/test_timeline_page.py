"""Patient timeline: a burn followed over 4 visits (areas, % area reduction, maps per visit) and
an ulcer's 4-week verdict, all from wound.timeline.wound_timeline."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from streamlit.testing.v1 import AppTest

from wound.ingest import find_capture_files, ingest_files
from wound.io import ReadLimits, write_capture
from wound.phantom import PhantomConfig, synth_series
from wound.store import LocalStore
from wound.timeline import wound_timeline


def test_burn_series_scored_and_plotted(
    dashboard_env: Path, page_app: Callable[[str], AppTest], subject_of: Callable[[str], str]
) -> None:
    subject = subject_of("phantom-burn000")
    at = page_app("timeline").run()
    assert not at.exception and not at.error
    at.selectbox(key="tl_subject").set_value(subject).run()
    assert len(at.selectbox(key="tl_wound").options) == 1
    assert any("4 of 4 visits have no score" in i.value for i in at.info)
    # before scoring, the areas come from the captures' ground truth (as `wound timeline`)
    [table] = at.dataframe
    assert set(table.value["area from"]) == {"ground truth"}
    assert set(table.value["score"]) == {"–"}
    assert not at.image  # no predicted maps yet
    at.button(key="tl_score").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert len(at.get("vega_lite_chart")) == 2  # area per visit; % area reduction + reference
    assert any("Sheehan" in c.value and "53 %" in c.value for c in at.caption)
    assert not at.success and not at.warning  # no ulcer verdict for a burn
    [table] = at.dataframe
    frame = table.value
    assert list(frame["days since injury"]) == sorted(frame["days since injury"])
    assert frame["% area reduction"].iloc[0] == "0 %"
    assert set(frame["score"]) == {"scored"}
    maps = [c for image in at.image for c in image.captions]
    assert len(maps) == 4 and all(c.startswith("visit ") for c in maps)
    assert subject not in " ".join(maps)  # captions hold no subject
    # the store now has the four scores, made through the pipeline
    store = LocalStore(dashboard_env)
    ids = [r.capture_id for r in store.iter_captures(subject=subject)]
    assert all(store.list_predictions(c) for c in ids)
    # the page's numbers are wound_timeline's for the chosen model
    model_id = at.selectbox(key="tl_model").value
    [wound] = wound_timeline(store, subject, model_id=model_id).wounds
    assert list(frame["capture"]) == [v.capture_id for v in wound.visits]
    assert list(frame["area from"]) == [v.area_source for v in wound.visits]
    assert list(frame["wound area"]) == [f"{v.area_cm2:.2f} cm²" for v in wound.visits]
    assert list(frame["% area reduction"]) == [f"{v.percent_reduction:.0f} %" for v in wound.visits]


def test_ulcer_verdict_is_wound_timelines(
    dashboard_env: Path,
    page_app: Callable[[str], AppTest],
    subject_of: Callable[[str], str],
    tmp_path: Path,
) -> None:
    """An ulcer seen weekly for 4 weeks: the page shows wound_timeline's 4-week verdict."""
    folder = tmp_path / "dfu"
    folder.mkdir()
    config = PhantomConfig(height=64, width=64)
    for capture in synth_series(kind="dfu", subjects=1, visits=5, seed=3, config=config):
        write_capture(capture, folder / f"{capture.identity()}.tif")
    key = os.environ["WOUND_PSEUDONYM_KEY"].encode()
    store = LocalStore(dashboard_env)
    results = ingest_files(
        find_capture_files([folder]), store, pseudonym_key=key, limits=ReadLimits(), workers=1
    )
    assert all(r.status == "created" for r in results), [r.error for r in results]
    subject = subject_of("phantom-dfu000")
    [wound] = wound_timeline(store, subject).wounds
    assert wound.verdict is not None and wound.verdict.visit == 5
    at = page_app("timeline").run()
    at.selectbox(key="tl_subject").set_value(subject).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    verdict = f"4-week verdict (visit 5): {wound.verdict.text}."
    shown = at.success if wound.verdict.on_track else at.warning
    assert [m.value for m in shown] == [verdict]
    [table] = at.dataframe
    assert list(table.value["% area reduction"]) == [
        f"{v.percent_reduction:.0f} %" for v in wound.visits
    ]
    assert any("not a diagnosis" in c.value for c in at.caption)


def test_empty_store(empty_env: Path, page_app: Callable[[str], AppTest]) -> None:
    at = page_app("timeline").run()
    assert not at.exception and not at.error
    assert any("holds no captures" in i.value for i in at.info)
