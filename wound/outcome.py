"""A capture-level healing outcome read from a model's viability map (``ulcer-healing``).

Will this diabetic foot ulcer shrink by at least half in four weeks? The ``ulcer-healing``
network (:mod:`wound.tasks`) maps, per pixel, the ulcer bed and whether the tissue looks viable.
The capture-level answer pools that map over the periwound ring, the skin within
:data:`PERIWOUND_MM` of the predicted bed's edge (where hyperspectral oximetry separated healers
from non-healers at the first visit; docs/longitudinal.md), into three numbers
(:data:`FEATURES`): the ring's mean viability logit, its least viable tenth (10th percentile
logit) and, as the subject's own reference, the mean logit of the foot beyond the ring (the
next :data:`PERIWOUND_MM`), so that the read-out can weigh the periwound deficit against the
subject's own skin rather than against a population (skin tone, the foot's own supply).
A logistic regression fitted on the training subjects' first visits turns them into the
probability of >= 50 % area reduction at 4 weeks; a temperature and the operating point are fitted
on a calibration split of training subjects (:mod:`training.ulcer_outcome`). Both are saved with the
model (:class:`HealingOutcome`, ``ModelInfo.outcome``) and the score stores the probability
(``WoundScore.healing_probability``), which ``wound timeline`` shows.

An aid to the clinician, not a diagnosis; it does not replace the 4-week area check.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from scipy import ndimage

#: Responder: at least this percent area reduction at 4 weeks (Sheehan 2003's ~50 % split).
RESPONDER_REDUCTION_PERCENT = 50.0
#: Width (mm) of the periwound ring read around the predicted bed.
PERIWOUND_MM = 10.0
#: Pixel size assumed when a capture has none (the phantom's 0.5 mm).
DEFAULT_SPACING_MM = 0.5
#: What :func:`periwound_features` returns, in order.
FEATURES = ("periwound_mean_logit", "periwound_low_logit", "surround_mean_logit")
_EPS = 1e-4


def responder(percent_area_reduction_4w: float | None) -> bool | None:
    """Whether an ulcer reached the responder threshold at 4 weeks (None when unknown)."""
    if percent_area_reduction_4w is None:
        return None
    return float(percent_area_reduction_4w) >= RESPONDER_REDUCTION_PERCENT


def periwound_ring(
    wound: np.ndarray,
    spacing_mm: float | None,
    *,
    width_mm: float = PERIWOUND_MM,
    inner_mm: float = 0.0,
) -> np.ndarray:
    """Pixels outside ``wound`` more than ``inner_mm`` and at most ``width_mm`` from it (the
    whole image when no bed is seen)."""
    wound = np.asarray(wound, dtype=bool)
    if not wound.any():
        return np.ones(wound.shape, dtype=bool)
    distance = ndimage.distance_transform_edt(~wound) * (spacing_mm or DEFAULT_SPACING_MM)
    return (~wound) & (distance > inner_mm) & (distance <= width_mm)


def periwound_features(
    viable_prob: np.ndarray, wound: np.ndarray, spacing_mm: float | None
) -> np.ndarray:
    """:data:`FEATURES` of one capture (float64, shape (3,)): over the periwound ring the mean
    and the 10th percentile of the viability logit, and the mean logit of the surround (the
    next :data:`PERIWOUND_MM` beyond the ring; the ring's mean when the image ends first)."""
    prob = np.clip(np.asarray(viable_prob, dtype=np.float64), _EPS, 1 - _EPS)
    logit = np.log(prob / (1 - prob))
    ring = logit[periwound_ring(wound, spacing_mm)]
    beyond = logit[
        periwound_ring(wound, spacing_mm, inner_mm=PERIWOUND_MM, width_mm=2 * PERIWOUND_MM)
    ]
    surround = float(beyond.mean()) if beyond.size else float(ring.mean())
    return np.array([float(ring.mean()), float(np.percentile(ring, 10)), surround])


class HealingOutcome(BaseModel):
    """The saved read-out: standardised :data:`FEATURES` -> logistic -> probability; ``threshold``
    is the operating point (probability at or above it: "likely to reach >= 50 % at 4 weeks")."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    outcome: str = "percent area reduction at 4 weeks >= 50 %"
    features: tuple[str, ...] = FEATURES
    feature_mean: tuple[float, ...]
    feature_scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    temperature: float = Field(1.0, gt=0, description="The logit is divided by it (calibration).")
    threshold: float = Field(0.5, gt=0, lt=1)
    rule: str = Field("none: fixed 0.5", description="How the operating point was chosen.")
    fitted_on: dict[str, Any] = Field(default_factory=dict)

    def logit(self, features: Sequence[float] | np.ndarray) -> float:
        """The calibrated logit: ``(coef . standardised features + intercept) / temperature``."""
        x = np.asarray(features, dtype=np.float64)
        if x.shape != (len(self.features),):
            raise ValueError(f"expected {len(self.features)} features, got shape {x.shape}")
        z = (x - np.asarray(self.feature_mean)) / np.asarray(self.feature_scale)
        return float(np.dot(np.asarray(self.coef), z) + self.intercept) / self.temperature

    def probability(self, features: Sequence[float] | np.ndarray) -> float:
        """The probability of the outcome for one capture's :data:`FEATURES`."""
        logit = self.logit(features)
        return float(1.0 / (1.0 + np.exp(-np.clip(logit, -50.0, 50.0))))

    def predict(
        self, viable_prob: np.ndarray, wound: np.ndarray, spacing_mm: float | None
    ) -> float:
        """The probability for one capture's viability map and predicted bed."""
        return self.probability(periwound_features(viable_prob, wound, spacing_mm))
