"""Input-quality gate: refuse captures a model should not score, with the reasons.

Runs before any prediction. Each check yields a refusal (``reasons``) or a non-blocking warning
(``flags``); a capture is ok when there is no refusal. The thresholds are the documented fields
of :class:`QualityLimits` (defaults below):

- wavelengths: same band count as the model, each band within ``wavelength_tolerance_nm``;
- saturated: in any band, more than ``max_saturated_fraction`` of pixels at or above
  ``saturation_level`` (reflectance near 1.0: clipped sensor);
- too dark: the ``bright_percentile`` of the band-averaged reflectance below ``min_bright_level``
  (almost nothing in the frame is lit);
- blank: every band near-constant (robust range p99 - p1 below ``blank_range``);
- pure noise: no spatial structure — median over bands of the lag-1 neighbouring-pixel
  correlation below ``min_neighbour_correlation`` (a real image of tissue is smooth at the pixel
  scale, so its neighbours correlate; white noise gives ~0);
- misregistered: a band shifted against the others by more than ``max_band_shift_px``. Each
  band's shift is estimated with :func:`skimage.registration.phase_cross_correlation` (plain
  cross-correlation, sub-pixel) between its gradient-magnitude image and the mean gradient image
  of the *other* bands (a leave-one-out consensus reference), on a downsampled centre crop.
  Bands whose best-shift correlation with the consensus is below ``min_registration_correlation``
  cannot be checked reliably and are flagged instead of refused.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from scipy import ndimage

from wound.capture import Capture


class QualityLimits(BaseModel):
    """Thresholds of the gate (documented defaults; see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    wavelength_tolerance_nm: float = Field(default=5.0, gt=0)
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
    registration_size: int = Field(
        default=256, ge=32, description="Downsampled crop side (pixels)."
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

    # Saturation (per band) on a strided view: statistics, not exact counts, are needed.
    sample = cube[:, :: _stride(cube), :: _stride(cube)]
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

    lo, hi = np.percentile(sample.reshape(sample.shape[0], -1), [1, 99], axis=1)
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

    crop = _centre_crop(cube, 256)
    corr = _neighbour_correlation(crop[~flat])
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

    if cube.shape[0] >= 2:
        shifts, reliable = band_shifts(
            cube, size=lim.registration_size, min_correlation=lim.min_registration_correlation
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
    cube: np.ndarray, *, size: int = 256, min_correlation: float = 0.2
) -> tuple[np.ndarray, np.ndarray]:
    """Per-band shift magnitude (pixels, full resolution) vs the leave-one-out consensus.

    Returns ``(shifts, reliable)``; ``reliable`` is False where the band's gradient image does
    not correlate with the consensus (no common structure to register on).
    """
    c, h, w = cube.shape
    factor = max(1, min(h, w) // size)
    crop = _centre_crop(cube, size * factor)  # then block-average factor x factor pixels
    ch, cw = crop.shape[1] // factor * factor, crop.shape[2] // factor * factor
    small = np.zeros((c, ch // factor, cw // factor), dtype=np.float32)
    for dy in range(factor):
        for dx in range(factor):
            small += crop[:, dy:ch:factor, dx:cw:factor]
    small /= factor * factor
    grads = np.stack([_gradient(b) for b in small])
    grads -= grads.mean(axis=(1, 2), keepdims=True)
    total = grads.sum(axis=0)
    shifts = np.zeros(c)
    reliable = np.zeros(c, dtype=bool)
    from skimage.registration import phase_cross_correlation

    for i in range(c):
        ref = (total - grads[i]) / (c - 1)
        if not grads[i].any() or not ref.any():
            continue
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            shift, _, _ = phase_cross_correlation(
                ref, grads[i], upsample_factor=2, normalization=None
            )
        shifts[i] = float(np.hypot(*shift)) * factor
        moved = np.roll(grads[i], tuple(round(s) for s in shift), axis=(0, 1))
        reliable[i] = _correlation(ref, moved) >= min_correlation
    return shifts, reliable


def _check_wavelengths(
    have: tuple[float, ...], want: tuple[float, ...], lim: QualityLimits
) -> list[QualityIssue]:
    if len(have) != len(want):
        return [
            QualityIssue(
                code="wavelengths",
                message=f"wavelengths: capture has {len(have)} bands, the model expects "
                f"{len(want)} ({', '.join(f'{x:g}' for x in want)} nm)",
            )
        ]
    diff = np.abs(np.asarray(have) - np.asarray(want))
    if diff.max() > lim.wavelength_tolerance_nm:
        i = int(diff.argmax())
        return [
            QualityIssue(
                code="wavelengths",
                message=f"wavelengths: band {i} is {have[i]:g} nm, the model expects {want[i]:g} nm"
                f" (tolerance {lim.wavelength_tolerance_nm:g} nm)",
            )
        ]
    return []


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


def _centre_crop(cube: np.ndarray, size: int) -> np.ndarray:
    h, w = cube.shape[-2:]
    top, left = max(0, (h - size) // 2), max(0, (w - size) // 2)
    return cube[..., top : top + size, left : left + size]


def _gradient(band: np.ndarray) -> np.ndarray:
    gy = ndimage.sobel(band, axis=0)
    gx = ndimage.sobel(band, axis=1)
    return np.hypot(gx, gy)


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
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
