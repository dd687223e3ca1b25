"""Burn lesions: limb and burn geometry, depth classes, healing truth and tissue properties.

A subject's burn is described by smooth latent fields on a canvas:

* ``limb``: signed field, > 0 on skin (a limb crossing the frame; background around it).
* ``depth``: thermal damage depth in [0, 1], irregular and nested (a deeper core inside a
  shallower rim); thresholds cut it into the depth classes of :mod:`wound.taxonomy`.
* ``viability``: a smooth zero-mean field. Tissue viability ``1 - depth + 0.16 * viability``
  decides healing within 21 days (deep partial heals in coherent patches, full thickness never)
  and also drives perfusion, StO2 and scattering, so the outcome is visible in the spectra.
* ``texture``: natural skin variation (perfusion, pigment).

Physiology per class (:data:`CLASS_PRESETS`), from the literature (sources in docs/references.md):

* Healthy dermis: blood volume ~1 %, StO2 ~0.7, water ~65 %, mu_s' = 46.0 (lambda/500)^-1.421
  (Jacques, Phys. Med. Biol. 58 R37, 2013).
* Total haemoglobin relative to healthy skin: intermediate-dermal (superficial partial) +67 %,
  deep-dermal +16 %, full thickness 36 % of baseline (Chin et al., 2015); superficial burns are
  erythematous (hyperaemia, taken as +40 %).
* Oxygen saturation falls with depth and separates superficial partial from deeper burns early;
  reduced scattering falls with histological depth (Mazhar et al., 2014); water (oedema),
  deoxy-haemoglobin and scattering separate superficial from deep partial (Nguyen et al., 2013).
* The epidermis (and its melanin) is blistered or lost from superficial partial depth on; full
  thickness is pale, leathery, with little blood and sometimes an eschar.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from scipy import ndimage

from wound.taxonomy import DepthClass

#: ``depth`` thresholds between healthy|superficial|superficial partial|deep partial|full.
DEPTH_THRESHOLDS: tuple[float, float, float, float] = (0.12, 0.26, 0.42, 0.68)
#: Spread of the viability field around ``1 - depth`` and the healing threshold on viability.
VIABILITY_SPREAD = 0.16
HEAL_THRESHOLD = 0.45


@dataclass(frozen=True)
class TissueProperties:
    """Optical tissue parameters of one depth class (inputs of ``tissue_reflectance``)."""

    blood_fraction: float  # dermal blood volume fraction
    saturation: float  # StO2
    water_fraction: float  # dermal water volume fraction
    scatter_a: float  # mu_s' at 500 nm [cm^-1]
    scatter_b: float  # power-law exponent
    melanin_scale: float  # share of the subject's epidermal melanin left
    eschar_fraction: float = 0.0


#: Presets per depth class; the values and their sources are in the module docstring.
CLASS_PRESETS: dict[DepthClass, TissueProperties] = {
    DepthClass.HEALTHY: TissueProperties(0.0100, 0.70, 0.65, 46.0, 1.421, 1.00),
    DepthClass.SUPERFICIAL: TissueProperties(0.0140, 0.78, 0.68, 45.0, 1.420, 1.00),
    DepthClass.SUPERFICIAL_PARTIAL: TissueProperties(0.0167, 0.72, 0.74, 40.0, 1.350, 0.50),
    DepthClass.DEEP_PARTIAL: TissueProperties(0.0116, 0.52, 0.78, 33.0, 1.250, 0.25),
    DepthClass.FULL_THICKNESS: TissueProperties(0.0036, 0.40, 0.60, 30.0, 1.100, 0.10, 1.0),
}
#: Depth at which each preset holds exactly; properties are interpolated in between.
PRESET_DEPTH: dict[DepthClass, float] = {
    DepthClass.HEALTHY: 0.0,
    DepthClass.SUPERFICIAL: 0.19,
    DepthClass.SUPERFICIAL_PARTIAL: 0.34,
    DepthClass.DEEP_PARTIAL: 0.55,
    DepthClass.FULL_THICKNESS: 0.84,
}


@dataclass(frozen=True)
class LesionFields:
    """Latent maps of one limb and burn (all float32, same shape)."""

    limb: np.ndarray
    depth: np.ndarray
    viability: np.ndarray
    texture: np.ndarray
    eschar: float = 0.0

    def warped(self, coords: np.ndarray) -> LesionFields:
        """Resample every map at ``coords`` (2 x H x W canvas coordinates), bilinear."""
        maps = {
            f.name: ndimage.map_coordinates(getattr(self, f.name), coords, order=1, mode="nearest")
            for f in fields(self)
            if f.name != "eschar"
        }
        return LesionFields(**maps, eschar=self.eschar)


def smooth_field(rng: np.random.Generator, shape: tuple[int, int], sigma_px: float) -> np.ndarray:
    """Periodic Gaussian random field: white noise low-passed with a Gaussian of ``sigma_px``
    (in the Fourier domain, so the cost does not grow with ``sigma_px``); zero mean, unit std."""
    noise = rng.standard_normal(shape)
    ky = np.fft.fftfreq(shape[0])[:, None]
    kx = np.fft.rfftfreq(shape[1])[None, :]
    transfer = np.exp(-2.0 * (np.pi * sigma_px) ** 2 * (ky**2 + kx**2))
    field = np.fft.irfft2(np.fft.rfft2(noise) * transfer, s=shape)
    field -= field.mean()
    return (field / max(float(field.std()), 1e-12)).astype(np.float32)


def make_lesion(rng: np.random.Generator, shape: tuple[int, int]) -> LesionFields:
    """Draw a limb crossing the canvas and an irregular, nested burn on it."""
    h, w = shape
    size = float(min(h, w))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cy, cx = h / 2 + rng.uniform(-0.05, 0.05) * size, w / 2 + rng.uniform(-0.05, 0.05) * size
    angle = rng.uniform(0, np.pi)
    along, across = (
        (yy - cy) * np.sin(angle) + (xx - cx) * np.cos(angle),
        (yy - cy) * np.cos(angle) - (xx - cx) * np.sin(angle),
    )
    half_width = rng.uniform(0.30, 0.40) * size * (1 + 0.06 * smooth_field(rng, shape, size / 6))
    limb = (half_width - np.abs(across)) / size

    burn = np.zeros(shape, dtype=np.float32)
    centre_along = rng.uniform(-0.12, 0.12) * size
    for k in range(int(rng.integers(1, 4))):
        theta = rng.uniform(0, np.pi)
        oy = rng.uniform(-0.10, 0.10) * size if k else 0.0
        ox = rng.uniform(-0.10, 0.10) * size if k else 0.0
        da, dc = along - centre_along - oy, across - ox
        u = da * np.cos(theta) + dc * np.sin(theta)
        v = -da * np.sin(theta) + dc * np.cos(theta)
        su, sv = rng.uniform(0.14, 0.24) * size, rng.uniform(0.09, 0.16) * size
        amplitude = 1.0 if k == 0 else rng.uniform(0.7, 1.0)
        r2 = (u / su) ** 2 + (v / sv) ** 2
        burn = np.maximum(burn, amplitude * np.exp(-0.5 * r2**1.5))  # flat-topped
    burn *= 1.0 + 0.30 * smooth_field(rng, shape, size / 25)
    burn *= np.clip(limb * 20.0 + 0.5, 0.0, 1.0)  # fades out at the limb's edge
    # deepest class: superficial partial 10 %, deep partial 30 %, full thickness 60 % of burns
    peak = rng.choice(
        [rng.uniform(0.32, 0.40), rng.uniform(0.46, 0.64), rng.uniform(0.74, 1.0)],
        p=[0.1, 0.3, 0.6],
    )
    core = float(np.quantile(burn[burn > 0.05], 0.95)) if (burn > 0.05).any() else 1.0
    depth = np.clip(peak * burn / max(core, 1e-6), 0.0, 1.0)
    viability = smooth_field(rng, shape, size / 14)
    texture = smooth_field(rng, shape, size / 10)
    eschar = float(rng.uniform(0.2, 0.7)) if rng.random() < 0.4 else 0.0
    return LesionFields(
        limb=limb.astype(np.float32),
        depth=depth.astype(np.float32),
        viability=viability,
        texture=texture,
        eschar=eschar,
    )


def pose_coordinates(
    rng: np.random.Generator,
    canvas: tuple[int, int],
    out: tuple[int, int],
    *,
    max_rotation_deg: float = 8.0,
    max_scale: float = 0.07,
    max_shift_frac: float = 0.05,
) -> np.ndarray:
    """Canvas coordinates (2 x H x W) of an output frame under a small random camera pose."""
    h, w = out
    theta = np.deg2rad(rng.uniform(-max_rotation_deg, max_rotation_deg))
    scale = 1.0 + rng.uniform(-max_scale, max_scale)
    shift = rng.uniform(-max_shift_frac, max_shift_frac, size=2) * min(h, w)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    y0, x0 = yy - (h - 1) / 2, xx - (w - 1) / 2
    cos, sin = np.cos(theta) / scale, np.sin(theta) / scale
    cy = (canvas[0] - 1) / 2 + shift[0] + cos * y0 - sin * x0
    cx = (canvas[1] - 1) / 2 + shift[1] + sin * y0 + cos * x0
    return np.stack([cy, cx]).astype(np.float32)


def depth_classes(lesion: LesionFields) -> np.ndarray:
    """DepthClass ids (uint8): 0 off the limb, 1-5 by thresholding ``depth`` on skin."""
    classes = (np.digitize(lesion.depth, DEPTH_THRESHOLDS) + 1).astype(np.uint8)
    classes[lesion.limb <= 0] = DepthClass.BACKGROUND
    return classes


def viability(lesion: LesionFields) -> np.ndarray:
    """Tissue viability: ``1 - depth + VIABILITY_SPREAD * viability field``."""
    return 1.0 - lesion.depth + VIABILITY_SPREAD * lesion.viability


def healing_map(lesion: LesionFields, classes: np.ndarray) -> np.ndarray:
    """1 where skin heals within 21 days (healthy skin counts as healed), else 0 (uint8)."""
    heals = viability(lesion) > HEAL_THRESHOLD
    heals |= classes == DepthClass.HEALTHY
    heals &= (classes != DepthClass.BACKGROUND) & (classes != DepthClass.FULL_THICKNESS)
    return heals.astype(np.uint8)


def tissue_maps(
    lesion: LesionFields,
    *,
    melanin_fraction: float,
    days_since_injury: float,
    rng: np.random.Generator,
    micro_variation: float = 0.12,
) -> dict[str, np.ndarray]:
    """Per-pixel ``tissue_reflectance`` arguments for a lesion seen ``days_since_injury`` later.

    Properties are interpolated between the class presets along ``depth``; the viability field
    then modulates perfusion, StO2, scattering and oedema (its contrast grows over the first days
    as the zone of stasis declares itself), and ``micro_variation`` adds pixel-scale biological
    variation (capillary loops, hair, pores).
    """
    order = sorted(PRESET_DEPTH, key=PRESET_DEPTH.__getitem__)
    anchors = np.array([PRESET_DEPTH[c] for c in order])
    depth = lesion.depth
    props = {
        f.name: np.interp(depth, anchors, [getattr(CLASS_PRESETS[c], f.name) for c in order])
        for f in fields(TissueProperties)
    }
    burnt = np.clip((depth - 0.05) / 0.10, 0.0, 1.0)
    contrast = 0.80 + 0.10 * (np.clip(days_since_injury, 1.0, 5.0) - 1.0)
    delta = VIABILITY_SPREAD * lesion.viability * contrast * burnt
    oedema = 0.04 * np.exp(-(((days_since_injury - 2.5) / 1.5) ** 2)) * burnt
    shape = depth.shape

    def jitter(scale: float) -> np.ndarray:
        return np.exp(scale * rng.standard_normal(shape, dtype=np.float32))

    blood = props["blood_fraction"] * np.exp(2.5 * delta + 0.15 * lesion.texture)
    blood *= jitter(micro_variation)
    saturation = props["saturation"] + 1.0 * delta + 0.03 * lesion.texture
    scatter_a = props["scatter_a"] * (1.0 + 1.5 * delta) * jitter(0.5 * micro_variation)
    water = props["water_fraction"] - 0.2 * delta + oedema
    melanin = melanin_fraction * props["melanin_scale"] * np.exp(0.10 * lesion.texture)
    return {
        "blood_fraction": np.clip(blood, 0.0005, 0.2),
        "saturation": np.clip(saturation, 0.05, 0.98),
        "water_fraction": np.clip(water, 0.3, 0.9),
        "scatter_a": np.clip(scatter_a, 5.0, 120.0),
        "scatter_b": props["scatter_b"],
        "melanin_fraction": np.clip(melanin * jitter(0.5 * micro_variation), 0.0, 0.6),
        "eschar_fraction": props["eschar_fraction"] * lesion.eschar,
    }
