"""Patient timeline: one wound's captures over time, with whatever visits the store has.

The per-visit numbers (wound area in cm², the percent area reduction from the first visit, the
4-week verdict) come from :func:`wound.timeline.wound_timeline`, the same function behind
``wound timeline`` (docs/longitudinal.md), reading the chosen model's stored scores; this page
only draws them, with the predicted healing map of each scored visit. The 53 %-at-4-weeks line
is the reference of Sheehan et al., Diabetes Care 2003 (diabetic foot ulcers: the percent area
reduction at week 4 separated healers from non-healers; see docs/dashboard.md). Burns are placed
by days since injury, other wounds by days since the first visit.
"""

from __future__ import annotations

import altair as alt
import streamlit as st

from dashboard import data, services
from wound.errors import WoundError
from wound.pipeline import score_stored
from wound.store.base import CaptureStore
from wound.store.records import CaptureRecord
from wound.timeline import NOTE, VERDICT_REDUCTION_PERCENT, Visit, WoundTimeline, wound_timeline

SHEEHAN_DAY = 28.0  # the week-4 mark drawn on the chart
SCAN_LIMIT = 10_000
CHART_HEIGHT = 340
NO_MODEL = "(no model)"


def page() -> None:
    st.title("Patient timeline")
    store = services.store_or_stop()
    index = _wounds(data.current_key())
    if not index:
        st.info("The store holds no captures yet: `wound ingest FOLDER` adds some.")
        return
    a, b, c = st.columns(3)
    subject = a.selectbox(
        "Subject (pseudonym)",
        sorted(index),
        format_func=lambda s: f"{s} ({sum(index[s].values())} captures)",
        key="tl_subject",
    )
    wound_id = b.selectbox("Wound", sorted(index[subject]), key="tl_wound")
    with services.guard("The wound's captures could not be read"):
        records = {r.capture_id: r for r in store.iter_captures(subject=subject, wound_id=wound_id)}
        models = _models_scoring(store, list(records.values()))
    if not models:
        models = [m.model_id for m in services.scoring_models(store)]
    model_id = c.selectbox("Model", models or [NO_MODEL], key="tl_model")
    with services.guard("The wound's timeline could not be read"):
        [wound] = wound_timeline(
            store, subject, wound_id, model_id=None if model_id == NO_MODEL else model_id
        ).wounds
    burn = wound.wound_type == "burn"
    days = _days(wound, records, burn)
    _score_missing(store, wound.visits, model_id)
    _verdict(wound)
    _charts(wound.visits, days, burn)
    _table(wound.visits, days, burn)
    _maps(wound.visits, days, model_id)


@st.cache_data(show_spinner=False, ttl=60)
def _wounds(key: services.StoreKey) -> dict[str, dict[str, int]]:
    """subject -> wound -> number of captures (the first SCAN_LIMIT captures; cached 60 s)."""
    out: dict[str, dict[str, int]] = {}
    for i, record in enumerate(services.get_store().iter_captures()):
        if i >= SCAN_LIMIT:
            break
        wounds = out.setdefault(record.subject, {})
        wounds[record.wound_id] = wounds.get(record.wound_id, 0) + 1
    return out


def _models_scoring(store: CaptureStore, records: list[CaptureRecord]) -> list[str]:
    """Models that scored these captures, the one that scored most first."""
    counts: dict[str, int] = {}
    for record in records:
        for p in store.list_predictions(record.capture_id):
            counts[p.model_id] = counts.get(p.model_id, 0) + 1
    return sorted(counts, key=lambda m: -counts[m])


def _days(wound: WoundTimeline, records: dict[str, CaptureRecord], burn: bool) -> list[float]:
    """The x axis: days since injury for a burn (when the capture records it), else days since
    the first visit (the timeline's)."""
    out = []
    for v in wound.visits:
        meta = records[v.capture_id].header.get("metadata", {}) if burn else {}
        injury = meta.get("days_since_injury")
        out.append(float(injury) if injury is not None else v.days_since_first_visit)
    return out


def _score_missing(store: CaptureStore, visits: list[Visit], model_id: str) -> None:
    missing = [v.capture_id for v in visits if v.prediction_status is None]
    if not missing or model_id == NO_MODEL:
        return
    st.info(f"{len(missing)} of {len(visits)} visits have no score from model {model_id}.")
    if st.button(f"Score the {len(missing)} unscored visits", key="tl_score"):
        with services.guard("The model could not be loaded"):
            predictor = services.get_predictor(model_id)
        with st.spinner("Scoring…"):
            failed = [o for o in score_stored(store, predictor, missing) if o.status == "failed"]
        for outcome in failed:
            st.error(f"{outcome.capture_id}: {outcome.message}")
        if not failed:
            st.rerun()


def _verdict(wound: WoundTimeline) -> None:
    if wound.verdict is not None:
        show = st.success if wound.verdict.on_track else st.warning
        show(f"4-week verdict (visit {wound.verdict.visit}): {wound.verdict.text}.")
        st.caption(NOTE)


def _charts(visits: list[Visit], days: list[float], burn: bool) -> None:
    with_area = [(v, d) for v, d in zip(visits, days, strict=True) if v.area_cm2 is not None]
    if not with_area:
        st.info("No visit of this wound has an area yet (no score in cm², no ground truth).")
        return
    x_title = "days since injury" if burn else "days since first visit"
    left, right = st.columns(2)
    series = []
    for v, d in with_area:
        series.append(
            {"day": d, "visit": v.visit, "what": "wound", "area": v.area_cm2, "from": v.area_source}
        )
        if v.non_healing_area_cm2 is not None:
            series.append(
                {
                    "day": d,
                    "visit": v.visit,
                    "what": "unlikely to heal within 21 days",
                    "area": v.non_healing_area_cm2,
                    "from": v.area_source,
                }
            )
    area = (
        alt.Chart(alt.Data(values=series))
        .mark_line(point=True)
        .encode(
            x=alt.X("day:Q", title=x_title),
            y=alt.Y("area:Q", title="area (cm²)"),
            color=alt.Color(
                "what:N",
                title=None,
                scale=alt.Scale(
                    domain=["wound", "unlikely to heal within 21 days"],
                    range=["#1f77b4", "#00a5b8"],  # the contour's cyan, darker on white
                ),
                legend=alt.Legend(orient="bottom", labelLimit=320),
            ),
            tooltip=["visit:N", "day:Q", "what:N", "area:Q", "from:N"],
        )
        .properties(title="Area per visit")
    )
    left.altair_chart(area, width="stretch", height=CHART_HEIGHT)
    rows = [
        {"day": d, "visit": v.visit, "par": v.percent_reduction}
        for v, d in with_area
        if v.percent_reduction is not None
    ]
    reference = alt.Data(values=[{"par": VERDICT_REDUCTION_PERCENT, "day": SHEEHAN_DAY}])
    par_chart = (
        alt.Chart(alt.Data(values=rows))
        .mark_line(point=True)
        .encode(
            x=alt.X("day:Q", title=x_title),
            y=alt.Y("par:Q", title="% area reduction from the first visit"),
            tooltip=["visit:N", "day:Q", "par:Q"],
        )
    )
    rule = alt.Chart(reference).mark_rule(color="#e63946", strokeDash=[6, 4]).encode(y="par:Q")
    week4 = alt.Chart(reference).mark_rule(color="#888", strokeDash=[2, 3]).encode(x="day:Q")
    right.altair_chart(
        (par_chart + rule + week4).properties(title="Percent area reduction"),
        width="stretch",
        height=CHART_HEIGHT,
    )
    right.caption(
        "Red dashed: 53 % area reduction at 4 weeks (grey: day 28), the reference of Sheehan et "
        "al. 2003 for diabetic foot ulcers"
        + (" — an ulcer benchmark, shown for scale." if burn else ".")
    )


def _table(visits: list[Visit], days: list[float], burn: bool) -> None:
    st.dataframe(
        {
            "visit": [v.visit for v in visits],
            "days since injury" if burn else "days since first visit": [round(d, 1) for d in days],
            "captured (UTC)": [f"{v.captured_at:%Y-%m-%d %H:%M}" for v in visits],
            "capture": [v.capture_id for v in visits],
            "score": [v.prediction_status or "–" for v in visits],
            "wound area": ["–" if v.area_cm2 is None else f"{v.area_cm2:.2f} cm²" for v in visits],
            "area from": [v.area_source for v in visits],
            "% area reduction": [
                "–" if v.percent_reduction is None else f"{v.percent_reduction:.0f} %"
                for v in visits
            ],
        },
        hide_index=True,
    )


def _maps(visits: list[Visit], days: list[float], model_id: str) -> None:
    scored = [(v, d) for v, d in zip(visits, days, strict=True) if v.prediction_status == "scored"]
    if not scored or model_id == NO_MODEL:
        return
    st.subheader("Predicted healing map per visit")
    opacity = st.slider("Overlay opacity", 0.0, 1.0, 0.5, 0.05, key="tl_opacity")
    columns = st.columns(min(4, len(scored)))
    for i, (visit, day) in enumerate(scored):
        with columns[i % len(columns)]:
            try:
                res = data.result(visit.capture_id, model_id)
                image = data.picture(res, opacity=opacity)
            except WoundError as exc:
                st.warning(f"{visit.capture_id}: {exc}")
                continue
            area = "" if visit.area_cm2 is None else f" · {visit.area_cm2:.2f} cm²"
            if visit.area_cm2 is not None and visit.area_source != "prediction":
                area += f" ({visit.area_source})"
            st.image(image, caption=f"visit {visit.visit} · day {day:g}{area}", width="stretch")
