"""The per-pixel spectral baseline (LDA + logistic regression) on hand-made spectra."""

from __future__ import annotations

import numpy as np
import pytest

from training.baseline import fit_spectral_baseline


def _image(seed: int, size: int = 24) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Three classes with distinct 4-band spectra; healing = class 1."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, (size, size))
    spectra = np.array([[0.1, 0.1, 0.1, 0.1], [0.5, 0.4, 0.6, 0.7], [0.3, 0.6, 0.2, 0.4]])
    cube = spectra[labels].transpose(2, 0, 1) + rng.normal(0, 0.03, (4, size, size))
    return cube.astype(np.float32), labels, (labels == 1).astype(np.uint8)


def test_separable_spectra_are_classified() -> None:
    train = [_image(s) for s in range(3)]
    model = fit_spectral_baseline(
        [c for c, _, _ in train],
        [lab for _, lab, _ in train],
        healing=[h for _, _, h in train],
        num_classes=3,
        pixels_per_image=300,
    )
    cube, labels, heal = _image(99)
    pred, prob = model.predict(cube)
    assert pred.shape == labels.shape and (pred == labels).mean() > 0.98
    assert prob is not None and prob.shape == labels.shape
    skin = labels > 0  # healing is fitted and judged on skin pixels (classes 1-5)
    assert ((prob[skin] > 0.5) == (heal[skin] > 0)).mean() > 0.98


def test_subsampling_is_seeded() -> None:
    cube, labels, _ = _image(1)
    a = fit_spectral_baseline([cube], [labels], num_classes=3, pixels_per_image=50, seed=4)
    b = fit_spectral_baseline([cube], [labels], num_classes=3, pixels_per_image=50, seed=4)
    assert np.array_equal(a.classes.coef_, b.classes.coef_)
    assert a.healing is None  # no healing maps given


def test_one_class_is_refused() -> None:
    cube, _, _ = _image(2)
    with pytest.raises(ValueError, match="fewer than two classes"):
        fit_spectral_baseline([cube], [np.zeros((24, 24), int)], num_classes=3)
