"""The wound score (areas by depth class, area unlikely to heal, indeterminate area) and the
refusal stored instead when a capture fails the input-quality gate: one typed union, :data:`Score`.

Stored as the prediction record's ``score`` (plain JSON); every reader turns it back into a
:data:`Score` with :func:`parse_score`, which also reads records written before the ``kind``
discriminator existed. Reports for people: :mod:`wound.score_format`.

Definitions (pixel counts; areas are ``pixels * spacing_mm**2 / 100`` in cm² when the pixel
spacing is known, else pixels, and ``unit`` (:class:`AreaUnit`) says which):

- wound: pixels whose depth class is a burn class (2-5, :data:`wound.taxonomy.WOUND_CLASSES`);
  for a wound-mask model, pixels labelled wound.
- per depth class: area and share of the wound area (shares of classes 2-5 sum to 1).
- unlikely to heal within 21 days ("non-healing"): wound pixels whose (calibrated) healing
  probability is below the model's saved operating point (``Prediction.healing_threshold``,
  :class:`wound.calibration.Calibration`; :data:`HEALING_THRESHOLD` = 0.5 for models saved
  without one); its outline as polygons (:mod:`wound.contour`).
- indeterminate: wound pixels whose uncertainty (:mod:`wound.predict`: the model's probability
  that the pixel's reading is wrong) is above the model's saved threshold, chosen on its
  calibration split (``Prediction.uncertainty_threshold``; :data:`INDETERMINATE_THRESHOLD` = 0.5
  without one).
- healing probability (``ulcer-healing`` models): the capture-level probability that the ulcer
  shrinks by >= 50 % in 4 weeks, read from the viability map around the predicted bed
  (:mod:`wound.outcome`), and the model's operating point on it; None for other models.

An aid to the clinician; the non-healing contour is not an excision margin.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Discriminator, Tag, TypeAdapter, ValidationError

from wound.contour import Contour, mask_contours
from wound.errors import StoreError
from wound.tasks import get_task

if TYPE_CHECKING:  # readers of stored scores need neither torch nor the quality gate
    from wound.predict import Prediction
    from wound.quality import QualityVerdict

HEALING_THRESHOLD = 0.5
INDETERMINATE_THRESHOLD = 0.5
DISCLAIMER = "An aid to the clinician; the non-healing contour is not an excision margin."
REFUSAL_NOTE = "No score: the capture failed the input-quality gate. Retake the image."


class AreaUnit(StrEnum):
    """The unit of every area in a score: cm² when the pixel spacing is known, else pixels."""

    CM2 = "cm2"
    PX = "px"

    @property
    def label(self) -> str:
        """Short label after a number: ``cm²`` or ``px``."""
        return "cm²" if self is AreaUnit.CM2 else "px"

    @property
    def description(self) -> str:
        """Label that says why pixels: ``cm²`` or ``px (pixel spacing unknown)``."""
        return self.label if self is AreaUnit.CM2 else "px (pixel spacing unknown)"

    @classmethod
    def for_spacing(cls, spacing_mm: float | None) -> AreaUnit:
        return cls.CM2 if spacing_mm else cls.PX


class ClassArea(BaseModel):
    model_config = ConfigDict(frozen=True)

    class_id: int
    name: str
    pixels: int
    area: float
    share: float  # of the wound area


class WoundScore(BaseModel):
    """What the clinician sees; stored as the prediction record's ``score``."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["score"] = "score"
    refused: Literal[False] = False  # kept for readers of records written before ``kind``
    capture_id: str
    task: str
    model_id: str
    model_version: str
    unit: AreaUnit
    spacing_mm: float | None
    pixel_area: float
    shape: tuple[int, int]
    wound_pixels: int
    wound_area: float
    classes: list[ClassArea]
    non_healing_pixels: int | None
    non_healing_area: float | None
    non_healing_share: float | None
    non_healing_contours: list[Contour]
    indeterminate_pixels: int
    indeterminate_area: float
    indeterminate_share: float
    healing_threshold: float = HEALING_THRESHOLD
    uncertainty_threshold: float = INDETERMINATE_THRESHOLD
    healing_probability: float | None = None  # capture level (wound.outcome); ulcer models
    healing_probability_threshold: float | None = None
    quality_flags: list[str] = []
    quality_metrics: dict[str, Any] = {}
    timings_ms: dict[str, float] = {}
    provenance: dict[str, Any] = {}
    note: str = DISCLAIMER


class Refusal(BaseModel):
    """No score: the capture failed the input-quality gate; the reasons say why."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["refusal"] = "refusal"
    refused: Literal[True] = True
    capture_id: str
    model_id: str
    model_version: str = ""
    reasons: list[str]
    codes: list[str] = []
    quality_metrics: dict[str, Any] = {}
    timings_ms: dict[str, float] = {}
    provenance: dict[str, Any] = {}
    note: str = REFUSAL_NOTE


def _score_kind(value: Any) -> str:
    """The union's tag; records stored before ``kind`` existed say ``refused`` instead."""
    if isinstance(value, BaseModel):
        return str(getattr(value, "kind", "score"))
    if isinstance(value, Mapping):
        kind = value.get("kind")
        if kind is not None:
            return str(kind)
        return "refusal" if value.get("refused") else "score"
    return "score"


#: A prediction's score: a :class:`WoundScore` or a :class:`Refusal`, told apart by ``kind``.
Score = Annotated[
    Annotated[WoundScore, Tag("score")] | Annotated[Refusal, Tag("refusal")],
    Discriminator(_score_kind),
]
SCORE_ADAPTER: TypeAdapter[WoundScore | Refusal] = TypeAdapter(Score)


def parse_score(data: Mapping[str, Any] | WoundScore | Refusal, *, where: str = "score") -> Score:
    """A stored score (JSON dict, old or new shape) as a typed :data:`Score`.

    Raises :class:`~wound.errors.StoreError` naming ``where`` and the first problem.
    """
    if isinstance(data, WoundScore | Refusal):
        return data
    try:
        return SCORE_ADAPTER.validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "(root)"
        raise StoreError(
            f"{where}: not a wound score or refusal ({field}: {first['msg']})"
        ) from exc


def score_prediction(
    prediction: Prediction,
    *,
    capture_id: str,
    spacing_mm: float | None,
    quality: QualityVerdict | None = None,
    timings_ms: dict[str, float] | None = None,
    provenance: dict[str, Any] | None = None,
) -> WoundScore:
    """Turn per-pixel maps into the wound score (definitions in the module docstring)."""
    pixel_area = spacing_mm**2 / 100.0 if spacing_mm else 1.0
    unit = AreaUnit.for_spacing(spacing_mm)
    wound = prediction.wound_mask
    n_wound = int(wound.sum())

    def share(n: int) -> float:
        return n / n_wound if n_wound else 0.0

    classes: list[ClassArea] = []
    spec = get_task(prediction.task)
    if len(spec.wound_classes) > 1:  # a breakdown by wound class (burn depth)
        counts = np.bincount(prediction.labels.ravel(), minlength=256)
        for cid in spec.wound_classes:
            n = int(counts[cid])
            classes.append(
                ClassArea(
                    class_id=cid,
                    name=spec.class_names[cid],
                    pixels=n,
                    area=n * pixel_area,
                    share=share(n),
                )
            )
    nh_px: int | None = None
    contours: list[Contour] = []
    if prediction.healing_prob is not None:
        non_healing = wound & (prediction.healing_prob < prediction.healing_threshold)
        nh_px = int(non_healing.sum())
        contours = mask_contours(non_healing, spacing_mm=spacing_mm)
    ind_px = int((wound & (prediction.uncertainty > prediction.uncertainty_threshold)).sum())
    outcome = prediction.outcome
    probability = None
    if outcome is not None and prediction.healing_prob is not None:
        probability = round(outcome.predict(prediction.healing_prob, wound, spacing_mm), 4)
    h, w = prediction.labels.shape
    return WoundScore(
        capture_id=capture_id,
        task=prediction.task,
        model_id=prediction.model_id,
        model_version=prediction.model_version,
        unit=unit,
        spacing_mm=spacing_mm,
        pixel_area=pixel_area,
        shape=(h, w),
        wound_pixels=n_wound,
        wound_area=n_wound * pixel_area,
        classes=classes,
        non_healing_pixels=nh_px,
        non_healing_area=None if nh_px is None else nh_px * pixel_area,
        non_healing_share=None if nh_px is None else share(nh_px),
        non_healing_contours=contours,
        indeterminate_pixels=ind_px,
        indeterminate_area=ind_px * pixel_area,
        indeterminate_share=share(ind_px),
        healing_threshold=prediction.healing_threshold,
        uncertainty_threshold=prediction.uncertainty_threshold,
        healing_probability=probability,
        healing_probability_threshold=None if outcome is None else outcome.threshold,
        quality_flags=[f.message for f in quality.flags] if quality else [],
        quality_metrics=dict(quality.metrics) if quality else {},
        timings_ms={k: round(v, 2) for k, v in (timings_ms or prediction.timings_ms).items()},
        provenance=provenance or {},
    )


def refusal_score(
    capture_id: str,
    verdict: QualityVerdict,
    *,
    model_id: str,
    model_version: str = "",
    timings_ms: dict[str, float] | None = None,
    provenance: dict[str, Any] | None = None,
) -> Refusal:
    """The score stored for a refused capture: the gate's reasons and codes, no areas."""
    return Refusal(
        capture_id=capture_id,
        model_id=model_id,
        model_version=model_version,
        reasons=verdict.reason_messages,
        codes=[r.code for r in verdict.reasons],
        quality_metrics=dict(verdict.metrics),
        timings_ms={k: round(v, 2) for k, v in (timings_ms or {}).items()},
        provenance=provenance or {},
    )


__all__ = [
    "DISCLAIMER",
    "HEALING_THRESHOLD",
    "INDETERMINATE_THRESHOLD",
    "REFUSAL_NOTE",
    "SCORE_ADAPTER",
    "AreaUnit",
    "ClassArea",
    "Refusal",
    "Score",
    "WoundScore",
    "parse_score",
    "refusal_score",
    "score_prediction",
]
