"""A patient's wounds over time: every visit's area, its change and the 4-week verdict.

:func:`wound_timeline` is the one place this is computed; ``wound timeline`` and the
dashboard's timeline page render what it returns (docs/longitudinal.md).

Per visit (one stored capture, in time order): the wound area in cm², taken from the latest
stored prediction whose score gives the area in cm², else from the capture's ground-truth wound
mask (or its burn-depth classes), and ``area_source`` says which; the percent reduction from
the first visit; the predicted healing probability when a stored score holds one (its
``healing_probability`` in [0, 1], from the newest score that has one). With ``model_id`` only
that model's stored predictions are read (the dashboard shows one model's scores). Once a visit of a
non-burn wound is at least four weeks after the first, the wound gets the 4-week verdict: an
area reduction of at least 53 % is on track to heal by week 12, less is not (Sheehan et al.,
Diabetes Care 2003). An aid to the clinician.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from wound.capture import GroundTruth
from wound.errors import RecordNotFoundError, StoreError
from wound.pseudonym import pseudonymise, pseudonymise_wound
from wound.scoring import AreaUnit, WoundScore, parse_score
from wound.store.base import CaptureStore
from wound.store.records import CaptureRecord, PredictionRecord
from wound.taxonomy import WOUND_CLASSES

#: Sheehan 2003: the midpoint of 4-week percent area reduction between healers and non-healers.
VERDICT_REDUCTION_PERCENT = 53.0
#: The verdict is given at the first visit this many days after the first (4 weeks, one day's
#: scheduling slack).
VERDICT_DAY = 27.0
NOTE = (
    "An aid to the clinician. The 4-week verdict is the 53 % area-reduction rule for diabetic "
    "foot ulcers (Sheehan et al. 2003), not a diagnosis."
)
AreaSource = Literal["prediction", "ground truth", "unknown"]


class Visit(BaseModel):
    """One capture of the wound."""

    model_config = ConfigDict(frozen=True)

    visit: int  # 1 = first capture of this wound in the store
    capture_id: str
    captured_at: datetime
    days_since_first_visit: float
    area_cm2: float | None
    area_source: AreaSource
    model_id: str | None = None  # the prediction the area (or probability) came from
    prediction_status: Literal["scored", "refused"] | None = None  # latest stored prediction
    percent_reduction: float | None = None  # from the first visit; negative when it grew
    healing_probability: float | None = None
    non_healing_area_cm2: float | None = None  # of the score that gave the area


class Verdict(BaseModel):
    """The 4-week verdict (Sheehan 2003) at the first visit at least four weeks in."""

    model_config = ConfigDict(frozen=True)

    visit: int
    days_since_first_visit: float
    percent_reduction: float
    threshold_percent: float = VERDICT_REDUCTION_PERCENT
    on_track: bool
    text: str


class WoundTimeline(BaseModel):
    """One wound of the subject, visit by visit."""

    model_config = ConfigDict(frozen=True)

    wound_id: str
    wound_type: str
    visits: list[Visit]
    verdict: Verdict | None = None


class Timeline(BaseModel):
    """Every wound of one (pseudonymised) subject."""

    model_config = ConfigDict(frozen=True)

    subject: str
    wounds: list[WoundTimeline]
    note: str = NOTE


def wound_timeline(
    store: CaptureStore,
    subject: str,
    wound: str | None = None,
    *,
    pseudonym_key: bytes | None = None,
    model_id: str | None = None,
) -> Timeline:
    """The timeline of ``subject``'s wounds (only ``wound`` when given).

    ``subject`` and ``wound`` are the pseudonyms stored on the captures; with ``pseudonym_key``
    they may also be the raw ids given at ingest (pseudonymised the same way, as
    :mod:`wound.pseudonym` does at ingest; pseudonyms pass through). ``model_id`` reads only
    that model's stored predictions (None: the newest of any model). Raises
    :class:`~wound.errors.RecordNotFoundError` when the store has no such capture and
    ``ValueError`` for an id that cannot be one (empty, control characters).
    """
    pseudonym = subject
    if pseudonym_key is not None:
        pseudonym = pseudonymise(subject, pseudonym_key)
        if wound is not None:
            wound = pseudonymise_wound(wound, pseudonym, pseudonym_key)
    filters = {"subject": pseudonym} | ({"wound_id": wound} if wound is not None else {})
    by_wound: dict[str, list[CaptureRecord]] = {}
    for record in store.iter_captures(**filters):
        by_wound.setdefault(record.wound_id, []).append(record)
    if not by_wound:
        what = f"subject {pseudonym}" + (f", wound {wound}" if wound is not None else "")
        raise RecordNotFoundError(f"no captures of {what}")
    wounds = [
        _wound(
            store,
            wound_id,
            sorted(records, key=lambda r: (r.captured_at, r.capture_id)),
            model_id,
        )
        for wound_id, records in sorted(by_wound.items())
    ]
    return Timeline(subject=pseudonym, wounds=wounds)


def _wound(
    store: CaptureStore, wound_id: str, records: list[CaptureRecord], model_id: str | None
) -> WoundTimeline:
    first = records[0].captured_at
    visits: list[Visit] = []
    for number, record in enumerate(records, start=1):
        days = round((record.captured_at - first).total_seconds() / 86400.0, 3)
        visit = _visit(store, record, number, days, model_id)
        if visits and visits[0].area_cm2 and visit.area_cm2 is not None:
            change = 100.0 * (1.0 - visit.area_cm2 / visits[0].area_cm2)
            visit = visit.model_copy(update={"percent_reduction": round(change, 1)})
        elif number == 1 and visit.area_cm2:
            visit = visit.model_copy(update={"percent_reduction": 0.0})
        visits.append(visit)
    wound_type = records[0].wound_type
    verdict = None if wound_type == "burn" else _verdict(visits)
    return WoundTimeline(wound_id=wound_id, wound_type=wound_type, visits=visits, verdict=verdict)


def _verdict(visits: list[Visit]) -> Verdict | None:
    for v in visits:
        if v.days_since_first_visit >= VERDICT_DAY and v.percent_reduction is not None:
            on_track = v.percent_reduction >= VERDICT_REDUCTION_PERCENT
            text = (
                f"area reduced {v.percent_reduction:.0f} % at week "
                f"{v.days_since_first_visit / 7:.0f}: "
                + (
                    "on track to heal by week 12 (≥ 53 %)"
                    if on_track
                    else "unlikely to heal by week 12 with the current care (< 53 %)"
                )
            )
            return Verdict(
                visit=v.visit,
                days_since_first_visit=v.days_since_first_visit,
                percent_reduction=v.percent_reduction,
                on_track=on_track,
                text=text,
            )
    return None


def _visit(
    store: CaptureStore, record: CaptureRecord, number: int, days: float, model_id: str | None
) -> Visit:
    predictions = sorted(
        (
            p
            for p in store.list_predictions(record.capture_id)
            if model_id is None or p.model_id == model_id
        ),
        key=lambda p: p.created_at,
        reverse=True,
    )
    area: float | None = None
    source: AreaSource = "unknown"
    area_model: str | None = None
    non_healing: float | None = None
    probability: float | None = None
    probability_model: str | None = None
    for prediction in predictions:
        score = _score(prediction)
        if score is None:
            continue
        if area is None and score.unit is AreaUnit.CM2:
            area, source, area_model = float(score.wound_area), "prediction", prediction.model_id
            non_healing = score.non_healing_area
        # Read from the stored JSON, so a score type that adds the field is read as it is.
        value = prediction.score.get("healing_probability")
        if probability is None and isinstance(value, int | float) and 0 <= value <= 1:
            probability, probability_model = float(value), prediction.model_id
    if area is None:
        area = _truth_area(store, record)
        source = "unknown" if area is None else "ground truth"
    return Visit(
        visit=number,
        capture_id=record.capture_id,
        captured_at=record.captured_at,
        days_since_first_visit=days,
        area_cm2=None if area is None else round(area, 3),
        area_source=source,
        model_id=area_model or probability_model,
        prediction_status=predictions[0].status if predictions else None,
        healing_probability=probability,
        non_healing_area_cm2=None if non_healing is None else round(non_healing, 3),
    )


def _score(prediction: PredictionRecord) -> WoundScore | None:
    """The stored score when it is a score (not a refusal) that can be read."""
    if prediction.status != "scored":
        return None
    try:
        score = parse_score(prediction.score, where=f"prediction {prediction.model_id}")
    except StoreError:
        return None
    return score if isinstance(score, WoundScore) else None


def _truth_area(store: CaptureStore, record: CaptureRecord) -> float | None:
    """Wound area (cm²) from the stored ground truth: the wound mask, else burn classes."""
    if record.truth is None or not record.spacing_mm:
        return None
    truth: GroundTruth | None = store.get_capture(record.capture_id).truth
    if truth is None:
        return None
    if truth.wound_mask is not None:
        pixels = int(np.count_nonzero(truth.wound_mask))
    elif truth.depth is not None:
        pixels = int(np.isin(truth.depth, WOUND_CLASSES).sum())
    else:
        return None
    return pixels * record.spacing_mm**2 / 100.0
