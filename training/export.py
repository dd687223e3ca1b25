"""Export a trained network: TorchScript, ONNX (checked with onnxruntime) and a MONAI bundle.

Every export takes raw logits semantics from the network (``out_channels x H x W``); the band
normalisation ``(x - band_mean) / band_std`` happens before the exported graph for TorchScript and
ONNX (callers apply it, as :func:`training.evaluate.predict_logits` does) and inside the MONAI
bundle's preprocessing. Each exporter reloads its output and checks it against the torch model on
a sample input, raising :class:`ExportError` when they disagree.
"""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from wound.engines import EngineError, export_onnx
from wound.errors import WoundError
from wound.networks import ModelInfo, NetworkSpec
from wound.tasks import get_task

ONNX_TOLERANCE = 1e-4


class ExportError(WoundError):
    """An export failed or does not reproduce the torch model's output."""


def sample_input(info: ModelInfo, *, batch: int = 1, seed: int = 0) -> torch.Tensor:
    """A normalised random input of one patch (``batch x bands x patch``)."""
    g = torch.Generator().manual_seed(seed)
    h, w = info.patch_size
    return torch.randn(batch, info.network.in_channels, h, w, generator=g)


def _max_diff(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray) -> float:
    return float(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)).max())


# --- TorchScript ------------------------------------------------------------------------------


def to_torchscript(model: nn.Module, info: ModelInfo) -> bytes:
    """``torch.jit.script`` (falls back to ``trace`` on a patch); reloaded and compared."""
    model = model.cpu().eval()
    x = sample_input(info)
    with warnings.catch_warnings():
        # torch 2.x marks TorchScript deprecated (in favour of torch.export); it is still the
        # format deployments load without Python. Tracing warns about shape checks it freezes.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        try:
            scripted: Any = torch.jit.script(model)
        except Exception:  # not every network compiles: trace it instead
            scripted = torch.jit.trace(model, x)
        buf = io.BytesIO()
        torch.jit.save(scripted, buf)
        data = buf.getvalue()
        reloaded = torch.jit.load(io.BytesIO(data), map_location="cpu")
    with torch.inference_mode():
        diff = _max_diff(reloaded(x), model(x))
    if diff > 1e-5:
        raise ExportError(f"TorchScript export differs from the model by {diff:.2e}")
    return data


# --- ONNX -------------------------------------------------------------------------------------


def to_onnx(model: nn.Module, info: ModelInfo) -> bytes:
    """ONNX graph with dynamic batch / height / width (input ``bands``, output ``logits``): the
    graph the onnxruntime inference engine runs (:func:`wound.engines.export_onnx`, one exporter
    for both), checked here with onnxruntime to ``ONNX_TOLERANCE`` (``check_onnx``).
    """
    try:
        data = export_onnx(model, info)
    except EngineError as exc:
        raise ExportError(str(exc)) from None
    diff = check_onnx(data, model, sample_input(info))
    if diff > ONNX_TOLERANCE:
        raise ExportError(f"onnxruntime output differs from torch by {diff:.2e}")
    return data


def check_onnx(onnx_bytes: bytes, model: nn.Module, x: torch.Tensor) -> float:
    """Largest absolute difference between onnxruntime and torch outputs on ``x``."""
    import onnxruntime as ort

    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    (out,) = session.run(["logits"], {"bands": x.numpy().astype(np.float32)})
    with torch.inference_mode():
        ref = model.cpu().eval()(x)
    return _max_diff(out, ref)


# --- MONAI bundle -----------------------------------------------------------------------------


def network_target(spec: NetworkSpec) -> dict[str, Any]:
    """The ``_target_`` config of :func:`wound.networks.build_network` for ``spec``."""
    if spec.ensemble > 1:
        raise ExportError(
            "an ensemble has no MONAI bundle network: export it as torchscript or onnx"
        )
    common = {"in_channels": spec.in_channels, "out_channels": spec.out_channels}
    if spec.name == "unet":
        return {
            "_target_": "monai.networks.nets.UNet",
            "spatial_dims": 2,
            **common,
            "channels": list(spec.channels),
            "strides": list(spec.strides),
            "num_res_units": spec.num_res_units,
            "dropout": spec.dropout,
            "norm": spec.norm,
        }
    if spec.name == "segresnet":
        return {
            "_target_": "monai.networks.nets.SegResNet",
            "spatial_dims": 2,
            **common,
            "init_filters": spec.channels[0],
            "dropout_prob": spec.dropout or None,
        }
    if spec.name == "flexunet":
        return {
            "_target_": "monai.networks.nets.FlexibleUNet",
            **common,
            "backbone": spec.backbone,
            "pretrained": False,
            "spatial_dims": 2,
        }
    if spec.name == "swinunetr":
        return {
            "_target_": "monai.networks.nets.SwinUNETR",
            **common,
            "spatial_dims": 2,
            "feature_size": spec.feature_size,
        }
    raise ExportError(f"no bundle network for {spec.name!r}")


def _postprocessing(info: ModelInfo) -> str:
    """The task's heads activated (:mod:`wound.tasks`), concatenated along the channels."""
    heads = get_task(info.task).heads
    if len(heads) == 1:
        return f"$lambda y: torch.{heads[0].activation}(y, dim=1)"
    parts = [
        f"torch.softmax(y[:, {h.start}:{h.stop}], dim=1)"
        if h.activation == "softmax"
        else f"torch.sigmoid(y[:, {h.start}:{h.stop}])"
        for h in heads
    ]
    return f"$lambda y: torch.cat([{', '.join(parts)}], dim=1)"


def bundle_inference_config(info: ModelInfo) -> dict[str, Any]:
    """``configs/inference.json``: .npy cube (bands x H x W) in, probabilities .npy out."""
    return {
        "imports": ["$import os", "$import numpy as np", "$import torch"],
        "bundle_root": ".",
        "device": "$torch.device('cuda' if torch.cuda.is_available() else 'cpu')",
        "input_file": "$@bundle_root + '/sample/input.npy'",
        "output_file": "$@bundle_root + '/eval/probabilities.npy'",
        "band_mean": list(info.band_mean),
        "band_std": list(info.band_std),
        "network_def": network_target(info.network),
        "network": "$@network_def.to(@device)",
        "checkpoint": (
            "$torch.load(@bundle_root + '/models/model.pt', map_location=@device, "
            "weights_only=True)"
        ),
        "preprocessing": {
            "_target_": "Compose",
            "transforms": [
                {
                    "_target_": "LoadImage",
                    "reader": "NumpyReader",
                    "image_only": True,
                    "channel_dim": 0,
                },
                {"_target_": "EnsureType", "dtype": "$torch.float32", "track_meta": False},
                {
                    "_target_": "NormalizeIntensity",
                    "subtrahend": "@band_mean",
                    "divisor": "@band_std",
                    "channel_wise": True,
                },
            ],
        },
        "inferer": {
            "_target_": "SlidingWindowInferer",
            "roi_size": list(info.patch_size),
            "sw_batch_size": info.inference.sw_batch_size,
            "overlap": info.inference.overlap,
            "mode": "gaussian",
        },
        "postprocessing": _postprocessing(info),
        "image": "$@preprocessing(@input_file)[None].to(@device)",
        "probabilities": "$@postprocessing(@inferer(@image, @network))[0].cpu().numpy()",
        "initialize": [
            "$torch.set_grad_enabled(False)",
            "$@network.load_state_dict(@checkpoint)",
            "$@network.eval()",
        ],
        "run": [
            "$os.makedirs(os.path.dirname(os.path.abspath(@output_file)), exist_ok=True)",
            "$np.save(@output_file, @probabilities)",
        ],
    }


def bundle_metadata(info: ModelInfo, *, model_id: str | None = None) -> dict[str, Any]:
    """``configs/metadata.json`` in the MONAI model-zoo layout."""
    import monai

    spec = get_task(info.task)
    channels = {str(k): f"p({v})" for k, v in spec.class_names.items()}
    for head in spec.heads[1:]:
        for c in range(head.start, head.stop):
            channels[str(c)] = f"p({head.description or head.name})"
    return {
        "schema": "https://github.com/Project-MONAI/MONAI-extra-test-data/releases/download/"
        "0.8.1/meta_schema_20220324.json",
        "version": "0.1.0",
        "changelog": {"0.1.0": f"exported from the wound model registry ({model_id or 'model'})"},
        "monai_version": monai.__version__,
        "pytorch_version": torch.__version__.split("+")[0],
        "numpy_version": np.__version__,
        "required_packages_version": {},
        "name": f"wound {info.task} ({model_id or 'model'})",
        "task": f"Multispectral wound imaging: {info.task}",
        "description": (
            "2-D segmentation of a multispectral reflectance cube. Predictions are an aid to the "
            "clinician; the non-healing contour is not an excision margin."
        ),
        "authors": "wound-imaging",
        "copyright": "wound-imaging",
        "intended_use": "Research and decision support only; not a diagnosis.",
        "wavelengths_nm": list(info.wavelengths_nm),
        "network_data_format": {
            "inputs": {
                "image": {
                    "type": "image",
                    "format": "magnitude",
                    "modality": "multispectral reflectance",
                    "num_channels": info.network.in_channels,
                    "spatial_shape": list(info.patch_size),
                    "dtype": "float32",
                    "value_range": [0, 1],
                    "is_patch_data": True,
                    "channel_def": {str(i): f"{w:g} nm" for i, w in enumerate(info.wavelengths_nm)},
                }
            },
            "outputs": {
                "pred": {
                    "type": "image",
                    "format": "probabilities",
                    "num_channels": info.network.out_channels,
                    "spatial_shape": list(info.patch_size),
                    "dtype": "float32",
                    "value_range": [0, 1],
                    "is_patch_data": True,
                    "channel_def": channels,
                }
            },
        },
    }


def write_bundle(
    model: nn.Module, info: ModelInfo, out: Path, *, model_id: str | None = None
) -> Path:
    """A MONAI bundle folder; run it with
    ``python -m monai.bundle run --config_file configs/inference.json`` from inside ``out``
    (or add ``--bundle_root OUT``), optionally ``--input_file X.npy --output_file Y.npy``."""
    out = Path(out)
    config = bundle_inference_config(info)  # before any file: an ensemble has none
    (out / "configs").mkdir(parents=True, exist_ok=True)
    (out / "models").mkdir(exist_ok=True)
    (out / "configs" / "inference.json").write_text(json.dumps(config, indent=2))
    (out / "configs" / "metadata.json").write_text(
        json.dumps(bundle_metadata(info, model_id=model_id), indent=2)
    )
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save(state, out / "models" / "model.pt")
    (out / "models" / "model.ts").write_bytes(to_torchscript(model, info))
    (out / "README.md").write_text(
        f"# wound {info.task} bundle\n\n"
        "Input: a `.npy` float32 reflectance cube, bands x height x width, bands "
        f"{', '.join(f'{w:g}' for w in info.wavelengths_nm)} nm.\n"
        "Output: per-pixel probabilities, channels as in configs/metadata.json.\n\n"
        "    python -m monai.bundle run --config_file configs/inference.json \\\n"
        "        --input_file cube.npy --output_file probabilities.npy\n\n"
        "Predictions are an aid to the clinician; the non-healing contour is not an excision "
        "margin.\n"
    )
    return out


def export_model(
    model: nn.Module, info: ModelInfo, fmt: str, out: Path, *, model_id: str | None = None
) -> Path:
    """Write ``fmt`` ("torchscript", "onnx" or "bundle") to ``out`` (file, or folder for bundle)."""
    out = Path(out)
    if fmt == "bundle":
        return write_bundle(model, info, out, model_id=model_id)
    if fmt == "torchscript":
        data = to_torchscript(model, info)
    elif fmt == "onnx":
        data = to_onnx(model, info)
    else:
        raise ExportError(f"unknown export format {fmt!r} (torchscript, onnx or bundle)")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    return out
