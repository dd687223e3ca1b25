"""Input-quality gate: refuse captures a model should not score, with the reasons.

Runs before any prediction. Each check yields a refusal (``reasons``) or a non-blocking warning
(``flags``); a capture is ok when there is no refusal. The thresholds are the documented fields
of :class:`QualityLimits` (defaults below):

- wavelengths: same band count as the model, each band within ``wavelength_tolerance_nm``
  (default :data:`wound.bands.WAVELENGTH_TOLERANCE_NM`, the one check of
  :func:`wound.bands.wavelength_mismatch` that the predictor and evaluation apply too);
- saturated: in any band, more than ``max_saturated_fraction`` of pixels at or above
  ``saturation_level`` (reflectance near 1.0: clipped sensor);
- too dark: the ``bright_percentile`` of the band-averaged reflectance below ``min_bright_level``
  (almost nothing in the frame is lit);
- blank: every band near-constant (robust range p99 - p1 below ``blank_range``);
- pure noise: no spatial structure — median over bands of the lag-1 neighbouring-pixel
  correlation below ``min_neighbour_correlation`` (a real image of tissue is smooth at the pixel
  scale, so its neighbours correlate; white noise gives ~0);
- misregistered: a band shifted against the others by more than ``max_band_shift_px``. The cube
  is block-averaged to about ``registration_size`` pixels on its short side (factor 4 for a
  1024 x 1280 capture); each band's gradient magnitude (Sobel), Hann-windowed, is registered
  against the mean gradient image of the *other* bands (a leave-one-out consensus reference) by
  cross-correlation with partial spectral whitening (the cross-power spectrum divided by the
  square root of its magnitude: sharper than plain correlation, less noise-prone than pure phase
  correlation), all bands in one batched FFT. The integer peak is refined to
  ``1 / REGISTRATION_UPSAMPLE`` of a (downsampled) pixel by a matrix-multiply DFT of the
  cross-power spectrum around it (Guizar-Sicairos et al., Opt. Lett. 2008, as in
  ``skimage.registration.phase_cross_correlation``); shifts are reported in full-resolution
  pixels. On phantom captures with a band shifted by 0-8.5 px this estimates the shift to
  0.16 px (median; 0.5 px p90) at 1024 x 1280. Bands whose correlation with the consensus at the
  found shift is below ``min_registration_correlation`` cannot be checked reliably and are
  flagged instead of refused.

Cost: every statistic reads a strided sample or a block-averaged copy; only the block average
reads the whole cube. The gate takes about 22 ms for an 8 x 1024 x 1280 cube on one core.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import scipy.fft as sfft
from pydantic import BaseModel, ConfigDict, Field
from threadpoolctl import ThreadpoolController

from wound.bands import WAVELENGTH_TOLERANCE_NM, wavelength_mismatch
from wound.capture import Capture


class QualityLimits(BaseModel):
    """Thresholds of the gate (documented defaults; see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    wavelength_tolerance_nm: float = Field(default=WAVELENGTH_TOLERANCE_NM, gt=0)
    saturation_level: float = Field(default=0.98, description="Reflectance counted as saturated.")
    max_saturated_fraction: float = Field(
        default=0.05, description="Refuse above this share, any band."
    )
    warn_saturated_fraction: float = Field(default=0.005, description="Flag above this share.")
    min_bright_level: float = Field(
        default=0.05, description="Refuse when the bright percentile is below."
    )
    bright_percentile: float = Field(default=95.0, ge=50, le=100)
    blank_range: float = Field(
        default=0.01, description="Robust p99-p1 range under which a band is flat."
    )
    min_neighbour_correlation: float = Field(default=0.3, description="Refuse below (pure noise).")
    max_band_shift_px: float = Field(
        default=3.0, description="Refuse a band shifted more than this."
    )
    warn_band_shift_px: float = Field(default=2.0, description="Flag a band shifted more.")
    min_registration_correlation: float = Field(
        default=0.2, description="Below: shift not reliable."
    )
    min_registration_px: int = Field(
        default=768,
        ge=0,
        description="Smaller images are not checked for misregistration (flagged instead): on "
        "phantom captures below ~768 px, real band-to-band differences in structure gave false "
        "refusals (2-6 of 60 at 160-512 px; none of 36 + 24 at 1024 x 1280).",
    )
    registration_size: int = Field(
        default=256, ge=32, description="Short side (pixels) after block-mean downsampling."
    )


DEFAULT_LIMITS = QualityLimits()


class QualityIssue(BaseModel):
    """One finding: a machine code and a sentence for people."""

    model_config = ConfigDict(frozen=True)

    code: str
    message: str


class QualityVerdict(BaseModel):
    """The gate's answer; ``ok`` is False when there is at least one refusal reason."""

    model_config = ConfigDict(frozen=True)

    ok: bool = Field(description="True when no check refused the capture.")
    reasons: list[QualityIssue] = []
    flags: list[QualityIssue] = []
    metrics: dict[str, float | list[float]] = {}
    limits: QualityLimits = DEFAULT_LIMITS

    @property
    def reason_messages(self) -> list[str]:
        return [r.message for r in self.reasons]

    def summary(self) -> str:
        if self.ok:
            return "quality ok" + (f" ({len(self.flags)} flag(s))" if self.flags else "")
        return "refused: " + "; ".join(self.reason_messages)


def check_quality(
    capture: Capture,
    *,
    wavelengths: Sequence[float] | None = None,
    limits: QualityLimits | None = None,
) -> QualityVerdict:
    """Run every check on ``capture``; ``wavelengths`` are the model's (skipped when None)."""
    lim = limits or DEFAULT_LIMITS
    cube = np.asarray(capture.cube, dtype=np.float32)
    reasons: list[QualityIssue] = []
    flags: list[QualityIssue] = []
    metrics: dict[str, float | list[float]] = {}

    if wavelengths is not None:
        reasons.extend(_check_wavelengths(capture.wavelengths, tuple(wavelengths), lim))

    # Saturation (per band) on a strided sample: statistics, not exact counts, are needed.
    step = _stride(cube)
    sample = np.ascontiguousarray(cube[:, ::step, ::step])
    sat = (sample >= lim.saturation_level).mean(axis=(1, 2))
    metrics["saturated_fraction_max"] = float(sat.max())
    worst = int(sat.argmax())
    if sat.max() > lim.max_saturated_fraction:
        reasons.append(
            QualityIssue(
                code="saturated",
                message=f"saturated: {sat.max():.1%} of pixels at reflectance >= "
                f"{lim.saturation_level} in band {worst} (limit {lim.max_saturated_fraction:.1%})",
            )
        )
    elif sat.max() > lim.warn_saturated_fraction:
        flags.append(
            QualityIssue(
                code="some-saturation", message=f"{sat.max():.1%} saturated in band {worst}"
            )
        )

    bright = float(np.percentile(sample.mean(axis=0), lim.bright_percentile))
    metrics["bright_level"] = bright
    if bright < lim.min_bright_level:
        reasons.append(
            QualityIssue(
                code="too-dark",
                message=f"too dark: {lim.bright_percentile:g}th percentile reflectance {bright:.3f}"
                f" < {lim.min_bright_level}",
            )
        )

    lo, hi = _percentiles(sample.reshape(sample.shape[0], -1), 1.0, 99.0)
    spread = hi - lo
    metrics["band_range_max"] = float(spread.max())
    flat = spread < lim.blank_range
    if flat.all():
        reasons.append(
            QualityIssue(
                code="blank",
                message=f"blank: every band near-constant (range {spread.max():.4f} < "
                f"{lim.blank_range})",
            )
        )
        return _verdict(reasons, flags, metrics, lim)

    # On the block-averaged copy: structure is judged at the scale of ~registration_size pixels,
    # so a high-resolution capture with strong per-pixel noise is not taken for pure noise
    # (white noise stays uncorrelated after block averaging).
    factor = max(1, min(cube.shape[1:]) // lim.registration_size)
    blocks = _block_mean(cube, factor)  # once: the registration check below reuses it
    crop = _centre_crop(blocks[~flat], 256)
    corr = _neighbour_correlation(crop)
    metrics["neighbour_correlation"] = float(np.median(corr))
    if np.median(corr) < lim.min_neighbour_correlation:
        reasons.append(
            QualityIssue(
                code="noise",
                message=f"pure noise: no spatial structure (neighbouring-pixel correlation "
                f"{np.median(corr):.2f} < {lim.min_neighbour_correlation})",
            )
        )
        return _verdict(reasons, flags, metrics, lim)

    if cube.shape[0] >= 2 and min(cube.shape[1:]) < lim.min_registration_px:
        flags.append(
            QualityIssue(
                code="registration-not-checked",
                message=f"band registration not checked: image smaller than "
                f"{lim.min_registration_px} px",
            )
        )
    elif cube.shape[0] >= 2:
        shifts, reliable = band_shifts(
            cube,
            size=lim.registration_size,
            min_correlation=lim.min_registration_correlation,
            block_mean=blocks,
        )
        metrics["band_shift_px"] = [round(float(s), 2) for s in shifts]
        checked = shifts[reliable]
        metrics["band_shift_max_px"] = float(checked.max()) if checked.size else 0.0
        bad = [i for i in range(len(shifts)) if reliable[i] and shifts[i] > lim.max_band_shift_px]
        if bad:
            detail = ", ".join(f"band {i} by {shifts[i]:.1f} px" for i in bad)
            reasons.append(
                QualityIssue(
                    code="misregistered",
                    message=f"misregistered: {detail} (limit {lim.max_band_shift_px} px)",
                )
            )
        elif checked.size and checked.max() > lim.warn_band_shift_px:
            flags.append(
                QualityIssue(
                    code="slight-misregistration",
                    message=f"bands shifted up to {checked.max():.1f} px",
                )
            )
        unreliable = [i for i in range(len(shifts)) if not reliable[i]]
        if unreliable:
            flags.append(
                QualityIssue(
                    code="registration-unchecked",
                    message=f"registration of band(s) {unreliable} could not be checked",
                )
            )
    return _verdict(reasons, flags, metrics, lim)


def band_shifts(
    cube: np.ndarray,
    *,
    size: int = 256,
    min_correlation: float = 0.2,
    block_mean: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-band shift magnitude (pixels, full resolution) vs the leave-one-out consensus.

    Returns ``(shifts, reliable)``; ``reliable`` is False where the band's gradient image does
    not correlate with the consensus (no common structure to register on). Method: module
    docstring. ``block_mean``: the cube's block mean at this ``size``'s factor when the caller
    has it already (:func:`check_quality`: the full cube is read once, not twice).
    """
    c, h, w = cube.shape
    shifts = np.zeros(c)
    reliable = np.zeros(c, dtype=bool)
    factor = max(1, min(h, w) // size)
    blocks = _block_mean(cube, factor) if block_mean is None else block_mean
    grads = _gradient_magnitude(blocks)
    if c < 2 or min(grads.shape[1:]) < 4:
        return shifts, reliable
    grads -= grads.mean(axis=(1, 2), keepdims=True)
    grads *= _hann(grads.shape[1], grads.shape[2])
    # zero-padded to FFT-friendly sizes (the window makes the edges zero anyway)
    size_fft = (sfft.next_fast_len(grads.shape[1], True), sfft.next_fast_len(grads.shape[2], True))
    spectra = sfft.rfft2(grads, s=size_fft, axes=(-2, -1))
    product = (spectra.sum(axis=0) - spectra) * np.float32(1.0 / (c - 1)) * spectra.conj()
    product /= np.maximum(np.sqrt(np.abs(product)), np.float32(1e-30))  # partial whitening
    coarse = _peaks(sfft.irfft2(product, s=size_fft, axes=(-2, -1)))
    fine = _refine_peaks(product, coarse, *size_fft)
    shifts = np.hypot(fine[:, 0], fine[:, 1]) * factor
    refs = (grads.sum(axis=0) - grads) / (c - 1)
    for i in range(c):
        moved = np.roll(grads[i], (int(coarse[i, 0]), int(coarse[i, 1])), axis=(0, 1))
        reliable[i] = _correlation(refs[i], moved) >= min_correlation
    return shifts, reliable


@functools.cache
def _blas() -> ThreadpoolController:
    return ThreadpoolController()


#: Sub-pixel refinement of the registration peak: 1/10 of a downsampled pixel.
REGISTRATION_UPSAMPLE = 10


def _peaks(cc: np.ndarray) -> np.ndarray:
    """Signed integer (dy, dx) of each band's correlation maximum (circular lags)."""
    c, hh, ww = cc.shape
    py, px = np.unravel_index(cc.reshape(c, -1).argmax(axis=1), (hh, ww))
    dy = np.where(py > hh // 2, py - hh, py)
    dx = np.where(px > ww // 2, px - ww, px)
    return np.stack([dy, dx], axis=1).astype(np.float64)


def _refine_peaks(
    product: np.ndarray, coarse: np.ndarray, hh: int, ww: int, upsample: int = REGISTRATION_UPSAMPLE
) -> np.ndarray:
    """Refine integer peaks to ``1/upsample`` pixel: the inverse DFT of the (half-spectrum)
    cross-power ``product`` evaluated on a +-0.75 px grid around each peak (two small matrix
    products per band, all bands batched)."""
    c, _, half = product.shape
    n = int(np.ceil(1.5 * upsample))
    offsets = (np.arange(n) - n // 2) / upsample
    gy = coarse[:, :1] + offsets  # (c, n) candidate row lags
    gx = coarse[:, 1:] + offsets
    fy = np.fft.fftfreq(hh)
    fx = np.arange(half) / ww
    weight = np.full(half, 2.0)  # the half spectrum stands for its conjugate twin too
    weight[0] = 1.0
    if ww % 2 == 0:
        weight[-1] = 1.0
    rows = np.exp(2j * np.pi * gy[:, :, None] * fy).astype(np.complex64)  # (c, n, hh)
    cols = (weight[:, None] * np.exp(2j * np.pi * fx[:, None] * gx[:, None, :])).astype(
        np.complex64
    )  # (c, half, n)
    # One BLAS thread: these matrices are small, and a threaded BLAS stalls for 100+ ms when
    # the other cores are busy (the forward pass, an ingest or another process).
    with _blas().limit(limits=1, user_api="blas"):
        grid = (rows @ product.astype(np.complex64, copy=False) @ cols).real  # (c, n, n)
    ky, kx = np.unravel_index(grid.reshape(c, -1).argmax(axis=1), (n, n))
    band = np.arange(c)
    return np.stack([gy[band, ky], gx[band, kx]], axis=1)


def _block_mean(cube: np.ndarray, factor: int) -> np.ndarray:
    """Mean over ``factor x factor`` blocks (float32; a trailing partial block is dropped).

    Rows first (whole contiguous rows added), then columns on the 1/factor-size result: about
    half the memory traffic of ``reshape(...).mean(axis=(2, 4))`` or per-offset strided sums.
    """
    h, w = cube.shape[1:]
    hh, ww = h // factor * factor, w // factor * factor
    rows = np.array(cube[:, 0:hh:factor, :ww], dtype=np.float32)
    for dy in range(1, factor):
        rows += cube[:, dy:hh:factor, :ww]
    if factor == 1:
        return rows
    out = np.ascontiguousarray(rows[:, :, 0::factor])
    for dx in range(1, factor):
        out += rows[:, :, dx::factor]
    out *= np.float32(1.0 / (factor * factor))
    return out


def _gradient_magnitude(planes: np.ndarray) -> np.ndarray:
    """Sobel gradient magnitude of each plane (valid region: 2 pixels smaller per axis)."""
    dx = planes[:, :, 2:] - planes[:, :, :-2]
    gx = dx[:, :-2] + 2 * dx[:, 1:-1] + dx[:, 2:]
    dy = planes[:, 2:, :] - planes[:, :-2, :]
    gy = dy[:, :, :-2] + 2 * dy[:, :, 1:-1] + dy[:, :, 2:]
    return np.hypot(gx, gy)


def _hann(hh: int, ww: int) -> np.ndarray:
    return np.outer(np.hanning(hh), np.hanning(ww)).astype(np.float32)


def _check_wavelengths(
    have: tuple[float, ...], want: tuple[float, ...], lim: QualityLimits
) -> list[QualityIssue]:
    problem = wavelength_mismatch(have, want, tolerance_nm=lim.wavelength_tolerance_nm)
    if problem is None:
        return []
    return [QualityIssue(code="wavelengths", message=f"wavelengths: {problem}")]


def _verdict(
    reasons: list[QualityIssue],
    flags: list[QualityIssue],
    metrics: dict[str, float | list[float]],
    lim: QualityLimits,
) -> QualityVerdict:
    return QualityVerdict(ok=not reasons, reasons=reasons, flags=flags, metrics=metrics, limits=lim)


def _stride(cube: np.ndarray) -> int:
    """Subsampling stride keeping roughly 64k pixels per band (enough for the statistics)."""
    return max(1, int(np.sqrt(cube.shape[1] * cube.shape[2] / 65_536)))


def _percentiles(rows: np.ndarray, *qs: float) -> list[np.ndarray]:
    """Per-row percentiles (numpy's default linear interpolation) from one ``np.partition``."""
    n = rows.shape[1]
    pos = [q / 100 * (n - 1) for q in qs]
    kth = sorted({int(np.floor(p)) for p in pos} | {min(int(np.floor(p)) + 1, n - 1) for p in pos})
    part = np.partition(rows, kth, axis=1)
    out = []
    for p in pos:
        k = int(np.floor(p))
        lo, hi = part[:, k], part[:, min(k + 1, n - 1)]
        out.append(lo + (hi - lo) * np.float32(p - k))
    return out


def _centre_crop(cube: np.ndarray, size: int) -> np.ndarray:
    h, w = cube.shape[-2:]
    top, left = max(0, (h - size) // 2), max(0, (w - size) // 2)
    return cube[..., top : top + size, left : left + size]


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    if a.size == 0:  # a frame one pixel high or wide has no neighbours that way
        return 0.0
    a = a - a.mean()
    b = b - b.mean()
    den = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / den) if den > 0 else 0.0


def _neighbour_correlation(bands: np.ndarray) -> np.ndarray:
    """Mean of horizontal and vertical lag-1 correlation, per band."""
    out = []
    for b in bands:
        out.append(0.5 * (_correlation(b[:, :-1], b[:, 1:]) + _correlation(b[:-1], b[1:])))
    return np.asarray(out)
