"""Wavelength compatibility: the one check that a capture's bands are the ones a model (or a
training set) expects, used by the predictor, the quality gate, evaluation, training and the
capture readers. Torch-free, so readers can import it cheaply."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from wound.errors import BandMismatchError

#: Wavelength tolerance (nm): each band centre of a capture may differ from the expected one by at
#: most this. Bands of multispectral wound cameras sit tens of nm apart (the phantom's 8 bands,
#: 420-855 nm, are at least 35 nm apart), so 5 nm refuses a different band set while accepting
#: rounding and calibration drift of a centre wavelength. It was the quality gate's default; the
#: evaluator's 1 nm and the readers' 0.5 nm were tighter for no stated reason.
WAVELENGTH_TOLERANCE_NM = 5.0


def wavelength_mismatch(
    have: Sequence[float],
    want: Sequence[float],
    *,
    tolerance_nm: float = WAVELENGTH_TOLERANCE_NM,
) -> str | None:
    """Why bands ``have`` (nm) do not match ``want`` (nm), or None when they do: same count and
    every band centre within ``tolerance_nm`` (:data:`WAVELENGTH_TOLERANCE_NM`)."""
    h, w = np.asarray(have, dtype=float), np.asarray(want, dtype=float)
    wanted = ", ".join(f"{x:g}" for x in w)
    if h.shape != w.shape:
        return f"capture has {h.size} bands, the model expects {w.size} ({wanted} nm)"
    if h.size == 0:
        return None
    diff = np.abs(h - w)
    if diff.max() > tolerance_nm:
        i = int(diff.argmax())
        return (
            f"band {i} is {h[i]:g} nm, the model expects {w[i]:g} nm "
            f"(tolerance {tolerance_nm:g} nm)"
        )
    return None


def check_wavelengths(
    have: Sequence[float],
    want: Sequence[float],
    *,
    source: str | None = None,
    tolerance_nm: float = WAVELENGTH_TOLERANCE_NM,
) -> None:
    """BandMismatchError naming ``source`` unless :func:`wavelength_mismatch` finds none."""
    problem = wavelength_mismatch(have, want, tolerance_nm=tolerance_nm)
    if problem is not None:
        raise BandMismatchError(source, f"wavelengths: {problem}")
