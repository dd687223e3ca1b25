"""Models page: registry list, metrics beside the baseline, charts, two models side by side."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from streamlit.testing.v1 import AppTest

from dashboard.views.models import headline_rows, skin_tone_rows
from wound.store import LocalStore


def test_registry_and_one_model(dashboard_env: Path, page_app: Callable[[str], AppTest]) -> None:
    at = page_app("models").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    registry = at.dataframe[0].value
    assert list(registry["model"]) == ["burn-depth-tiny-b", "burn-depth-tiny-a"]
    assert set(registry["task"]) == {"burn-depth"}
    assert registry["headline"].iloc[0].startswith("healing_auc ")
    metrics = at.dataframe[1].value
    assert list(metrics.columns) == ["metric", "CNN", "spectral baseline"]
    assert "Healing AUC (21 days)" in list(metrics["metric"])
    charts = at.get("vega_lite_chart")
    assert len(charts) == 3  # confusion matrices of the CNN and the baseline; calibration
    assert any("Calibration" in m.value for m in at.markdown)


def test_two_models_side_by_side(dashboard_env: Path, page_app: Callable[[str], AppTest]) -> None:
    at = page_app("models").run()
    at.toggle(key="models_compare").set_value(True).run()
    assert not at.exception and not at.error
    assert at.multiselect(key="models_two").value == ["burn-depth-tiny-b", "burn-depth-tiny-a"]
    comparison = at.dataframe[1].value
    assert list(comparison.columns) == ["metric", "burn-depth-tiny-b", "burn-depth-tiny-a"]
    assert [s.value for s in at.subheader] == ["burn-depth-tiny-b", "burn-depth-tiny-a"]


def test_metric_tables_read_the_registry(dashboard_env: Path) -> None:
    store = LocalStore(dashboard_env)
    model = store.get_model("burn-depth-tiny-a")
    rows = headline_rows(model)
    head = model.info["metrics_headline"]
    i = rows["metric"].index("Healing AUC (21 days)")
    assert rows["CNN"][i] == f"{head['healing_auc']:.3f}"
    assert rows["spectral baseline"][i] == f"{head['baseline_healing_auc']:.3f}"
    cnn = {"by_fitzpatrick": {"I-II": {"captures": 2, "depth": {"pixel_accuracy": 0.5}}}}
    tones = skin_tone_rows(cnn, None, "depth")
    assert tones["tertile"] == ["I-II"] and tones["accuracy"] == ["0.500"]
    assert tones["baseline accuracy"] == ["–"]


def test_empty_registry(empty_env: Path, page_app: Callable[[str], AppTest]) -> None:
    at = page_app("models").run()
    assert not at.exception and not at.error
    assert any("No model in the registry" in i.value for i in at.info)
