"""The predictor on a tiny random-weight model registered in a LocalStore."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Literal

import numpy as np
import pytest
import torch

from reliability.model import register_untrained
from wound.capture import Capture
from wound.errors import BandMismatchError
from wound.networks import (
    InferenceSettings,
    ModelInfo,
    NetworkSpec,
    build_network,
    size_divisor,
    weights_to_bytes,
)
from wound.phantom import PhantomConfig, synth_capture
from wound.predict import Predictor
from wound.store import LocalStore
from wound.tasks import get_task

CONFIG = PhantomConfig(height=64, width=64)
WAVELENGTHS = CONFIG.wavelengths_nm


def tiny_info(
    task: str = "burn-depth",
    *,
    norm: Literal["instance", "batch"] = "instance",
    inference: dict[str, object] | None = None,
) -> ModelInfo:
    """A 2-level UNet over the phantom bands for ``task``."""
    spec = NetworkSpec(
        in_channels=len(WAVELENGTHS),
        out_channels=get_task(task).out_channels,
        channels=(4, 8),
        strides=(2,),
        num_res_units=0,
        norm=norm,
    )
    return ModelInfo(
        task=task,
        network=spec,
        wavelengths_nm=WAVELENGTHS,
        band_mean=(0.3,) * len(WAVELENGTHS),
        band_std=(0.15,) * len(WAVELENGTHS),
        patch_size=(32, 32),
        inference=InferenceSettings.model_validate(inference or {}),
    )


def register(
    store: LocalStore,
    model_id: str,
    *,
    task: str = "burn-depth",
    seed: int = 0,
    inference: dict[str, object] | None = None,
) -> None:
    register_untrained(store, model_id, tiny_info(task, inference=inference), seed=seed)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> LocalStore:
    s = LocalStore(Path(tmp_path_factory.mktemp("store")))
    s.init()
    register(s, "m-old", seed=1)
    register(s, "m-new", seed=2)
    register(s, "m-mask", task="wound-mask", seed=3)
    return s


@pytest.fixture(scope="module")
def captures() -> list[Capture]:
    return [synth_capture(seed=5, subject_index=i, capture_index=0, config=CONFIG) for i in (0, 1)]


def test_loads_latest_or_by_id(store: LocalStore) -> None:
    assert Predictor.from_store(store, task="burn-depth").model_id == "m-new"
    old = Predictor.from_store(store, "m-old")
    assert old.model_id == "m-old" and old.task == "burn-depth"
    assert old.model_version  # the record's version or creation time


def test_shapes_and_probabilities(store: LocalStore, captures: list[Capture]) -> None:
    pred = Predictor.from_store(store, "m-new", roi="patch").predict(captures[0])
    assert pred.depth_probs.shape == (6, 64, 64) and pred.depth_probs.dtype == np.float32
    np.testing.assert_allclose(pred.depth_probs.sum(axis=0), 1.0, atol=1e-5)
    assert pred.depth_map.dtype == np.uint8 and pred.depth_map.shape == (64, 64)
    np.testing.assert_array_equal(pred.depth_map, pred.depth_probs.argmax(axis=0))
    assert pred.healing_prob is not None and pred.healing_prob.dtype == np.float32
    assert ((pred.healing_prob >= 0) & (pred.healing_prob <= 1)).all()
    assert (pred.healing_prob[pred.depth_map == 0] == 0).all()
    assert ((pred.uncertainty >= 0) & (pred.uncertainty <= 1)).all()
    arrays = pred.arrays()
    assert arrays["depth"].dtype == np.uint8
    assert arrays["healing_prob"].dtype == np.float16
    assert arrays["uncertainty"].dtype == np.float16
    assert pred.timings_ms["predict"] > 0


def test_deterministic_and_batch_equals_single(store: LocalStore, captures: list[Capture]) -> None:
    predictor = Predictor.from_store(store, "m-new", roi="patch", overlap=0.5)
    batch = predictor.predict_many(captures)
    for capture, batched in zip(captures, batch, strict=True):
        single = predictor.predict(capture)
        np.testing.assert_array_equal(
            single.probabilities, predictor.predict(capture).probabilities
        )
        np.testing.assert_allclose(batched.probabilities, single.probabilities, atol=1e-5)
    assert not np.allclose(batch[0].probabilities, batch[1].probabilities)


def test_mixed_shapes_keep_order(store: LocalStore, captures: list[Capture]) -> None:
    predictor = Predictor.from_store(store, "m-new")
    small = captures[1].cube[:, :48, :40]
    preds = predictor.predict_many([captures[0], small, captures[1]])
    assert [p.labels.shape for p in preds] == [(64, 64), (48, 40), (64, 64)]


def test_whole_image_window_rounds_up(store: LocalStore, captures: list[Capture]) -> None:
    predictor = Predictor.from_store(store, "m-new", roi="whole")
    assert predictor.roi_size((50, 61)) == (50, 62)  # the tiny net has one stride of 2
    pred = predictor.predict(captures[0].cube[:, :50, :61])
    assert pred.labels.shape == (50, 61)
    np.testing.assert_allclose(pred.probabilities.sum(axis=0), 1.0, atol=1e-5)


def test_tta_is_flip_equivariant(store: LocalStore, captures: list[Capture]) -> None:
    cube = captures[0].cube
    plain = Predictor.from_store(store, "m-new", roi="whole")
    tta = Predictor.from_store(store, "m-new", roi="whole", tta=True)
    a = tta.predict(cube)
    b = tta.predict(np.ascontiguousarray(cube[:, :, ::-1]))
    # averaging over the flip group makes the prediction commute with a flip
    np.testing.assert_allclose(a.probabilities, b.probabilities[:, :, ::-1], atol=1e-5)
    # the single pass does not (random weights, asymmetric kernels)
    p = plain.predict(cube)
    q = plain.predict(np.ascontiguousarray(cube[:, :, ::-1]))
    assert not np.allclose(p.probabilities, q.probabilities[:, :, ::-1], atol=1e-3)
    assert not np.allclose(a.probabilities, p.probabilities, atol=1e-4)


def test_wound_mask_model(store: LocalStore, captures: list[Capture]) -> None:
    pred = Predictor.from_store(store, task="wound-mask").predict(captures[0])
    assert pred.task == "wound-mask" and pred.healing_prob is None
    assert pred.probabilities.shape == (2, 64, 64)
    np.testing.assert_allclose(pred.wound_prob, pred.probabilities[1])
    assert set(pred.arrays()) == {"wound", "wound_prob", "uncertainty"}
    with pytest.raises(ValueError, match="no depth"):
        _ = pred.depth_map


def test_band_mismatch_raises(store: LocalStore, captures: list[Capture]) -> None:
    with pytest.raises(BandMismatchError, match="8 bands"):
        Predictor.from_store(store, "m-new").predict(captures[0].cube[:6])


def test_capture_with_other_wavelengths_is_refused(
    store: LocalStore, captures: list[Capture]
) -> None:
    shifted = tuple(w + 10.0 for w in captures[0].wavelengths)  # beyond the 5 nm tolerance
    other = dataclasses.replace(captures[0], wavelengths=shifted)
    predictor = Predictor.from_store(store, "m-new")
    with pytest.raises(BandMismatchError, match="wavelengths: band 0 is"):
        predictor.predict(other)
    near = tuple(w + 2.0 for w in captures[0].wavelengths)  # within it: same band set
    assert predictor.predict(dataclasses.replace(captures[0], wavelengths=near)).labels.shape


def test_saved_inference_settings_are_the_defaults(tmp_path: Path) -> None:
    """A model's saved settings (window, overlap, TTA) drive the predictor unless overridden."""
    s = LocalStore(tmp_path / "home")
    s.init()
    register(s, "m-tta", inference={"roi": "patch", "overlap": 0.5, "tta": True})
    saved = Predictor.from_store(s, "m-tta")
    assert (saved.roi, saved.overlap, saved.tta) == ("patch", 0.5, True)
    unset = Predictor.from_store(s, "m-tta", roi=None, overlap=None, tta=None)  # `wound predict`
    assert (unset.roi, unset.overlap, unset.tta) == ("patch", 0.5, True)
    override = Predictor.from_store(s, "m-tta", roi="whole", tta=False)
    assert (override.roi, override.overlap, override.tta) == ("whole", 0.5, False)


@pytest.mark.parametrize(
    ("strides", "divisor"), [((2,), 2), ((2, 2, 2), 8), ((2, 1, 2), 4), ((3, 2), 6)]
)
def test_unet_size_divisor_is_the_product_of_strides(
    strides: tuple[int, ...], divisor: int
) -> None:
    """MONAI's UNet accepts exactly the sizes divisible by the product of its strides."""
    spec = NetworkSpec(
        in_channels=2,
        out_channels=2,
        channels=(2,) * (len(strides) + 1),
        strides=strides,
        num_res_units=0,
    )
    assert size_divisor(spec) == divisor
    net = build_network(spec).eval()
    with torch.no_grad():
        ok = net(torch.zeros(1, 2, 2 * divisor, 3 * divisor))
        assert ok.shape[-2:] == (2 * divisor, 3 * divisor)
        if divisor > 2:  # a multiple of 2 ** (levels) or of a smaller product fails
            with pytest.raises(RuntimeError):
                net(torch.zeros(1, 2, 2 * divisor + 2, 2 * divisor + 2))


@pytest.mark.parametrize("threshold", [0.5, 0.3])
def test_postprocessing_matches_the_documented_definitions(threshold: float) -> None:
    """The fused per-class pass equals argmax and ``1 - p_wound_right * p_heal_right``."""
    from wound.predict import _labels_uncertainty

    gen = torch.Generator().manual_seed(0)
    probs = torch.softmax(torch.randn(2, 6, 16, 16, generator=gen) * 3, dim=1)
    probs[0, :, 0, 0] = torch.tensor([0.1, 0.3, 0.3, 0.1, 0.1, 0.1])  # a tie: first class wins
    probs[0, :, 0, 1] = 1 / 6  # uniform: called background, wound with probability 4/6
    heal = torch.rand(2, 16, 16, generator=gen)
    p, h = probs.numpy().copy(), heal.numpy().copy()
    labels, unc = _labels_uncertainty(probs, heal, threshold, (2, 3, 4, 5))
    want_labels = p.argmax(axis=1)
    np.testing.assert_array_equal(labels.numpy(), want_labels)
    assert labels.dtype == torch.uint8 and labels[0, 0, 0] == 1
    h[want_labels == 0] = 0.0
    heal_right = np.where(h >= threshold, h, 1 - h)
    p_wound = p[:, 2:].sum(axis=1)
    wound_right = np.where(want_labels >= 2, p_wound, 1 - p_wound)
    want = 1 - wound_right * heal_right
    np.testing.assert_allclose(unc.numpy(), want, atol=1e-5)
    np.testing.assert_allclose(heal.numpy(), h)  # zeroed outside skin, in place
    assert unc[0, 0, 1] == pytest.approx(4 / 6, abs=1e-5)  # background called, 4/6 wound


def test_batch_norm_model_round_trips_with_its_running_statistics(tmp_path: Path) -> None:
    """``network.norm: batch`` is saved with the model: the predictor rebuilds batch norm, loads
    the trained running statistics and runs in eval mode (old records default to instance)."""
    assert NetworkSpec().norm == "instance"
    store = LocalStore(tmp_path)
    store.init()
    info = tiny_info("wound-mask", norm="batch")
    network = build_network(info.network)
    norms = [m for m in network.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert norms
    for m in norms:
        m.running_mean.fill_(0.5)
        m.running_var.fill_(2.0)
    store.put_model(
        "m-bn",
        {"weights.pt": weights_to_bytes(network)},
        task="wound-mask",
        info=info.model_dump(mode="json"),
    )
    predictor = Predictor.from_store(store, "m-bn", device="cpu")
    loaded = [m for m in predictor.network.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(loaded) == len(norms) and not predictor.network.training
    assert all(torch.all(m.running_mean == 0.5) and torch.all(m.running_var == 2.0) for m in loaded)
