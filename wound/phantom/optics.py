"""Skin optics for the burn phantom: chromophore absorption, scattering, two-layer reflectance.

All coefficients are in cm^-1, wavelengths in nm. The model, and where each piece comes from:

* Haemoglobin: molar extinction of HbO2 and Hb from S. Prahl's tabulation (Oregon Medical Laser
  Center, https://omlc.org/spectra/hemoglobin/, after Gratzer and Kollias), shipped as
  ``data/hemoglobin_prahl.csv`` (400-900 nm, 2 nm) and interpolated linearly. Whole blood:
  ``mu_a = 2.303 * eps * 150 g/L / 64,500 g/mol``.
* Water: ``data/water_absorption.csv`` (Pope and Fry 1997 to 700 nm; Hale and Querry 1973 beyond).
* Melanin: ``mu_a,mel = 6.6e11 * lambda^-3.33`` for the melanosome interior, scaled by the
  epidermal melanosome volume fraction; bloodless tissue baseline
  ``mu_a,base = 0.244 + 85.3 * exp(-(lambda - 154) / 66.2)`` (S. L. Jacques, "Skin optics",
  OMLC News 1998; Jacques, Phys. Med. Biol. 58 R37, 2013).
* Reduced scattering: ``mu_s' = a * (lambda / 500 nm)^-b``; skin ``a = 46.0 cm^-1``,
  ``b = 1.421`` (Jacques 2013, Table 2, average of the skin entries).
* Two layers: the epidermis (about 60 um, melanin) transmits ``T = exp(-mu_a,epi * d)`` on the
  way in and again on the way out (Beer-Lambert); the dermis is a semi-infinite turbid medium
  whose total diffuse reflectance is the diffusion-theory closed form (Farrell, Patterson and
  Wilson, Med. Phys. 19, 879, 1992; integrated over the surface as in Kim and Wilson,
  "Optical-Thermal Response of Laser-Irradiated Tissue", 2nd ed., ch. 8)::

      a' = mu_s' / (mu_a + mu_s')
      R_d = (a' / 2) * exp(-sqrt(3 (1 - a'))) * (1 + exp(-(4/3) A sqrt(3 (1 - a'))))

  with ``A = (1 + r_id) / (1 - r_id)`` the internal-reflection parameter for a tissue/air index
  ratio n (Groenhuis et al., Appl. Opt. 22, 2456, 1983 polynomial for r_id). The camera sees
  ``R = T^2 * R_d``.
* Eschar (charred, leathery full-thickness surface) is a phenomenological brown absorber
  ``150 * (lambda / 500 nm)^-2 cm^-1`` in a 0.1 mm top layer; it has no tabulated source.
"""

from __future__ import annotations

import csv
from functools import lru_cache
from importlib import resources

import numpy as np
from numpy.typing import ArrayLike

#: Grams of haemoglobin per litre of whole blood (Prahl; typical value).
HB_GRAMS_PER_LITRE = 150.0
#: Gram molecular weight of haemoglobin used by Prahl's conversion.
HB_MOLAR_MASS = 64_500.0
#: Jacques 2013, Table 2, skin: mu_s'(500 nm) [cm^-1] and power-law exponent.
SKIN_SCATTER_A = 46.0
SKIN_SCATTER_B = 1.421
#: Epidermis thickness [mm] used by Jacques' generic skin model (melanosome fraction in 60 um).
EPIDERMIS_THICKNESS_MM = 0.06
#: Thickness [cm] of a full eschar layer (0.1 mm) for ``eschar_fraction = 1``.
ESCHAR_THICKNESS_CM = 0.01
#: Range covered by the shipped tables.
WAVELENGTH_RANGE_NM = (400.0, 900.0)


@lru_cache(maxsize=4)
def load_table(name: str) -> dict[str, np.ndarray]:
    """One CSV of ``wound/phantom/data`` as columns (``#`` lines are comments)."""
    text = resources.files("wound.phantom").joinpath("data", name).read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    reader = csv.reader(rows)
    header = next(reader)
    values = np.array([[float(x) for x in row] for row in reader], dtype=np.float64)
    return {col: values[:, i].copy() for i, col in enumerate(header)}


def _wavelengths(wavelengths_nm: ArrayLike) -> np.ndarray:
    wl = np.atleast_1d(np.asarray(wavelengths_nm, dtype=np.float64))
    lo, hi = WAVELENGTH_RANGE_NM
    if wl.ndim != 1 or not np.isfinite(wl).all() or (wl < lo).any() or (wl > hi).any():
        raise ValueError(f"wavelengths {wl.tolist()} must be a 1-D list within {lo:g}-{hi:g} nm")
    return wl


def hemoglobin_extinction(wavelengths_nm: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Molar extinction (cm^-1/M) of HbO2 and Hb at the wavelengths (Prahl, interpolated)."""
    wl = _wavelengths(wavelengths_nm)
    table = load_table("hemoglobin_prahl.csv")
    grid = table["wavelength_nm"]
    return np.interp(wl, grid, table["eps_hbo2"]), np.interp(wl, grid, table["eps_hb"])


def blood_absorption(wavelengths_nm: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """mu_a (cm^-1) of fully oxygenated and fully deoxygenated whole blood (150 g/L)."""
    eps_oxy, eps_deoxy = hemoglobin_extinction(wavelengths_nm)
    scale = np.log(10.0) * HB_GRAMS_PER_LITRE / HB_MOLAR_MASS
    return eps_oxy * scale, eps_deoxy * scale


def water_absorption(wavelengths_nm: ArrayLike) -> np.ndarray:
    """mu_a (cm^-1) of pure water."""
    wl = _wavelengths(wavelengths_nm)
    table = load_table("water_absorption.csv")
    return np.interp(wl, table["wavelength_nm"], table["mua_per_cm"])


def melanin_absorption(wavelengths_nm: ArrayLike) -> np.ndarray:
    """mu_a (cm^-1) inside melanosomes, ``6.6e11 * lambda^-3.33`` (Jacques 1998)."""
    wl = _wavelengths(wavelengths_nm)
    return 6.6e11 * wl**-3.33


def baseline_absorption(wavelengths_nm: ArrayLike) -> np.ndarray:
    """mu_a (cm^-1) of bloodless skin, ``0.244 + 85.3 exp(-(lambda - 154)/66.2)`` (Jacques)."""
    wl = _wavelengths(wavelengths_nm)
    return 0.244 + 85.3 * np.exp(-(wl - 154.0) / 66.2)


def eschar_absorption(wavelengths_nm: ArrayLike) -> np.ndarray:
    """mu_a (cm^-1) of eschar: a phenomenological brown absorber, ``150 (lambda/500)^-2``."""
    wl = _wavelengths(wavelengths_nm)
    return 150.0 * (wl / 500.0) ** -2.0


def reduced_scattering(wavelengths_nm: ArrayLike, a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """``mu_s' = a (lambda / 500 nm)^-b`` (Jacques 2013), broadcast as ``(C, *shape)``."""
    wl = _wavelengths(wavelengths_nm)
    a_arr, b_arr = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    x = (wl / 500.0).reshape((-1,) + (1,) * max(a_arr.ndim, b_arr.ndim))
    return np.asarray(a_arr * x ** (-b_arr))


def internal_reflection_parameter(n_rel: float = 1.4) -> float:
    """``A = (1 + r_id) / (1 - r_id)``, r_id from Groenhuis et al. 1983 (n_rel tissue/air)."""
    r_id = -1.440 / n_rel**2 + 0.710 / n_rel + 0.668 + 0.0636 * n_rel
    return (1.0 + r_id) / (1.0 - r_id)


def diffuse_reflectance(mua: ArrayLike, musp: ArrayLike, *, n_rel: float = 1.4) -> np.ndarray:
    """Total diffuse reflectance of a semi-infinite medium (diffusion theory, Farrell 1992)."""
    mua_arr = np.asarray(mua, dtype=np.float64)
    musp_arr = np.asarray(musp, dtype=np.float64)
    albedo = musp_arr / (mua_arr + musp_arr)
    root = np.sqrt(3.0 * (1.0 - albedo))
    big_a = internal_reflection_parameter(n_rel)
    return np.asarray(0.5 * albedo * np.exp(-root) * (1.0 + np.exp(-(4.0 / 3.0) * big_a * root)))


def tissue_reflectance(
    wavelengths_nm: ArrayLike,
    *,
    blood_fraction: ArrayLike,
    saturation: ArrayLike,
    melanin_fraction: ArrayLike,
    water_fraction: ArrayLike,
    scatter_a: ArrayLike = SKIN_SCATTER_A,
    scatter_b: ArrayLike = SKIN_SCATTER_B,
    epidermis_thickness_mm: ArrayLike = EPIDERMIS_THICKNESS_MM,
    eschar_fraction: ArrayLike = 0.0,
    n_rel: float = 1.4,
) -> np.ndarray:
    """Diffuse reflectance of two-layer skin, shape ``(C, *pixels)`` (float64, in [0, 1]).

    Every tissue argument is a scalar or an array (all broadcast together, e.g. ``H x W``):

    * ``blood_fraction``: dermal blood volume fraction (healthy skin ~0.01-0.03).
    * ``saturation``: haemoglobin oxygen saturation StO2 in [0, 1].
    * ``melanin_fraction``: epidermal melanosome volume fraction (Fitzpatrick I ~0.02 ... VI ~0.4).
    * ``water_fraction``: dermal water volume fraction (~0.65; oedema raises it).
    * ``scatter_a`` (cm^-1 at 500 nm) and ``scatter_b``: dermal reduced scattering power law.
    * ``epidermis_thickness_mm``: 0 where the epidermis is gone.
    * ``eschar_fraction``: 0-1, how much of an eschar layer covers the surface.
    """
    wl = _wavelengths(wavelengths_nm)
    args = np.broadcast_arrays(
        *(
            np.asarray(x, dtype=np.float64)
            for x in (
                blood_fraction,
                saturation,
                melanin_fraction,
                water_fraction,
                scatter_a,
                scatter_b,
                epidermis_thickness_mm,
                eschar_fraction,
            )
        )
    )
    blood, sat, mel, water, sa, sb, thick_mm, eschar = args
    if (blood < 0).any() or (blood > 1).any() or (sat < 0).any() or (sat > 1).any():
        raise ValueError("blood_fraction and saturation must lie in [0, 1]")
    if (mel < 0).any() or (mel > 1).any() or (water < 0).any() or (water > 1).any():
        raise ValueError("melanin_fraction and water_fraction must lie in [0, 1]")
    if (sa <= 0).any() or (thick_mm < 0).any():
        raise ValueError("scatter_a must be positive and epidermis_thickness_mm non-negative")
    shape = blood.shape
    out = np.empty((wl.size, *shape), dtype=np.float64)
    oxy, deoxy = blood_absorption(wl)
    h2o, base = water_absorption(wl), baseline_absorption(wl)
    melanin, char = melanin_absorption(wl), eschar_absorption(wl)
    thick_cm = thick_mm * 0.1
    for c in range(wl.size):
        mua_dermis = blood * (sat * oxy[c] + (1.0 - sat) * deoxy[c]) + water * h2o[c]
        mua_dermis += (1.0 - blood - water).clip(0.0, 1.0) * base[c]
        musp = sa * (wl[c] / 500.0) ** (-sb)
        mua_epi = mel * melanin[c] + (1.0 - mel) * base[c]
        transmission = np.exp(-mua_epi * thick_cm - eschar * char[c] * ESCHAR_THICKNESS_CM)
        out[c] = transmission**2 * diffuse_reflectance(mua_dermis, musp, n_rel=n_rel)
    return out
