"""Exports: TorchScript and ONNX parity with torch, MONAI bundle run as a subprocess."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from monai.bundle import ConfigParser

from training.export import (
    ExportError,
    export_model,
    network_target,
    to_onnx,
    to_torchscript,
    write_bundle,
)
from wound.networks import ModelInfo, NetworkSpec, build_network
from wound.predict import Predictor

WAVELENGTHS = (500.0, 600.0, 700.0, 800.0)


def _info(spec: NetworkSpec, task: str = "burn-depth") -> ModelInfo:
    return ModelInfo(
        task=task,  # type: ignore[arg-type]
        network=spec,
        wavelengths_nm=WAVELENGTHS[: spec.in_channels],
        band_mean=tuple(0.1 * (k + 1) for k in range(spec.in_channels)),
        band_std=(0.5,) * spec.in_channels,
        patch_size=(32, 32),
    )


@pytest.fixture(scope="module")
def tiny() -> tuple[torch.nn.Module, ModelInfo]:
    torch.manual_seed(0)
    spec = NetworkSpec(in_channels=4, out_channels=7, channels=(4, 8, 16), strides=(2, 2))
    return build_network(spec).eval(), _info(spec)


def _load_ts(data: bytes) -> torch.jit.ScriptModule:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit.load is deprecated
        return torch.jit.load(io.BytesIO(data))


def test_torchscript_matches_on_new_shape(tiny: tuple[torch.nn.Module, ModelInfo]) -> None:
    model, info = tiny
    reloaded = _load_ts(to_torchscript(model, info))
    x = torch.randn(2, 4, 48, 64, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        assert torch.allclose(reloaded(x), model(x), atol=1e-5)


def test_onnx_runtime_parity_dynamic_axes(tiny: tuple[torch.nn.Module, ModelInfo]) -> None:
    model, info = tiny
    data = to_onnx(model, info)
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    for shape in [(1, 4, 32, 32), (3, 4, 64, 96)]:  # batch, height, width all dynamic
        x = torch.randn(*shape, generator=torch.Generator().manual_seed(2))
        (out,) = session.run(["logits"], {"bands": x.numpy()})
        with torch.inference_mode():
            ref = model(x).numpy()
        assert out.shape == ref.shape
        assert np.abs(out - ref).max() < 1e-4


def test_export_model_writes_files(tiny: tuple[torch.nn.Module, ModelInfo], tmp_path: Path) -> None:
    model, info = tiny
    ts = export_model(model, info, "torchscript", tmp_path / "m.ts")
    assert ts.stat().st_size > 0
    with pytest.raises(ExportError, match="unknown export format"):
        export_model(model, info, "pickle", tmp_path / "m.pkl")


@pytest.mark.parametrize(
    "spec",
    [
        NetworkSpec(name="unet", in_channels=3, out_channels=2, channels=(4, 8), strides=(2,)),
        NetworkSpec(
            name="unet", in_channels=3, out_channels=2, channels=(4, 8), strides=(2,), norm="batch"
        ),
        NetworkSpec(name="segresnet", in_channels=3, out_channels=2, channels=(8,)),
    ],
)
def test_bundle_network_matches_factory(spec: NetworkSpec) -> None:
    parser = ConfigParser({"net": network_target(spec)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # MONAI's "config runs code" notice
        net = parser.get_parsed_content("net")
    ours = build_network(spec)
    net.load_state_dict(ours.state_dict())  # strict: same architecture, same parameter names
    assert type(net) is type(ours)


def test_monai_bundle_runs(tiny: tuple[torch.nn.Module, ModelInfo], tmp_path: Path) -> None:
    model, info = tiny
    bundle = write_bundle(model, info, tmp_path / "bundle", model_id="m-test")
    for rel in ("configs/metadata.json", "configs/inference.json", "models/model.pt"):
        assert (bundle / rel).is_file(), rel
    meta = json.loads((bundle / "configs/metadata.json").read_text())
    assert meta["network_data_format"]["inputs"]["image"]["num_channels"] == 4
    cube = np.random.default_rng(3).random((4, 40, 56)).astype(np.float32)  # not a patch multiple
    np.save(tmp_path / "cube.npy", cube)
    out_file = tmp_path / "out" / "prob.npy"
    cmd = [
        sys.executable, "-m", "monai.bundle", "run",
        "--config_file", "configs/inference.json",
        "--input_file", str(tmp_path / "cube.npy"),
        "--output_file", str(out_file),
    ]  # fmt: skip
    proc = subprocess.run(cmd, cwd=bundle, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    prob = np.load(out_file)
    predictor = Predictor(model, info, device="cpu", roi="patch")  # the bundle's window
    with torch.inference_mode():
        logits = predictor.forward_logits(predictor.normalise([cube]))[0]
    expected = torch.cat([logits[:6].softmax(0), logits[6:].sigmoid()]).numpy()
    assert prob.shape == (7, 40, 56)
    assert np.abs(prob - expected).max() < 1e-5
    assert np.allclose(prob[:6].sum(0), 1.0, atol=1e-5)


def test_ensemble_exports_as_onnx_and_torchscript_not_as_a_bundle(
    tiny: tuple[torch.nn.Module, ModelInfo], tmp_path: Path
) -> None:
    from wound.ensemble import build_ensemble

    model, info = tiny
    torch.manual_seed(1)
    other = build_network(info.network).eval()
    ens_info, ensemble = build_ensemble([(info, model), (info, other)], ["a", "b"])
    for fmt, name in (("onnx", "e.onnx"), ("torchscript", "e.ts")):  # each export checks parity
        assert export_model(ensemble, ens_info, fmt, tmp_path / name).stat().st_size > 0
    with pytest.raises(ExportError, match="ensemble has no MONAI bundle"):
        write_bundle(ensemble, ens_info, tmp_path / "bundle")
    assert not (tmp_path / "bundle").exists()  # nothing half-written
