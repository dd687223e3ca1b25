"""Models: the registry, a model's evaluation (metrics, confusion matrix, calibration, skin-tone
breakdown, the spectral baseline beside the CNN) and two models side by side.

Everything is read from the registry records and the ``report.json`` the evaluator stores with
each model (see docs/dashboard.md); nothing is recomputed here.
"""

from __future__ import annotations

import json
from typing import Any

import altair as alt
import streamlit as st

from dashboard import data, services
from wound.errors import RecordNotFoundError
from wound.store.records import ModelRecord
from wound.tasks import TASKS

#: Headline metrics shown (key in ``metrics_headline``, label); ``baseline_<key>`` beside each.
HEADLINE = (
    ("accuracy", "Pixel accuracy (classes)"),
    ("mean_dice", "Mean Dice over classes"),
    ("healing_auc", "Healing AUC (21 days)"),
    ("sensitivity", "Healing sensitivity"),
    ("specificity", "Healing specificity"),
    ("ece", "Healing calibration error (ECE)"),
    ("wound_dice_mean", "Wound Dice (per-image mean)"),
    ("dice", "Dice"),
)


def page() -> None:
    st.title("Models")
    store = services.store_or_stop()
    with services.guard("The model registry could not be read"):
        models = services.scoring_models(store)
    if not models:
        st.info(
            "No model in the registry yet: `wound train --config configs/burn-depth.yaml` "
            "trains, evaluates and registers one."
        )
        return
    st.dataframe(_registry_rows(models), hide_index=True)
    ids = [m.model_id for m in models]
    compare = st.toggle("Compare two models side by side", key="models_compare")
    if compare and len(ids) > 1:
        chosen = st.multiselect("Models", ids, default=ids[:2], max_selections=2, key="models_two")
        if len(chosen) == 2:
            st.dataframe(_comparison(models, chosen), hide_index=True)
        columns = st.columns(max(1, len(chosen)))
        for column, model_id in zip(columns, chosen, strict=False):
            with column:
                _model(next(m for m in models if m.model_id == model_id), compact=True)
    else:
        model_id = st.selectbox("Model", ids, key="models_one")
        _model(next(m for m in models if m.model_id == model_id), compact=False)


def _registry_rows(models: list[ModelRecord]) -> dict[str, list[Any]]:
    def headline(m: ModelRecord) -> str:
        spec = TASKS.get(m.task)
        values = {**m.info.get("metrics", {}), **m.info.get("metrics_headline", {})}
        key = spec.headline_metric if spec else ""
        value = values.get(key)
        return f"{key} {value:.3f}" if isinstance(value, int | float) else "–"

    return {
        "model": [m.model_id for m in models],
        "task": [m.task for m in models],
        "registered (UTC)": [f"{m.created_at:%Y-%m-%d %H:%M}" for m in models],
        "network": [str(m.info.get("network", {}).get("name", "?")) for m in models],
        "bands": [len(m.info.get("wavelengths_nm", [])) for m in models],
        "epochs": [m.info.get("epochs_run") for m in models],
        "validation captures": [
            m.info.get("manifest_summary", {}).get("val_captures") for m in models
        ],
        "headline": [headline(m) for m in models],
    }


@st.cache_data(show_spinner=False, max_entries=32)
def report(key: services.StoreKey, model_id: str) -> dict[str, Any] | None:
    """The evaluation report stored with a model (None when it has none)."""
    try:
        return dict(json.loads(services.get_store().get_model_file(model_id, "report.json")))
    except RecordNotFoundError:
        return None


def headline_rows(model: ModelRecord) -> dict[str, list[Any]]:
    """CNN and spectral baseline side by side (the metrics the registry holds)."""
    head: dict[str, Any] = model.info.get("metrics_headline") or {}
    rows = [(label, head.get(k), head.get(f"baseline_{k}")) for k, label in HEADLINE]
    rows = [r for r in rows if r[1] is not None or r[2] is not None]
    return {
        "metric": [r[0] for r in rows],
        "CNN": [_fmt(r[1]) for r in rows],
        "spectral baseline": [_fmt(r[2]) for r in rows],
    }


def _comparison(models: list[ModelRecord], chosen: list[str]) -> dict[str, list[Any]]:
    records = [next(m for m in models if m.model_id == c) for c in chosen]
    heads = [r.info.get("metrics_headline") or {} for r in records]
    keys = [(k, label) for k, label in HEADLINE if any(h.get(k) is not None for h in heads)]
    out: dict[str, list[Any]] = {"metric": [label for _, label in keys]}
    for record, head in zip(records, heads, strict=True):
        out[record.model_id] = [_fmt(head.get(k)) for k, _ in keys]
    return out


def _fmt(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, int | float) else "–"


def _model(model: ModelRecord, *, compact: bool) -> None:
    st.subheader(model.model_id)
    st.caption(
        f"{model.task} · registered {model.created_at:%Y-%m-%d %H:%M} UTC · bands "
        + ", ".join(f"{w:g}" for w in model.info.get("wavelengths_nm", []))
        + " nm"
    )
    st.dataframe(headline_rows(model), hide_index=True)
    rep = report(data.current_key(), model.model_id)
    if rep is None:
        st.info("No evaluation report stored with this model (`wound evaluate` makes one).")
        return
    spec = TASKS.get(rep.get("task", model.task))
    key = spec.report_key if spec else "depth"
    cnn, base = rep.get("model") or {}, rep.get("baseline")
    parts = [("CNN", cnn)] + ([("Spectral baseline", base)] if base else [])
    st.markdown("**Confusion matrix** (rows: truth, columns: prediction; share of each row)")
    columns = st.columns(1 if compact else len(parts))
    for i, (name, section) in enumerate(parts if not compact else parts[:1]):
        seg = section.get(key) or {}
        if "confusion_matrix" in seg:
            columns[i].altair_chart(
                confusion_chart(seg["confusion_matrix"], seg["confusion_matrix_labels"], name),
                width="content",
                height="content",
            )
    calibration: list[tuple[str, dict[str, Any]]] = []
    for name, section in parts:
        cal = (section.get("healing") or {}).get("calibration")
        if cal:
            calibration.append((name, cal))
    if calibration:
        st.markdown("**Calibration of the healing probability** (dashed: perfect calibration)")
        st.altair_chart(calibration_chart(calibration), width="stretch")
    tones = skin_tone_rows(cnn, base, key)
    if tones["tertile"]:
        st.markdown("**By skin pigmentation** (Fitzpatrick tertile from the capture metadata)")
        st.dataframe(tones, hide_index=True)


def confusion_chart(matrix: list[list[int]], labels: list[str], title: str) -> alt.Chart:
    values = []
    for i, row in enumerate(matrix):
        total = sum(row) or 1
        for j, count in enumerate(row):
            values.append(
                {"truth": labels[i], "prediction": labels[j], "share": count / total, "n": count}
            )
    base = alt.Chart(alt.Data(values=values)).encode(
        x=alt.X(
            "prediction:N",
            sort=labels,
            title="prediction",
            axis=alt.Axis(labelLimit=220, labelAngle=-40, labelOverlap=False),
        ),
        y=alt.Y("truth:N", sort=labels, title="truth", axis=alt.Axis(labelLimit=220)),
    )
    cells = base.mark_rect().encode(
        color=alt.Color("share:Q", scale=alt.Scale(scheme="blues", domain=[0, 1])),
        tooltip=["truth:N", "prediction:N", "n:Q", alt.Tooltip("share:Q", format=".1%")],
    )
    text = base.mark_text(fontSize=10).encode(
        text=alt.Text("share:Q", format=".0%"),
        color=alt.condition("datum.share > 0.5", alt.value("white"), alt.value("black")),
    )
    return (cells + text).properties(title=title, width=alt.Step(48), height=alt.Step(30))


def calibration_chart(curves: list[tuple[str, dict[str, Any]]]) -> alt.LayerChart:
    values = []
    for name, cal in curves:
        for p, f, n in zip(
            cal["bin_mean_probability"], cal["bin_fraction_positive"], cal["bin_count"], strict=True
        ):
            if p is not None and f is not None:
                values.append({"model": name, "predicted": p, "observed": f, "pixels": n})
    line = (
        alt.Chart(alt.Data(values=values))
        .mark_line(point=True)
        .encode(
            x=alt.X(
                "predicted:Q",
                title="predicted probability of healing",
                scale=alt.Scale(domain=[0, 1]),
            ),
            y=alt.Y(
                "observed:Q", title="observed share that healed", scale=alt.Scale(domain=[0, 1])
            ),
            color="model:N",
            tooltip=["model:N", "predicted:Q", "observed:Q", "pixels:Q"],
        )
    )
    diagonal = (
        alt.Chart(alt.Data(values=[{"x": 0, "y": 0}, {"x": 1, "y": 1}]))
        .mark_line(strokeDash=[4, 4], color="#888")
        .encode(x="x:Q", y="y:Q")
    )
    return (diagonal + line).properties(height=280)


def skin_tone_rows(
    cnn: dict[str, Any], base: dict[str, Any] | None, key: str
) -> dict[str, list[Any]]:
    groups: dict[str, Any] = cnn.get("by_fitzpatrick") or {}
    bgroups: dict[str, Any] = (base or {}).get("by_fitzpatrick") or {}
    out: dict[str, list[Any]] = {
        "tertile": [],
        "captures": [],
        "accuracy": [],
        "healing AUC": [],
        "ECE": [],
        "baseline accuracy": [],
        "baseline healing AUC": [],
    }
    for name, m in groups.items():
        b = bgroups.get(name) or {}
        out["tertile"].append(name)
        out["captures"].append(m.get("captures"))
        out["accuracy"].append(_fmt((m.get(key) or {}).get("pixel_accuracy")))
        out["healing AUC"].append(_fmt((m.get("healing") or {}).get("auc")))
        out["ECE"].append(_fmt(((m.get("healing") or {}).get("calibration") or {}).get("ece")))
        out["baseline accuracy"].append(_fmt((b.get(key) or {}).get("pixel_accuracy")))
        out["baseline healing AUC"].append(_fmt((b.get("healing") or {}).get("auc")))
    return out
