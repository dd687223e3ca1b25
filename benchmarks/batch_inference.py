"""Batch inference throughput (captures/s) vs a naive per-capture sliding-window loop.

Same weights (the default small MONAI UNet, random) and the same phantom captures:

- naive: for each capture, ``monai.inferers.sliding_window_inference`` with MONAI's defaults
  (roi = the model's 128 x 128 patch, ``sw_batch_size=1``, overlap 0.25) under
  ``torch.no_grad``, then softmax / sigmoid / argmax;
- ours: ``Predictor.predict_many`` — same-shape captures stacked into batches (on the CPU
  ``CPU_BATCH_PIXELS``: 4 captures of 256 x 256, faster per capture than bigger ones), one
  whole-image window per capture (the predictor's single-window path, equal to MONAI's
  ``SlidingWindowInferer``), ``torch.inference_mode``, plus the full post-processing
  (probabilities, depth map, healing map, uncertainty); once per engine (``--engines``:
  torch and onnxruntime, :mod:`wound.engines`), same weights.

Achieved GFLOP/s counts the useful FLOPs of one whole-image forward per capture
(``torch.utils.flop_counter.FlopCounterMode``) over the measured time, against a measured
``torch.matmul`` peak (float32; bfloat16 too on CUDA). Targets: the default engine >= 3x naive
and >= 40% of the float32 matmul peak.
Usage: python benchmarks/batch_inference.py [--captures 24] [--size 256] [--device cpu]
Writes bench-out/batch_inference.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch
from default_model import default_spec  # benchmarks/default_model.py (the script folder)
from monai.inferers import sliding_window_inference
from torch.utils.flop_counter import FlopCounterMode

from wound.networks import ModelInfo, build_network
from wound.phantom import PhantomConfig, synth_capture
from wound.predict import Predictor
from wound.tasks import get_task

DEFAULT_SPEC = default_spec()


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_peak(device: torch.device, dtype: torch.dtype, n: int) -> float:
    """Best GFLOP/s of an n x n matmul (a few repeats)."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    torch.matmul(a, b)
    sync(device)
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        torch.matmul(a, b)
        sync(device)
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


def naive(
    net: torch.nn.Module, cubes: list[np.ndarray], info: ModelInfo, device: torch.device
) -> float:
    mean = torch.tensor(info.band_mean, device=device)[:, None, None]
    std = torch.tensor(info.band_std, device=device)[:, None, None]
    spec = get_task(info.task)
    healing = spec.head("healing")
    assert healing is not None
    sync(device)
    t0 = time.perf_counter()
    with torch.no_grad():
        for cube in cubes:
            x = ((torch.from_numpy(cube).to(device) - mean) / std)[None]
            logits = sliding_window_inference(
                x, info.patch_size, 1, net, overlap=0.25, mode="gaussian"
            )
            assert isinstance(logits, torch.Tensor)
            probs = torch.softmax(logits[:, spec.class_head.channels], dim=1)
            heal = torch.sigmoid(logits[:, healing.start])
            _ = probs.argmax(dim=1).cpu().numpy(), heal.cpu().numpy()
    sync(device)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--captures", type=int, default=24)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3, help="Best of this many timings.")
    parser.add_argument("--device", default=None)
    parser.add_argument("--engines", default=None, help="Default: torch,onnxruntime on CPU.")
    parser.add_argument(
        "--batch-pixels", type=int, default=None, help="Pixels per batch (default: predictor's)."
    )
    parser.add_argument("--out", type=Path, default=Path("bench-out/batch_inference.json"))
    args = parser.parse_args()
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))

    config = PhantomConfig(height=args.size, width=args.size)
    bases = [
        synth_capture(seed=2, subject_index=i, capture_index=0, config=config) for i in range(4)
    ]
    cubes = [
        np.ascontiguousarray(np.roll(bases[i % 4].cube, i // 4, axis=2))
        for i in range(args.captures)
    ]
    torch.manual_seed(0)
    net = build_network(DEFAULT_SPEC).eval()
    info = ModelInfo(
        task="burn-depth",
        network=DEFAULT_SPEC,
        wavelengths_nm=bases[0].wavelengths,
        band_mean=(0.3,) * 8,
        band_std=(0.15,) * 8,
        patch_size=(128, 128),
    )
    naive_net = build_network(DEFAULT_SPEC).to(device).eval()
    naive_net.load_state_dict(net.state_dict())
    names = (args.engines or ("torch,onnxruntime" if device.type == "cpu" else "torch")).split(",")
    predictors = {
        name: Predictor(
            net,
            info,
            model_id="bench",
            device=device,
            engine=name,
            max_batch_pixels=args.batch_pixels,
        )
        for name in names
    }

    with FlopCounterMode(display=False) as counter, torch.no_grad():
        naive_net(torch.zeros(1, 8, args.size, args.size, device=device))
    flops_per_capture = counter.get_total_flops()

    naive(naive_net, cubes[:2], info, device)  # warm-up
    for predictor in predictors.values():
        predictor.predict_many(cubes[:2])
    # Alternate them so all see the same machine load; best of --repeats each.
    t_naive = float("inf")
    t_ours = dict.fromkeys(predictors, float("inf"))
    n_peak = 2048 if device.type == "cpu" else 8192
    peak32 = 0.0
    for _ in range(args.repeats):
        peak32 = max(peak32, matmul_peak(device, torch.float32, n_peak))  # same load window
        t_naive = min(t_naive, naive(naive_net, cubes, info, device))
        for name, predictor in predictors.items():
            sync(device)
            t0 = time.perf_counter()
            preds = predictor.predict_many(cubes)
            sync(device)
            t_ours[name] = min(t_ours[name], time.perf_counter() - t0)
            assert len(preds) == len(cubes)

    peaks = {"float32": max(peak32, matmul_peak(device, torch.float32, n_peak))}
    if device.type == "cuda":
        peaks["bfloat16"] = matmul_peak(device, torch.bfloat16, 8192)
    n = len(cubes)
    gflop = flops_per_capture * n / 1e9
    ours = {
        name: {
            "captures_per_s": n / t,
            "gflop_per_s": gflop / t,
            "share_of_fp32_peak": gflop / t / peaks["float32"],
            "speedup_vs_naive": t_naive / t,
        }
        for name, t in t_ours.items()
    }
    default = "onnxruntime" if "onnxruntime" in ours and device.type == "cpu" else names[0]
    result = {
        "device": str(device),
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
        "captures": n,
        "size": [8, args.size, args.size],
        "gflop_per_capture": flops_per_capture / 1e9,
        "naive_captures_per_s": n / t_naive,
        "naive_useful_gflop_per_s": gflop / t_naive,
        "engines": ours,
        "default_engine": default,
        "speedup": ours[default]["speedup_vs_naive"],
        "ours_share_of_fp32_peak": ours[default]["share_of_fp32_peak"],
        "matmul_peak_gflop_per_s": peaks,
        "amp": any(p.amp for p in predictors.values()),
        "channels_last": any(p.channels_last for p in predictors.values()),
        "targets": {"speedup": 3.0, "share_of_fp32_peak": 0.4},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"Batch inference, {n} captures of 8x{args.size}x{args.size} on {device}")
    print(f"{'':34}{'captures/s':>12}{'GFLOP/s':>10}{'% peak':>8}{'vs naive':>10}")
    print(f"{'naive sliding_window_inference':34}{n / t_naive:12.2f}{gflop / t_naive:10.1f}")
    for name, r in ours.items():
        print(
            f"{'ours, ' + name:34}{r['captures_per_s']:12.2f}{r['gflop_per_s']:10.1f}"
            f"{r['share_of_fp32_peak']:8.0%}{r['speedup_vs_naive']:9.2f}x"
        )
    print(
        f"{result['gflop_per_capture']:.2f} GFLOP per capture; matmul peak "
        + ", ".join(f"{k} {v:.0f} GFLOP/s" for k, v in peaks.items())
        + f"; default engine ({default}): {result['speedup']:.2f}x naive (target >= 3x), "
        f"{result['ours_share_of_fp32_peak']:.0%} of the fp32 peak (target >= 40%)"
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
