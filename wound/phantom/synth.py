"""Synthetic multispectral burn captures with per-pixel truth (what ``wound synth`` writes).

A cohort is ``subjects x captures_per_subject`` captures. Each subject has a skin type
(Fitzpatrick I-VI and an epidermal melanosome volume fraction, Jacques 1998: light skin
~1.3-6.3 %, darker skin up to ~43 %; we draw ~1.5-24 %), an anatomical site and one burn;
its captures show that burn on days 1-5 after injury from slightly different camera poses.
Everything is reproducible from ``seed`` (numpy ``Generator`` seeded from
``[seed, subject, capture, purpose]``; no global random state).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from wound.capture import Capture, CaptureMetadata, GroundTruth, ReferenceData
from wound.phantom import acquisition
from wound.phantom.lesions import (
    LesionFields,
    depth_classes,
    healing_map,
    make_lesion,
    pose_coordinates,
    tissue_maps,
)
from wound.phantom.optics import WAVELENGTH_RANGE_NM, tissue_reflectance
from wound.taxonomy import DEPTH_NAMES, DepthClass

#: Bands of multispectral burn imaging (docs/references.md): 420 ... 855 nm.
DEFAULT_WAVELENGTHS_NM: tuple[float, ...] = (420.0, 525.0, 581.0, 620.0, 660.0, 726.0, 820.0, 855.0)
#: Typical epidermal melanosome volume fraction per Fitzpatrick skin type.
FITZPATRICK_MELANIN: dict[int, float] = {1: 0.015, 2: 0.03, 3: 0.06, 4: 0.10, 5: 0.16, 6: 0.24}
ANATOMICAL_SITES: tuple[str, ...] = (
    "forearm",
    "hand dorsum",
    "upper arm",
    "chest",
    "abdomen",
    "back",
    "thigh",
    "lower leg",
)
_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
_SUBJECT, _CAPTURE = 1, 2  # purpose tags of the random streams


class PhantomConfig(BaseModel):
    """Image geometry, bands and acquisition nuisances of the phantom."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    wavelengths_nm: tuple[float, ...] = Field(DEFAULT_WAVELENGTHS_NM, min_length=1)
    height: int = Field(256, ge=16, le=4096)
    width: int = Field(256, ge=16, le=4096)
    spacing_mm: float = Field(0.5, gt=0, lt=100, description="Pixel size (~0.5 mm at ~40 cm).")
    photons: float = Field(
        600.0, ge=0, description="Shot-noise electrons at reflectance 1; 0 = off."
    )
    read_noise: float = Field(0.005, ge=0, le=0.5, description="Read noise, reflectance units.")
    illumination_falloff: float = Field(0.35, ge=0, lt=1, description="Vignetting depth.")
    exposure_jitter: float = Field(0.12, ge=0, lt=0.5, description="Capture-to-capture gain.")
    glare_spots: int = Field(3, ge=0, le=50, description="At most this many specular spots.")
    glare_strength: float = Field(0.6, ge=0, le=2)
    misregistration_px: float = Field(0.8, ge=0, le=5, description="Max band-to-band shift.")
    micro_variation: float = Field(0.10, ge=0, le=1, description="Pixel-scale tissue variation.")
    id_prefix: str = Field("phantom", pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")

    @field_validator("wavelengths_nm")
    @classmethod
    def _bands(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        lo, hi = WAVELENGTH_RANGE_NM
        if any(not lo <= x <= hi for x in v):
            raise ValueError(f"phantom bands must lie within {lo:g}-{hi:g} nm, got {list(v)}")
        if any(b <= a for a, b in pairwise(v)):
            raise ValueError(f"wavelengths must be strictly increasing, got {list(v)}")
        return v


@dataclass(frozen=True)
class Subject:
    """What stays the same across one subject's captures."""

    index: int
    fitzpatrick: int
    melanin_fraction: float
    anatomical_site: str
    injured_at: datetime
    lesion: LesionFields  # on a canvas larger than the frame, so poses stay inside it


def _rng(seed: int, subject: int, capture: int, purpose: int) -> np.random.Generator:
    return np.random.default_rng([seed, subject, capture, purpose])


def _check(**values: int) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")


def draw_skin(rng: np.random.Generator) -> tuple[int, float]:
    """A Fitzpatrick skin type and its epidermal melanosome volume fraction."""
    fitzpatrick = int(rng.integers(1, 7))
    melanin = float(np.clip(FITZPATRICK_MELANIN[fitzpatrick] * np.exp(rng.normal(0, 0.12)), 0, 1))
    return fitzpatrick, round(melanin, 4)


def make_subject(
    seed: int, subject_index: int, config: PhantomConfig, *, stream: int = _SUBJECT
) -> Subject:
    """Draw one subject: skin type, site, injury time and burn (``stream``: which cohort)."""
    rng = _rng(seed, subject_index, 0, stream)
    fitzpatrick, melanin = draw_skin(rng)
    site = str(rng.choice(ANATOMICAL_SITES))
    injured_at = _EPOCH + timedelta(
        days=int(rng.integers(0, 365)), minutes=int(rng.integers(6 * 60, 22 * 60))
    )
    pad = round(0.12 * max(config.height, config.width))
    lesion = make_lesion(rng, (config.height + 2 * pad, config.width + 2 * pad))
    return Subject(subject_index, fitzpatrick, melanin, site, injured_at, lesion)


def _clinician(rng: np.random.Generator, deepest: int, days: float, area_cm2: float) -> str:
    """A bedside impression; visual depth assessment is ~50-76 % accurate (docs/references.md)."""
    guess = deepest
    if deepest >= DepthClass.SUPERFICIAL and rng.random() > 0.65:
        guess = int(np.clip(deepest + rng.choice([-1, 1]), DepthClass.SUPERFICIAL, 5))
    if deepest < DepthClass.SUPERFICIAL:
        return f"day {days:g}: no burn seen in this view"
    return (
        f"day {days:g}: burn of about {area_cm2:.0f} cm2, deepest area looks {DEPTH_NAMES[guess]}"
    )


def render_capture(
    subject: Subject, *, seed: int, capture_index: int, config: PhantomConfig
) -> Capture:
    """One capture of ``subject`` (see :func:`synth_capture`)."""
    rng = _rng(seed, subject.index, capture_index, _CAPTURE)
    shape = (config.height, config.width)
    wavelengths = np.asarray(config.wavelengths_nm, dtype=np.float64)
    days = float(1 + capture_index % 5)

    canvas = subject.lesion.depth.shape
    lesion = subject.lesion.warped(pose_coordinates(rng, (canvas[0], canvas[1]), shape))
    classes = depth_classes(lesion)
    healing = healing_map(lesion, classes)
    params = tissue_maps(
        lesion,
        melanin_fraction=subject.melanin_fraction,
        days_since_injury=days,
        rng=rng,
        micro_variation=config.micro_variation,
    )
    skin = tissue_reflectance(
        wavelengths,
        blood_fraction=params["blood_fraction"],
        saturation=params["saturation"],
        melanin_fraction=params["melanin_fraction"],
        water_fraction=params["water_fraction"],
        scatter_a=params["scatter_a"],
        scatter_b=params["scatter_b"],
        eschar_fraction=params["eschar_fraction"],
    ).astype(np.float32)
    moist = np.isin(classes, (2, 3, 4)).astype(np.float32) + 0.1 * (classes > 0)
    cube = acquire(rng, skin, classes > 0, moist, config)

    wound = classes >= DepthClass.SUPERFICIAL
    heal_fraction = float(healing[wound].mean()) if wound.any() else 1.0
    area_cm2 = float(wound.sum()) * config.spacing_mm**2 / 100.0
    reduction = 100.0 * heal_fraction * rng.uniform(0.85, 1.0) + rng.normal(0.0, 5.0)
    name = f"{config.id_prefix}-s{subject.index:03d}"
    metadata = CaptureMetadata(
        capture_id=phantom_capture_id(config.id_prefix, seed, subject.index, capture_index),
        subject=name,
        wound_id="w1",
        anatomical_site=subject.anatomical_site,
        wound_type="burn",
        captured_at=subject.injured_at + timedelta(days=days),
        device_id="phantom",
        days_since_injury=days,
        fitzpatrick=subject.fitzpatrick,
        melanin_fraction=subject.melanin_fraction,
        source="phantom",
    )
    reference = ReferenceData(
        biopsy_depth_class=int(classes.max()),
        healed_within_21_days=heal_fraction >= 0.5,
        clinician_assessment=_clinician(rng, int(classes.max()), days, area_cm2),
        percent_area_reduction_4w=round(float(np.clip(reduction, -50.0, 100.0)), 1),
    )
    return Capture(
        cube=cube,
        wavelengths=tuple(float(x) for x in config.wavelengths_nm),
        metadata=metadata,
        spacing_mm=config.spacing_mm,
        reference=reference,
        truth=GroundTruth(depth=classes, healing=healing),
    ).validate(metadata.capture_id)


def acquire(
    rng: np.random.Generator,
    skin: np.ndarray,
    on_skin: np.ndarray,
    moist: np.ndarray,
    config: PhantomConfig,
) -> np.ndarray:
    """The camera: drape behind the skin, light field, glare where ``moist``, band shifts,
    sensor noise; reflectance clipped to [0, 1] (C x H x W float32)."""
    shape = (int(on_skin.shape[0]), int(on_skin.shape[1]))
    wavelengths = np.asarray(config.wavelengths_nm, dtype=np.float64)
    cube = np.where(on_skin[None], skin, acquisition.background(rng, wavelengths, shape))
    cube *= acquisition.illumination(
        rng, shape, falloff=config.illumination_falloff, exposure_jitter=config.exposure_jitter
    )[None]
    cube += acquisition.glare(
        rng, shape, moist, spots=config.glare_spots, strength=config.glare_strength
    )[None]
    cube = acquisition.misregister(rng, cube, max_shift_px=config.misregistration_px)
    cube = acquisition.sensor_noise(rng, cube, photons=config.photons, read_noise=config.read_noise)
    return np.clip(cube, 0.0, 1.0).astype(np.float32)


def phantom_capture_id(prefix: str, seed: int, subject_index: int, capture_index: int) -> str:
    """An opaque device-style capture id: unique per seed, and it does not reveal the subject."""
    token = f"{prefix}/{seed}/{subject_index}/{capture_index}".encode()
    return f"{prefix}-{hashlib.sha256(token).hexdigest()[:12]}"


def synth_capture(
    *, seed: int, subject_index: int, capture_index: int, config: PhantomConfig | None = None
) -> Capture:
    """Capture ``capture_index`` of subject ``subject_index`` in the cohort drawn from ``seed``.

    Capture ``k`` is taken ``1 + k % 5`` days after injury. Same arguments, same capture.
    """
    _check(seed=seed, subject_index=subject_index, capture_index=capture_index)
    cfg = config or PhantomConfig()
    subject = make_subject(seed, subject_index, cfg)
    return render_capture(subject, seed=seed, capture_index=capture_index, config=cfg)


def synth_cohort(
    *, subjects: int, captures_per_subject: int, seed: int, config: PhantomConfig | None = None
) -> Iterator[Capture]:
    """Yield ``subjects x captures_per_subject`` captures, subject by subject (lazily)."""
    _check(subjects=subjects, captures_per_subject=captures_per_subject, seed=seed)
    cfg = config or PhantomConfig()
    for s in range(subjects):
        subject = make_subject(seed, s, cfg)
        for c in range(captures_per_subject):
            yield render_capture(subject, seed=seed, capture_index=c, config=cfg)
