"""Ensembles (wound.ensemble): the mean of the members' probabilities, each member in its own
band normalisation; what cannot be ensembled is refused by name."""

from __future__ import annotations

import io

import pytest
import torch
from torch.nn import functional as F

from wound.calibration import Calibration
from wound.ensemble import EnsembleError, build_ensemble, ensemble_info
from wound.networks import (
    InferenceSettings,
    ModelInfo,
    NetworkSpec,
    build_network,
    load_network,
    weights_to_bytes,
)
from wound.tasks import get_task

BANDS = 3


def _member(task: str, mean: float, std: float) -> ModelInfo:
    spec = NetworkSpec(
        in_channels=BANDS,
        out_channels=get_task(task).out_channels,
        channels=(4, 8),
        strides=(2,),
        num_res_units=0,
    )
    return ModelInfo(
        task=task,
        network=spec,
        wavelengths_nm=(460.0, 540.0, 620.0),
        band_mean=(mean, mean + 0.1, mean - 0.1),
        band_std=(std, std * 2, std / 2),
        patch_size=(32, 32),
        inference=InferenceSettings(tta=True, input_size=32),
    )


def _members(task: str) -> list[tuple[ModelInfo, torch.nn.Module]]:
    out = []
    for seed, (mean, std) in enumerate([(0.4, 0.2), (0.5, 0.1), (0.3, 0.3)]):
        torch.manual_seed(seed)
        info = _member(task, mean, std)
        out.append((info, build_network(info.network).eval()))
    return out


def _normalise(x: torch.Tensor, info: ModelInfo) -> torch.Tensor:
    mean = torch.tensor(info.band_mean)[:, None, None]
    return (x - mean) / torch.tensor(info.band_std)[:, None, None]


@pytest.mark.parametrize("task", ["wound-mask", "burn-depth"])
def test_activation_is_the_mean_of_the_members_probabilities(task: str) -> None:
    members = _members(task)
    info, net = build_ensemble(members, ["a", "b", "c"])
    assert info.network.ensemble == 3 and info.task == task
    x = torch.rand(2, BANDS, 32, 32)  # reflectance
    spec = get_task(task)
    with torch.inference_mode():
        logits = net(_normalise(x, info))
        outs = [m(_normalise(x, i)) for i, m in members]
    cls = spec.class_head.channels
    want = torch.stack([F.softmax(o[:, cls], dim=1) for o in outs]).mean(0)
    torch.testing.assert_close(F.softmax(logits[:, cls], dim=1), want, atol=1e-5, rtol=1e-4)
    healing = spec.head("healing")
    if healing is not None:  # sigmoid head: the mean of the sigmoids
        want_h = torch.stack([torch.sigmoid(o[:, healing.start]) for o in outs]).mean(0)
        torch.testing.assert_close(
            torch.sigmoid(logits[:, healing.start]), want_h, atol=1e-5, rtol=1e-4
        )
    # not a trivial mean: the members disagree
    assert (outs[0] - outs[1]).abs().max() > 1e-2


def test_one_member_twice_is_that_member() -> None:
    (info, net), *_ = _members("wound-mask")
    _, twice = build_ensemble([(info, net), (info, net)], ["a", "b"])
    x = torch.rand(1, BANDS, 32, 32)
    with torch.inference_mode():
        want = F.softmax(net(_normalise(x, info)), dim=1)
        got = F.softmax(twice(_normalise(x, info)), dim=1)
    torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-5)


def test_saved_and_loaded_like_any_model() -> None:
    info, net = build_ensemble(_members("wound-mask"), ["a", "b", "c"])
    again = load_network(
        ModelInfo.model_validate(info.model_dump(mode="json")), weights_to_bytes(net)
    )
    x = torch.randn(1, BANDS, 32, 32)
    with torch.inference_mode():
        torch.testing.assert_close(again(x), net(x))
    state = torch.load(io.BytesIO(weights_to_bytes(net)), weights_only=True)
    assert {"scale", "shift"} <= set(state) and any(k.startswith("members.2.") for k in state)


def test_an_ensemble_is_not_built_for_training() -> None:
    with pytest.raises(ValueError, match="ensemble"):
        build_network(NetworkSpec(in_channels=BANDS, ensemble=2))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {
                "network": NetworkSpec(
                    in_channels=BANDS, out_channels=2, channels=(8, 16), strides=(2,)
                )
            },
            "network differs",
        ),
        ({"wavelengths_nm": (450.0, 540.0, 620.0)}, "wavelengths_nm differs"),
        ({"inference": InferenceSettings(tta=False, input_size=32)}, "inference differs"),
        ({"patch_size": (64, 64)}, "patch_size differs"),
        ({"calibration": Calibration(class_temperature=1.3)}, "is calibrated"),
        (
            {"network": NetworkSpec(in_channels=BANDS, out_channels=2, ensemble=2)},
            "itself an ensemble",
        ),
    ],
)
def test_models_that_differ_are_refused_by_name(change: dict[str, object], message: str) -> None:
    good = _member("wound-mask", 0.4, 0.2)
    bad = good.model_copy(update=change)
    with pytest.raises(EnsembleError, match=f"model m2.*{message}"):
        ensemble_info([good, bad], ["m1", "m2"])


def test_one_model_is_not_an_ensemble() -> None:
    with pytest.raises(EnsembleError, match="at least 2"):
        ensemble_info([_member("wound-mask", 0.4, 0.2)], ["m1"])
