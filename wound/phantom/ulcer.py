"""Diabetic foot ulcers for the longitudinal phantom: periwound physiology, healing course, maps.

Sources and the ranges used are in ``docs/longitudinal.md``. In short:

* The outcome is caused by the tissue, not painted in. Each subject has a latent healing
  potential ``h ~ N(0, 1)`` (microvascular supply; Greenman et al., Lancet 2005, found skin
  oxygenation reduced in the diabetic, neuropathic foot). It sets the periwound physiology the
  optics renders at the first visit (StO2, blood volume, oedema, callus) *and*, with factors the
  camera cannot see (offloading, infection), the early healing speed. Hyperspectral oximetry of
  the skin around the ulcer separated healers from non-healers at the first visit (Nouvong et al.,
  Diabetes Care 2009: sensitivity 93 %, specificity 86 %); a periwound StO2 cut-off near 48.5 %
  separated them in a TIVITA hyperspectral study (see the docs).
* Area: the ulcer is star-shaped around its centre and its edge advances with a relative speed
  ``s`` per week (linear edge advance), so the area scales with ``(1 - s t)^2`` and the
  percent area reduction at 4 weeks is ``1 - (1 - 4 s)^2``. After week 4 the speed changes
  (some ulcers stall). The population reproduces Sheehan et al., Diabetes Care 2003: percent
  reduction at 4 weeks ~82 % in healers vs ~25 % in non-healers, and ulcers above the 4-week
  median healed by week 12 far more often (58 %) than those below it (9 %).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from scipy import ndimage

from wound.phantom.lesions import smooth_field

#: Ranges the periwound physiology is drawn in (docs/longitudinal.md); tests check them.
PERIWOUND_STO2_RANGE = (0.25, 0.85)
BLOOD_FRACTION_RANGE = (0.003, 0.04)
WATER_FRACTION_RANGE = (0.60, 0.85)
CALLUS_MM_RANGE = (0.05, 1.0)
#: Periwound StO2 below which skin counts as non-viable in the per-pixel truth (48.5 %).
VIABLE_STO2 = 0.485
#: Width (mm) over which periwound physiology blends into the foot's own.
PERIWOUND_MM = 10.0
#: Width (mm) of the callus rim around the current edge.
CALLUS_RIM_MM = 3.0
#: Ulcer sites on the foot and the share of the subject's epidermal melanin they keep
#: (palmoplantar skin is lighter than the rest of the body in every skin type).
ULCER_SITES: dict[str, float] = {
    "plantar forefoot": 0.5,
    "hallux": 0.6,
    "heel": 0.5,
    "dorsal foot": 1.0,
    "lesser toe": 0.7,
}


@dataclass(frozen=True)
class UlcerPhysiology:
    """Tissue state at the first visit (inputs of the optics, per subject)."""

    healing_potential: float  # latent h ~ N(0, 1); not shown to any model
    periwound_sto2: float
    periwound_blood: float
    periwound_water: float
    callus_mm: float
    foot_sto2: float
    foot_blood: float
    bed_blood: float
    slough: float  # 0-1 share of the bed under fibrinous slough


@dataclass(frozen=True)
class UlcerCourse:
    """The ulcer's size over time: linear edge advance, a speed change after week 4."""

    area0_cm2: float
    speed_early: float  # relative edge advance per week (of the first visit's radius), weeks 0-4
    speed_late: float  # after week 4; may be ~0 (stalled) or negative (growing)

    def radius_ratio(self, week: float) -> float:
        """Current over first-visit equivalent radius (0 = closed; at most 1.5: grown)."""
        early = self.speed_early * min(week, 4.0)
        late = self.speed_late * max(week - 4.0, 0.0)
        return float(np.clip(1.0 - early - late, 0.0, 1.5))

    def area_cm2(self, week: float) -> float:
        return self.area0_cm2 * self.radius_ratio(week) ** 2

    def percent_area_reduction(self, week: float) -> float:
        return 100.0 * (1.0 - self.radius_ratio(week) ** 2)

    @property
    def healed_by_12_weeks(self) -> bool:
        return self.radius_ratio(12.0) == 0.0


def _sigmoid(x: float) -> float:
    return float(1.0 / (1.0 + np.exp(-x)))


def draw_ulcer(rng: np.random.Generator) -> tuple[UlcerPhysiology, UlcerCourse]:
    """One subject's periwound physiology and, caused by the same ``h``, its healing course."""
    h = float(rng.standard_normal())
    n = rng.standard_normal(10)
    physiology = UlcerPhysiology(
        healing_potential=h,
        periwound_sto2=float(np.clip(0.555 + 0.075 * h + 0.045 * n[0], *PERIWOUND_STO2_RANGE)),
        periwound_blood=float(np.clip(0.012 * np.exp(0.20 * h + 0.25 * n[1]), 0.004, 0.035)),
        periwound_water=float(np.clip(0.70 - 0.025 * h + 0.03 * n[2], *WATER_FRACTION_RANGE)),
        callus_mm=float(np.clip(0.20 * np.exp(-0.30 * h + 0.45 * n[3]), *CALLUS_MM_RANGE)),
        foot_sto2=float(np.clip(0.60 + 0.03 * h + 0.05 * n[4], 0.35, 0.85)),
        foot_blood=float(np.clip(0.010 * np.exp(0.25 * n[5]), 0.004, 0.03)),
        bed_blood=float(np.clip(0.030 * np.exp(0.20 * h + 0.25 * n[6]), 0.01, 0.04)),
        slough=float(np.clip(0.35 * _sigmoid(-0.8 * h + n[7]), 0.0, 1.0)),
    )
    # Early speed: mostly the tissue (h), partly what the camera cannot see (offloading, ...).
    # After week 4 an ulcer stalls (more often when h is low) or goes on at a changed speed.
    early = 0.10 * np.exp(0.7 * h + 0.3 * n[8]) - 0.03
    stall = rng.random() < _sigmoid(-0.6 - 1.0 * h)
    late = 0.0 if stall else abs(early) * float(np.exp(1.0 * n[9]))
    area0 = float(np.clip(np.exp(rng.normal(np.log(2.2), 0.55)), 0.4, 8.0))
    return physiology, UlcerCourse(round(area0, 3), float(early), float(late))


@dataclass(frozen=True)
class UlcerFields:
    """Latent maps of one foot and ulcer on a canvas (all float32, same shape)."""

    foot: np.ndarray  # > 0 on skin
    rho: np.ndarray  # star-shaped distance from the ulcer centre [mm]: the ulcer is rho < R
    texture: np.ndarray  # natural skin variation
    oxygenation: np.ndarray  # local StO2 variation around the subject's periwound value
    star_area: float = 1.0  # area of {rho < R} over pi R^2

    def warped(self, coords: np.ndarray) -> UlcerFields:
        """Resample every map at ``coords`` (2 x H x W canvas coordinates), bilinear."""
        maps = {
            f.name: ndimage.map_coordinates(getattr(self, f.name), coords, order=1, mode="nearest")
            for f in fields(self)
            if f.name != "star_area"
        }
        return UlcerFields(**maps, star_area=self.star_area)


def make_ulcer_fields(
    rng: np.random.Generator, shape: tuple[int, int], *, spacing_mm: float
) -> UlcerFields:
    """A foot filling most of the canvas and an irregular, star-shaped ulcer near its centre."""
    h, w = shape
    size = float(min(h, w))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cy, cx = h / 2 + rng.uniform(-0.04, 0.04) * size, w / 2 + rng.uniform(-0.04, 0.04) * size
    # Foot outline: a large ellipse, its edge wobbling; background beyond it.
    theta = rng.uniform(0, np.pi)
    u = (yy - cy) * np.cos(theta) + (xx - cx) * np.sin(theta)
    v = -(yy - cy) * np.sin(theta) + (xx - cx) * np.cos(theta)
    ry, rx = rng.uniform(0.55, 0.75) * size, rng.uniform(0.42, 0.55) * size
    foot = 1.0 - np.sqrt((u / ry) ** 2 + (v / rx) ** 2) + 0.03 * smooth_field(rng, shape, size / 6)
    # Ulcer: radius scaled by a smooth function of the angle (star-shaped, so it shrinks exactly).
    angle = np.arctan2(yy - cy, xx - cx)
    amplitudes = [rng.uniform(0.0, 0.12 / k) for k in range(2, 5)]
    harmonics = sum(
        a * np.cos(k * angle + rng.uniform(0, 2 * np.pi))
        for k, a in zip(range(2, 5), amplitudes, strict=True)
    )
    radius_px = np.sqrt((yy - cy) ** 2 + (xx - cx) ** 2)
    rho = radius_px * spacing_mm / (1.0 + harmonics)
    return UlcerFields(
        foot=foot.astype(np.float32),
        rho=rho.astype(np.float32),
        texture=smooth_field(rng, shape, size / 10),
        oxygenation=smooth_field(rng, shape, size / 8),
        star_area=1.0 + 0.5 * float(sum(a * a for a in amplitudes)),
    )


def bed_radius_mm(course: UlcerCourse, week: float, ulcer: UlcerFields) -> float:
    """Threshold on ``rho`` (mm) whose star-shaped region has the course's area at ``week``."""
    return float(np.sqrt(course.area_cm2(week) * 100.0 / (np.pi * ulcer.star_area)))


def ulcer_tissue_maps(
    ulcer: UlcerFields,
    physiology: UlcerPhysiology,
    *,
    radius_mm: float,
    first_radius_mm: float,
    melanin_fraction: float,
    rng: np.random.Generator,
    micro_variation: float = 0.10,
) -> dict[str, np.ndarray]:
    """Per-pixel ``tissue_reflectance`` arguments of the foot with the ulcer at ``radius_mm``.

    Zones by ``rho``: the open bed (granulation, no epidermis, some slough); skin
    re-epithelialised since the first visit (thin, lightly pigmented); a callus rim (thick
    keratin: more scattering); the periwound skin, whose physiology blends into the foot's own
    over :data:`PERIWOUND_MM`.
    """
    rho = ulcer.rho
    shape = rho.shape
    bed = rho < radius_mm
    new_skin = (~bed) & (rho < first_radius_mm)
    edge = np.clip(rho - radius_mm, 0.0, None)
    near = np.exp(-edge / PERIWOUND_MM)  # 1 at the edge, -> 0 on the rest of the foot
    rim = np.exp(-((edge / CALLUS_RIM_MM) ** 2)) * (~bed)
    p = physiology

    def jitter(scale: float) -> np.ndarray:
        return np.exp(scale * rng.standard_normal(shape, dtype=np.float32))

    sto2 = near * p.periwound_sto2 + (1 - near) * p.foot_sto2 + 0.04 * ulcer.oxygenation
    blood = (near * p.periwound_blood + (1 - near) * p.foot_blood) * np.exp(0.15 * ulcer.texture)
    water = near * p.periwound_water + (1 - near) * 0.65
    epidermis = 0.10 + rim * p.callus_mm
    scatter = 46.0 * (1.0 + 0.5 * rim * min(p.callus_mm / 0.3, 1.5))
    melanin = np.full(shape, melanin_fraction, dtype=np.float64) * np.exp(0.1 * ulcer.texture)
    slough = np.zeros(shape)
    # Re-epithelialised skin: thin new epidermis with little melanin, hyperaemic.
    blood = np.where(new_skin, 1.4 * blood, blood)
    epidermis = np.where(new_skin, 0.03, epidermis)
    melanin = np.where(new_skin, 0.3 * melanin, melanin)
    # Open bed: granulation tissue, no epidermis, slough patches.
    blood = np.where(bed, p.bed_blood * np.exp(0.2 * ulcer.texture), blood)
    sto2 = np.where(bed, sto2 - 0.05, sto2)
    water = np.where(bed, 0.80, water)
    scatter = np.where(bed, 28.0, scatter)
    epidermis = np.where(bed, 0.0, epidermis)
    slough = np.where(bed, p.slough * np.clip(0.5 + 0.5 * ulcer.texture, 0, 1), slough)
    return {
        "blood_fraction": np.clip(blood * jitter(micro_variation), *BLOOD_FRACTION_RANGE),
        "saturation": np.clip(sto2, 0.05, 0.98),
        "water_fraction": np.clip(water, 0.3, 0.9),
        "scatter_a": np.clip(scatter * jitter(0.5 * micro_variation), 5.0, 120.0),
        "scatter_b": np.where(bed, 1.2, 1.421),
        "melanin_fraction": np.clip(melanin * jitter(0.5 * micro_variation), 0.0, 0.6),
        "epidermis_thickness_mm": epidermis,
        "eschar_fraction": slough,
    }


def viability_map(
    ulcer: UlcerFields, physiology: UlcerPhysiology, course: UlcerCourse
) -> np.ndarray:
    """Per-pixel truth (uint8): 1 where tissue heals or stays viable, 0 elsewhere.

    Bed pixels: 1 when re-epithelialised by week 12. Skin: 1 when its local StO2 (without
    the per-pixel jitter) is at least :data:`VIABLE_STO2`. Off the foot: 0.
    """
    r0 = bed_radius_mm(course, 0.0, ulcer)
    r12 = r0 * course.radius_ratio(12.0)
    edge = np.clip(ulcer.rho - r0, 0.0, None)
    near = np.exp(-edge / PERIWOUND_MM)
    sto2 = near * physiology.periwound_sto2 + (1 - near) * physiology.foot_sto2
    sto2 = sto2 + 0.04 * ulcer.oxygenation
    viable = sto2 >= VIABLE_STO2
    bed = ulcer.rho < r0
    out = np.where(bed, ulcer.rho >= r12, viable) & (ulcer.foot > 0)
    return out.astype(np.uint8)
