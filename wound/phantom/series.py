"""Wound series: the same subject and wound captured on several visits (``wound synth --visits``).

* Burns (``kind="burn"``): first visit on day 1 after injury, last by day 21. Each healing pixel
  re-epithelialises on its own day (7 days where the tissue was most viable, 21 where it was
  least; deep partial thickness that heals takes longest); full thickness never closes. The
  open wound shrinks to the non-healing share, so the 4-week percent area reduction is the
  healing share of the wound.
* Diabetic foot ulcers (``kind="dfu"``): weeks 0-12 after the first visit; the area follows the
  subject's healing or stalling course and the periwound tissue at the first visit carries the
  physiology that caused it (:mod:`wound.phantom.ulcer`, ``docs/longitudinal.md``).

Every visit has its own camera pose, lighting, glare and noise, and its metadata carries the
subject, wound, visit number and days since the first visit; reference data carries the outcome
(``percent_area_reduction_4w``; for ulcers ``healed_by_12_weeks``). Reproducible from ``seed``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

import numpy as np

from wound.capture import Capture, CaptureMetadata, GroundTruth, ReferenceData
from wound.phantom.lesions import (
    depth_classes,
    healing_map,
    pose_coordinates,
    tissue_maps,
    viability,
)
from wound.phantom.optics import EPIDERMIS_THICKNESS_MM, tissue_reflectance
from wound.phantom.synth import (
    _EPOCH,
    PhantomConfig,
    Subject,
    _check,
    _rng,
    acquire,
    draw_skin,
    make_subject,
)
from wound.phantom.ulcer import (
    ULCER_SITES,
    UlcerCourse,
    UlcerFields,
    UlcerPhysiology,
    bed_radius_mm,
    draw_ulcer,
    make_ulcer_fields,
    ulcer_tissue_maps,
    viability_map,
)
from wound.taxonomy import DepthClass

SeriesKind = Literal["burn", "dfu"]
#: Default days between visits, and the last day a series may reach (days since first visit).
DEFAULT_INTERVAL_DAYS: dict[str, float] = {"burn": 4.0, "dfu": 7.0}
LAST_DAY: dict[str, float] = {"burn": 20.0, "dfu": 84.0}
#: Default visits per series: days 1-21 every 4 days (burns), weeks 0-12 weekly (ulcers).
DEFAULT_VISITS: dict[str, int] = {"burn": 6, "dfu": 13}
#: Burn pixels close between these days after injury (most viable first).
BURN_CLOSURE_DAYS = (7.0, 21.0)
# Random stream tags (distinct from the single-visit cohort's, so no subject is shared).
_BURN_SUBJECT, _BURN_VISIT, _ULCER_SUBJECT, _ULCER_VISIT = 11, 12, 21, 22


@dataclass(frozen=True)
class UlcerSubject:
    """What stays the same across one ulcer subject's visits."""

    index: int
    fitzpatrick: int
    melanin_fraction: float
    anatomical_site: str
    first_visit_at: datetime
    physiology: UlcerPhysiology
    course: UlcerCourse
    fields: UlcerFields  # on a canvas larger than the frame


def visit_days(kind: SeriesKind, visits: int, interval_days: float | None = None) -> list[float]:
    """Days since the first visit of each visit; raises ``ValueError`` past the series' span."""
    if kind not in LAST_DAY:
        raise ValueError(f"series kind must be 'burn' or 'dfu', got {kind!r}")
    if isinstance(visits, bool) or not isinstance(visits, int) or visits < 1:
        raise ValueError(f"visits must be a positive integer, got {visits!r}")
    step = DEFAULT_INTERVAL_DAYS[kind] if interval_days is None else float(interval_days)
    if not np.isfinite(step) or step <= 0:
        raise ValueError(f"interval_days must be positive, got {interval_days!r}")
    last = step * (visits - 1)
    if last > LAST_DAY[kind]:
        span = "days 1-21 after injury" if kind == "burn" else "weeks 0-12"
        raise ValueError(
            f"{visits} visits {step:g} days apart reach day {last:g} after the first visit; "
            f"{kind} series cover {span} (at most {LAST_DAY[kind]:g} days after the first visit)"
        )
    return [round(step * v, 6) for v in range(visits)]


def series_capture_id(prefix: str, kind: str, seed: int, subject: int, visit: int) -> str:
    """An opaque device-style capture id (does not reveal the subject)."""
    token = f"{prefix}/{kind}-series/{seed}/{subject}/{visit}".encode()
    return f"{prefix}-{hashlib.sha256(token).hexdigest()[:12]}"


def subject_name(prefix: str, kind: SeriesKind, index: int) -> str:
    """The raw subject id written into a series capture (pseudonymised at ingest)."""
    return f"{prefix}-{kind}{index:03d}"


# --- burns ----------------------------------------------------------------------------------
def closure_day(viable: np.ndarray, heals: np.ndarray) -> np.ndarray:
    """Day after injury each pixel re-epithelialises (``inf`` where it never does)."""
    lo, hi = BURN_CLOSURE_DAYS
    share = np.clip((viable - 0.45) / 0.40, 0.0, 1.0)
    return np.where(heals > 0, hi - (hi - lo) * share, np.inf)


def _new_epithelium(melanin_fraction: float, shape: tuple[int, ...]) -> dict[str, np.ndarray]:
    """Freshly re-epithelialised skin: hyperaemic, hypopigmented, slightly oedematous."""
    values = {
        "blood_fraction": 0.015,
        "saturation": 0.72,
        "water_fraction": 0.67,
        "scatter_a": 42.0,
        "scatter_b": 1.40,
        "melanin_fraction": 0.4 * melanin_fraction,
        "eschar_fraction": 0.0,
    }
    return {k: np.full(shape, v) for k, v in values.items()}


def render_burn_visit(
    subject: Subject, *, seed: int, visit: int, day: float, config: PhantomConfig
) -> Capture:
    """Visit ``visit`` (0-based) of a burn, ``day`` days after the first visit (day 1)."""
    rng = _rng(seed, subject.index, visit, _BURN_VISIT)
    shape = (config.height, config.width)
    days_since_injury = 1.0 + day
    canvas = subject.lesion.depth.shape
    lesion = subject.lesion.warped(pose_coordinates(rng, (canvas[0], canvas[1]), shape))
    classes = depth_classes(lesion)
    healing = healing_map(lesion, classes)
    closed = np.clip((days_since_injury - closure_day(viability(lesion), healing)) / 3 + 0.5, 0, 1)
    params = tissue_maps(
        lesion,
        melanin_fraction=subject.melanin_fraction,
        days_since_injury=days_since_injury,
        rng=rng,
        micro_variation=config.micro_variation,
    )
    fresh = _new_epithelium(subject.melanin_fraction, classes.shape)
    wound = classes >= DepthClass.SUPERFICIAL
    blend = np.where(wound, closed, 0.0)
    mixed = {k: (1 - blend) * np.asarray(v) + blend * fresh[k] for k, v in params.items()}
    skin = _reflectance(mixed, config)
    open_wound = wound & (blend < 0.5)
    moist = open_wound.astype(np.float32) + 0.1 * (classes > 0)
    cube = acquire(rng, skin, classes > 0, moist, config)

    base_classes = depth_classes(subject.lesion)  # pose-free, for the outcome
    base_wound = base_classes >= DepthClass.SUPERFICIAL
    heal_share = (
        float(healing_map(subject.lesion, base_classes)[base_wound].mean())
        if base_wound.any()
        else 1.0
    )
    area = float(open_wound.sum()) * config.spacing_mm**2 / 100.0
    metadata = CaptureMetadata(
        capture_id=series_capture_id(config.id_prefix, "burn", seed, subject.index, visit),
        subject=subject_name(config.id_prefix, "burn", subject.index),
        wound_id="w1",
        anatomical_site=subject.anatomical_site,
        wound_type="burn",
        captured_at=subject.injured_at + timedelta(days=days_since_injury),
        device_id="phantom",
        days_since_injury=days_since_injury,
        fitzpatrick=subject.fitzpatrick,
        melanin_fraction=subject.melanin_fraction,
        source="phantom",
        visit=visit + 1,
        days_since_first_visit=day,
    )
    reference = ReferenceData(
        biopsy_depth_class=int(base_classes.max()),
        healed_within_21_days=heal_share >= 0.5,
        clinician_assessment=f"day {days_since_injury:g}: open burn of about {area:.0f} cm2",
        percent_area_reduction_4w=round(100.0 * heal_share, 1),
    )
    truth = GroundTruth(depth=classes, healing=healing, wound_mask=open_wound.astype(np.uint8))
    return _capture(cube, metadata, reference, truth, config)


# --- diabetic foot ulcers -------------------------------------------------------------------
def make_ulcer_subject(seed: int, subject_index: int, config: PhantomConfig) -> UlcerSubject:
    """Draw one ulcer subject: skin type, ulcer site, physiology, course and foot."""
    rng = _rng(seed, subject_index, 0, _ULCER_SUBJECT)
    fitzpatrick, melanin = draw_skin(rng)
    site = str(rng.choice(list(ULCER_SITES)))
    first = _EPOCH + timedelta(
        days=int(rng.integers(0, 365)), minutes=int(rng.integers(8 * 60, 17 * 60))
    )
    physiology, course = draw_ulcer(rng)
    pad = round(0.12 * max(config.height, config.width))
    canvas = (config.height + 2 * pad, config.width + 2 * pad)
    fields = make_ulcer_fields(rng, canvas, spacing_mm=config.spacing_mm)
    return UlcerSubject(
        subject_index, fitzpatrick, melanin, site, first, physiology, course, fields
    )


def render_ulcer_visit(
    subject: UlcerSubject, *, seed: int, visit: int, day: float, config: PhantomConfig
) -> Capture:
    """Visit ``visit`` (0-based) of an ulcer, ``day`` days after the first visit."""
    rng = _rng(seed, subject.index, visit, _ULCER_VISIT)
    shape = (config.height, config.width)
    week = day / 7.0
    canvas = subject.fields.rho.shape
    coords = pose_coordinates(rng, (canvas[0], canvas[1]), shape, max_scale=0.05)
    ulcer = subject.fields.warped(coords)
    course = subject.course
    # The same tissue looks a little different from visit to visit (physiological variation).
    p = subject.physiology
    physiology = replace(
        p,
        periwound_sto2=float(np.clip(p.periwound_sto2 + rng.normal(0, 0.015), 0.05, 0.98)),
        periwound_blood=float(p.periwound_blood * np.exp(rng.normal(0, 0.08))),
    )
    radius = bed_radius_mm(course, week, ulcer)
    params = ulcer_tissue_maps(
        ulcer,
        physiology,
        radius_mm=radius,
        first_radius_mm=bed_radius_mm(course, 0.0, ulcer),
        melanin_fraction=subject.melanin_fraction * ULCER_SITES[subject.anatomical_site],
        rng=rng,
        micro_variation=config.micro_variation,
    )
    skin = _reflectance(params, config)
    on_foot = ulcer.foot > 0
    bed = (ulcer.rho < radius) & on_foot
    cube = acquire(rng, skin, on_foot, bed.astype(np.float32) + 0.1 * on_foot, config)

    true_area = course.area_cm2(week)
    measured = true_area * float(np.exp(rng.normal(0.0, 0.12)))
    note = f"week {week:g}: " + (
        f"ulcer about {measured:.1f} cm2 (ruler)" if true_area > 0 else "ulcer closed"
    )
    metadata = CaptureMetadata(
        capture_id=series_capture_id(config.id_prefix, "dfu", seed, subject.index, visit),
        subject=subject_name(config.id_prefix, "dfu", subject.index),
        wound_id="w1",
        anatomical_site=subject.anatomical_site,
        wound_type="dfu",
        captured_at=subject.first_visit_at + timedelta(days=day),
        device_id="phantom",
        fitzpatrick=subject.fitzpatrick,
        melanin_fraction=subject.melanin_fraction,
        source="phantom",
        visit=visit + 1,
        days_since_first_visit=day,
    )
    reference = ReferenceData(
        clinician_assessment=note,
        percent_area_reduction_4w=round(course.percent_area_reduction(4.0), 1),
        healed_by_12_weeks=course.healed_by_12_weeks,
    )
    truth = GroundTruth(
        healing=viability_map(ulcer, physiology, course), wound_mask=bed.astype(np.uint8)
    )
    return _capture(cube, metadata, reference, truth, config)


def _reflectance(params: dict[str, np.ndarray], config: PhantomConfig) -> np.ndarray:
    """``tissue_reflectance`` of per-pixel parameters (float32, C x H x W)."""
    return tissue_reflectance(
        config.wavelengths_nm,
        blood_fraction=params["blood_fraction"],
        saturation=params["saturation"],
        melanin_fraction=params["melanin_fraction"],
        water_fraction=params["water_fraction"],
        scatter_a=params["scatter_a"],
        scatter_b=params["scatter_b"],
        epidermis_thickness_mm=params.get("epidermis_thickness_mm", EPIDERMIS_THICKNESS_MM),
        eschar_fraction=params["eschar_fraction"],
    ).astype(np.float32)


def _capture(
    cube: np.ndarray,
    metadata: CaptureMetadata,
    reference: ReferenceData,
    truth: GroundTruth,
    config: PhantomConfig,
) -> Capture:
    return Capture(
        cube=cube,
        wavelengths=tuple(float(x) for x in config.wavelengths_nm),
        metadata=metadata,
        spacing_mm=config.spacing_mm,
        reference=reference,
        truth=truth,
    ).validate(metadata.capture_id)


# --- cohorts --------------------------------------------------------------------------------
def synth_series(
    *,
    kind: SeriesKind,
    subjects: int,
    visits: int,
    seed: int,
    interval_days: float | None = None,
    config: PhantomConfig | None = None,
) -> Iterator[Capture]:
    """Yield ``subjects x visits`` captures, subject by subject, visit by visit (lazily).

    ``interval_days`` defaults to 4 (burns) or 7 (ulcers); a series must end by day 21 after
    injury (burns) or week 12 (ulcers). Same arguments, same captures.
    """
    _check(subjects=subjects, seed=seed)
    days = visit_days(kind, visits, interval_days)
    cfg = config or PhantomConfig()
    for s in range(subjects):
        if kind == "burn":
            burn = make_subject(seed, s, cfg, stream=_BURN_SUBJECT)
            for v, day in enumerate(days):
                yield render_burn_visit(burn, seed=seed, visit=v, day=day, config=cfg)
        else:
            ulcer = make_ulcer_subject(seed, s, cfg)
            for v, day in enumerate(days):
                yield render_ulcer_visit(ulcer, seed=seed, visit=v, day=day, config=cfg)
