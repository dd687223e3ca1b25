"""Per-pixel spectral baseline: the approach of the 2016 multispectral burn papers.

Squiers et al. (SPIE 2016) classified each pixel of multispectral burn images from its band values
alone; linear discriminant analysis was best at 70.5% accuracy. Here: scikit-learn
``LinearDiscriminantAnalysis`` on band values of pixels subsampled from the TRAIN captures
predicts the class of every pixel (depth classes, or wound / background); the healing probability
comes from a logistic regression on standardised band values of skin pixels. The report scores it
on the same validation captures as the CNN, with the same metric code: the CNN's gain is measured.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from wound.taxonomy import SKIN_CLASSES


@dataclass
class SpectralBaseline:
    """Fitted per-pixel classifiers; ``healing`` is None for the wound-mask task."""

    classes: LinearDiscriminantAnalysis
    healing: Pipeline | None
    num_classes: int

    def predict(self, cube: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Class map and healing probability map (both H x W) of a ``C x H x W`` cube."""
        c, h, w = cube.shape
        x = cube.reshape(c, -1).T.astype(np.float64)
        labels = self.classes.predict(x).astype(np.int64).reshape(h, w)
        prob = None
        if self.healing is not None:
            prob = self.healing.predict_proba(x)[:, 1].reshape(h, w)
        return labels, prob


def _sample(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    return rng.choice(n, size=k, replace=False) if n > k else np.arange(n)


def fit_spectral_baseline(
    cubes: Sequence[np.ndarray],
    labels: Sequence[np.ndarray],
    *,
    healing: Sequence[np.ndarray | None] | None = None,
    num_classes: int,
    pixels_per_image: int = 2000,
    seed: int = 0,
) -> SpectralBaseline:
    """Fit LDA (classes) and logistic regression (healing, on skin pixels) on subsampled pixels.

    ``labels`` are class maps (depth ids, or 0/1 wound masks); ``healing`` maps (0/1) are used on
    pixels whose label is a skin class. Raises ValueError when the training pixels hold fewer than
    two classes.
    """
    rng = np.random.default_rng(seed)
    xs, ys, hx, hy = [], [], [], []
    for k, (cube, lab) in enumerate(zip(cubes, labels, strict=True)):
        c = cube.shape[0]
        flat = cube.reshape(c, -1).T
        lab_flat = np.asarray(lab).ravel()
        idx = _sample(lab_flat.size, pixels_per_image, rng)
        xs.append(flat[idx])
        ys.append(lab_flat[idx])
        heal = None if healing is None else healing[k]
        if heal is not None:
            skin = np.flatnonzero(np.isin(lab_flat, SKIN_CLASSES))
            sel = skin[_sample(skin.size, pixels_per_image, rng)]
            hx.append(flat[sel])
            hy.append(np.asarray(heal).ravel()[sel])
    x = np.concatenate(xs).astype(np.float64)
    y = np.concatenate(ys).astype(np.int64)
    if len(np.unique(y)) < 2:
        raise ValueError("spectral baseline: training pixels hold fewer than two classes")
    lda = LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto").fit(x, y)
    heal_model: Pipeline | None = None
    if hx:
        hxa = np.concatenate(hx).astype(np.float64)
        hya = np.concatenate(hy).astype(np.int64)
        if len(np.unique(hya)) == 2:
            heal_model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
            heal_model.fit(hxa, hya)
    return SpectralBaseline(classes=lda, healing=heal_model, num_classes=num_classes)
