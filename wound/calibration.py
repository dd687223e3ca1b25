"""A model's calibration: temperatures, the healing operating point and the indeterminate threshold.

Fitted after training on a calibration split of subjects held out from the training subjects
(never the evaluation subjects) by :mod:`training.calibration`, saved in the model's
:class:`~wound.networks.ModelInfo` (``calibration``) and applied by the one predictor
(:class:`wound.predict.Predictor`) and the score (:mod:`wound.scoring`). Models registered
before calibration existed read as :data:`UNCALIBRATED` (temperatures 1, threshold 0.5,
indeterminate above 0.5). Method and rules: docs/calibration.md.

- ``healing_temperature`` T: the healing probability is ``sigmoid(logit / T)`` (temperature
  scaling, Guo et al. 2017); ``class_temperature`` likewise divides the class logits before the
  softmax.
- ``healing_threshold``: the operating point; a wound pixel whose calibrated healing probability
  is below it is "unlikely to heal within 21 days".
- ``wound_threshold`` (optional): a pixel is called wound when its wound classes' summed
  probability is above it, and gets the most probable class of its side; None: plain argmax.
- ``uncertainty_threshold``: a wound pixel whose uncertainty (:func:`error_probability`, the
  model's own estimate that the pixel's reading is wrong) is above it is "indeterminate".
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["UNCALIBRATED", "Calibration"]


class Calibration(BaseModel):
    """Saved with a model; the defaults are an uncalibrated model's (module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    healing_temperature: float = Field(1.0, gt=0)
    class_temperature: float = Field(1.0, gt=0)
    healing_threshold: float = Field(0.5, gt=0, lt=1)
    uncertainty_threshold: float = Field(0.5, gt=0, le=1)
    wound_threshold: float | None = Field(
        None,
        gt=0,
        lt=1,
        description="Wound call: summed wound-class probability above it "
        "(the most probable wound class then); None: the most probable class (argmax).",
    )
    rule: str = Field("none: fixed 0.5", description="How the operating point was chosen.")
    uncertainty_rule: str = Field(
        "none: fixed 0.5", description="How the indeterminate threshold was chosen."
    )
    fitted_on: dict[str, Any] = Field(
        default_factory=dict, description="Calibration split: captures, subjects, pixels, ECE."
    )

    @property
    def is_fitted(self) -> bool:
        return bool(self.fitted_on)


UNCALIBRATED = Calibration()
