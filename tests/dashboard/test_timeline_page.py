"""Patient timeline: a burn followed over 4 visits; areas, % area reduction, maps per visit."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from streamlit.testing.v1 import AppTest

from dashboard.views.timeline import Visit, area_reduction
from wound.scoring import parse_score
from wound.store import LocalStore


def test_burn_series_scored_and_plotted(
    dashboard_env: Path, page_app: Callable[[str], AppTest], subject_of: Callable[[str], str]
) -> None:
    subject = subject_of("phantom-burn000")
    at = page_app("timeline").run()
    assert not at.exception and not at.error
    at.selectbox(key="tl_subject").set_value(subject).run()
    assert len(at.selectbox(key="tl_wound").options) == 1
    assert any("4 of 4 visits have no score" in i.value for i in at.info)
    assert not at.get("vega_lite_chart")  # nothing to plot yet
    at.button(key="tl_score").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert len(at.get("vega_lite_chart")) == 2  # area per visit; % area reduction + reference
    assert any("Sheehan" in c.value and "53 %" in c.value for c in at.caption)
    [table] = at.dataframe
    frame = table.value
    assert list(frame["days since injury"]) == sorted(frame["days since injury"])
    assert frame["% area reduction"].iloc[0] == "0 %"
    maps = [c for image in at.image for c in image.captions]
    assert len(maps) == 4 and all(c.startswith("visit ") for c in maps)
    assert subject not in " ".join(maps)  # captions hold no subject
    # the store now has the four scores, made through the pipeline
    store = LocalStore(dashboard_env)
    ids = [r.capture_id for r in store.iter_captures(subject=subject)]
    assert all(store.list_predictions(c) for c in ids)


def test_area_reduction_from_the_first_scored_visit(
    dashboard_env: Path, subject_of: Callable[[str], str]
) -> None:
    store = LocalStore(dashboard_env)
    cohort = [r for r in store.iter_captures() if store.list_predictions(r.capture_id)]
    assert cohort
    record = cohort[0]
    prediction, _ = store.get_prediction(record.capture_id, with_arrays=False)
    score = parse_score(prediction.score)
    half = score.model_copy(update={"wound_area": score.wound_area / 2})
    visits = [Visit(record, 0.0, None), Visit(record, 1.0, score), Visit(record, 29.0, half)]
    assert area_reduction(visits) == [None, 0.0, 50.0]
    assert area_reduction([Visit(record, 0.0, None)]) == [None]


def test_empty_store(empty_env: Path, page_app: Callable[[str], AppTest]) -> None:
    at = page_app("timeline").run()
    assert not at.exception and not at.error
    assert any("holds no captures" in i.value for i in at.info)
