"""Camera nuisances of a hand-held multispectral capture: light fall-off, glare, noise, shifts.

Each function takes an explicit :class:`numpy.random.Generator`; nothing touches global state.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from wound.phantom.lesions import smooth_field


def illumination(
    rng: np.random.Generator, shape: tuple[int, int], *, falloff: float, exposure_jitter: float
) -> np.ndarray:
    """Multiplicative light field: exposure gain, off-centre radial fall-off, a tilt (H x W)."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cy, cx = h / 2 * (1 + rng.uniform(-0.3, 0.3)), w / 2 * (1 + rng.uniform(-0.3, 0.3))
    r2 = ((yy - cy) ** 2 + (xx - cx) ** 2) / (0.5 * (h**2 + w**2) / 2)
    angle = rng.uniform(0, 2 * np.pi)
    tilt = ((yy / h - 0.5) * np.sin(angle) + (xx / w - 0.5) * np.cos(angle)).astype(np.float32)
    gain = 1.0 + rng.uniform(-exposure_jitter, exposure_jitter)
    light = gain * (1.0 - falloff * r2) * (1.0 + 0.5 * falloff * tilt)
    return np.clip(light, 0.05, None).astype(np.float32)


def glare(
    rng: np.random.Generator,
    shape: tuple[int, int],
    weight: np.ndarray,
    *,
    spots: int,
    strength: float,
) -> np.ndarray:
    """Additive specular highlights (spectrally flat), more likely where ``weight`` is high."""
    h, w = shape
    out = np.zeros(shape, dtype=np.float32)
    count = int(rng.integers(0, spots + 1)) if spots > 0 else 0
    if count == 0 or strength <= 0:
        return out
    flat = weight.ravel().astype(np.float64) + 1e-6
    centres = rng.choice(flat.size, size=count, p=flat / flat.sum())
    yy, xx = np.ogrid[0:h, 0:w]
    for centre in centres:
        cy, cx = divmod(int(centre), w)
        sy, sx = rng.uniform(1.5, 6.0, size=2)
        amplitude = strength * rng.uniform(0.4, 1.0)
        out += amplitude * np.exp(-0.5 * (((yy - cy) / sy) ** 2 + ((xx - cx) / sx) ** 2))
    return out


def background(
    rng: np.random.Generator, wavelengths_nm: np.ndarray, shape: tuple[int, int]
) -> np.ndarray:
    """A dark/grey drape behind the limb: flat-ish spectrum with a faint weave (C x H x W)."""
    level = rng.uniform(0.04, 0.22)
    slope = rng.uniform(-0.15, 0.15)
    spectrum = level * (1.0 + slope * (wavelengths_nm - 650.0) / 250.0)
    weave = 1.0 + 0.08 * smooth_field(rng, shape, 3.0)
    return (spectrum[:, None, None] * weave[None]).astype(np.float32)


def sensor_noise(
    rng: np.random.Generator, cube: np.ndarray, *, photons: float, read_noise: float
) -> np.ndarray:
    """Shot noise (Gaussian approximation, ``photons`` electrons at reflectance 1) + read noise."""
    sigma = (
        np.sqrt(np.clip(cube, 0.0, None) / photons + read_noise**2) if photons > 0 else read_noise
    )
    return cube + sigma * rng.standard_normal(cube.shape, dtype=np.float32)


def misregister(rng: np.random.Generator, cube: np.ndarray, *, max_shift_px: float) -> np.ndarray:
    """Shift each band by a random sub-pixel offset up to ``max_shift_px`` (bilinear)."""
    if max_shift_px <= 0:
        return cube
    out = np.empty_like(cube)
    for c in range(cube.shape[0]):
        dy, dx = rng.uniform(-max_shift_px, max_shift_px, size=2)
        out[c] = ndimage.shift(cube[c], (dy, dx), order=1, mode="nearest")
    return out
