"""The multispectral phantom: tissue optics, burns, foot ulcers, captures and wound series."""

from wound.phantom.lesions import CLASS_PRESETS, PRESET_DEPTH, TissueProperties
from wound.phantom.optics import hemoglobin_extinction, tissue_reflectance
from wound.phantom.series import synth_series, visit_days
from wound.phantom.synth import (
    DEFAULT_WAVELENGTHS_NM,
    PhantomConfig,
    phantom_capture_id,
    synth_capture,
    synth_cohort,
)

__all__ = [
    "CLASS_PRESETS",
    "DEFAULT_WAVELENGTHS_NM",
    "PRESET_DEPTH",
    "PhantomConfig",
    "TissueProperties",
    "hemoglobin_extinction",
    "phantom_capture_id",
    "synth_capture",
    "synth_cohort",
    "synth_series",
    "tissue_reflectance",
    "visit_days",
]
