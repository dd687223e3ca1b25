"""Patient timeline: one wound's captures over time, with whatever visits the store has.

Per visit: the wound area of a model's score, the percent area reduction from the first scored
visit, and the predicted healing map. The 53 %-at-4-weeks line is the reference of Sheehan et
al., Diabetes Care 2003 (diabetic foot ulcers: the percent area reduction at week 4 separated
healers from non-healers; see docs/dashboard.md). Burns are placed by days since injury, other
wounds by days since the first visit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import altair as alt
import streamlit as st

from dashboard import data, services
from wound.errors import RecordNotFoundError, WoundError
from wound.pipeline import score_stored
from wound.scoring import Refusal, WoundScore, parse_score
from wound.store.base import CaptureStore
from wound.store.records import CaptureRecord

SHEEHAN_PAR = 53.0
SHEEHAN_DAY = 28.0
SCAN_LIMIT = 10_000
CHART_HEIGHT = 340


@dataclass(frozen=True)
class Visit:
    """One capture of the wound and its score by the chosen model (None: not scored)."""

    record: CaptureRecord
    day: float
    score: WoundScore | Refusal | None

    @property
    def area(self) -> float | None:
        return self.score.wound_area if isinstance(self.score, WoundScore) else None


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
        records = list(store.iter_captures(subject=subject, wound_id=wound_id))
        models = _models_scoring(store, records)
    if not models:
        models = [m.model_id for m in services.scoring_models(store)]
    model_id = c.selectbox("Model", models or ["(no model)"], key="tl_model")
    visits = _visits(store, records, model_id)
    burn = records[0].wound_type == "burn"
    _score_missing(store, visits, model_id)
    _charts(visits, burn)
    _table(visits, burn)
    _maps(visits, model_id)


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


def _visits(store: CaptureStore, records: list[CaptureRecord], model_id: str) -> list[Visit]:
    first = records[0].captured_at
    visits = []
    for record in records:
        meta = record.header.get("metadata", {})
        day = meta.get("days_since_injury") if record.wound_type == "burn" else None
        if day is None:
            day = meta.get("days_since_first_visit")
        if day is None:
            day = (record.captured_at - first) / timedelta(days=1)
        score: WoundScore | Refusal | None = None
        try:
            prediction, _ = store.get_prediction(record.capture_id, model_id, with_arrays=False)
            score = parse_score(prediction.score, where=f"prediction {record.capture_id}")
        except RecordNotFoundError:
            pass
        except WoundError as exc:
            st.warning(str(exc))
        visits.append(Visit(record, float(day), score))
    return visits


def area_reduction(visits: list[Visit]) -> list[float | None]:
    """Percent area reduction from the first visit with an area (same unit only)."""
    base = next((v for v in visits if v.area), None)
    if base is None:
        return [None] * len(visits)
    assert isinstance(base.score, WoundScore) and base.area is not None
    out: list[float | None] = []
    for v in visits:
        same_unit = isinstance(v.score, WoundScore) and v.score.unit == base.score.unit
        out.append(
            100.0 * (base.area - v.area) / base.area if v.area is not None and same_unit else None
        )
    return out


def _score_missing(store: CaptureStore, visits: list[Visit], model_id: str) -> None:
    missing = [v.record.capture_id for v in visits if v.score is None]
    if not missing or model_id == "(no model)":
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


def _charts(visits: list[Visit], burn: bool) -> None:
    par = area_reduction(visits)
    scored = [(v, p) for v, p in zip(visits, par, strict=True) if v.area is not None]
    if not scored:
        st.info("No visit of this wound has a score yet: no areas to plot.")
        return
    assert isinstance(scored[0][0].score, WoundScore)
    unit = scored[0][0].score.unit.label
    x_title = "days since injury" if burn else "days since first visit"
    rows = [
        {"day": v.day, "area": v.area, "par": p, "visit": _visit_no(v, i)}
        for i, (v, p) in enumerate(scored)
    ]
    left, right = st.columns(2)
    series = []
    for i, (v, _) in enumerate(scored):
        assert isinstance(v.score, WoundScore)
        series.append({"day": v.day, "visit": _visit_no(v, i), "what": "wound", "area": v.area})
        if v.score.non_healing_area is not None:
            series.append(
                {
                    "day": v.day,
                    "visit": _visit_no(v, i),
                    "what": "unlikely to heal within 21 days",
                    "area": v.score.non_healing_area,
                }
            )
    area = (
        alt.Chart(alt.Data(values=series))
        .mark_line(point=True)
        .encode(
            x=alt.X("day:Q", title=x_title),
            y=alt.Y("area:Q", title=f"area ({unit})"),
            color=alt.Color(
                "what:N",
                title=None,
                scale=alt.Scale(
                    domain=["wound", "unlikely to heal within 21 days"],
                    range=["#1f77b4", "#00a5b8"],  # the contour's cyan, darker on white
                ),
                legend=alt.Legend(orient="bottom", labelLimit=320),
            ),
            tooltip=["visit:N", "day:Q", "what:N", "area:Q"],
        )
        .properties(title="Area per visit")
    )
    left.altair_chart(area, width="stretch", height=CHART_HEIGHT)
    reference = alt.Data(values=[{"par": SHEEHAN_PAR, "day": SHEEHAN_DAY}])
    par_chart = (
        alt.Chart(alt.Data(values=[r for r in rows if r["par"] is not None]))
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


def _visit_no(visit: Visit, i: int) -> int:
    return int(visit.record.header.get("metadata", {}).get("visit") or i + 1)


def _table(visits: list[Visit], burn: bool) -> None:
    par = area_reduction(visits)
    st.dataframe(
        {
            "visit": [_visit_no(v, i) for i, v in enumerate(visits)],
            "days since injury" if burn else "days since first visit": [
                round(v.day, 1) for v in visits
            ],
            "captured (UTC)": [f"{v.record.captured_at:%Y-%m-%d %H:%M}" for v in visits],
            "capture": [v.record.capture_id for v in visits],
            "wound area": [
                "refused"
                if isinstance(v.score, Refusal)
                else "–"
                if v.score is None
                else f"{v.score.wound_area:.2f} {v.score.unit.label}"
                for v in visits
            ],
            "% area reduction": ["–" if p is None else f"{p:.0f} %" for p in par],
        },
        hide_index=True,
    )


def _maps(visits: list[Visit], model_id: str) -> None:
    scored = [v for v in visits if isinstance(v.score, WoundScore)]
    if not scored:
        return
    st.subheader("Predicted healing map per visit")
    opacity = st.slider("Overlay opacity", 0.0, 1.0, 0.5, 0.05, key="tl_opacity")
    columns = st.columns(min(4, len(scored)))
    for i, visit in enumerate(scored):
        with columns[i % len(columns)]:
            try:
                res = data.result(visit.record.capture_id, model_id)
                image = data.picture(res, opacity=opacity)
            except WoundError as exc:
                st.warning(f"{visit.record.capture_id}: {exc}")
                continue
            assert isinstance(visit.score, WoundScore)
            st.image(
                image,
                caption=f"visit {_visit_no(visit, visits.index(visit))} · day {visit.day:g} · "
                f"{visit.score.wound_area:.2f} {visit.score.unit.label}",
                width="stretch",
            )
