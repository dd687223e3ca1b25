"""The multispectral burn phantom: tissue optics, burn lesions and synthetic captures."""

from wound.phantom.lesions import CLASS_PRESETS, PRESET_DEPTH, TissueProperties
from wound.phantom.optics import hemoglobin_extinction, tissue_reflectance
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
    "tissue_reflectance",
]
