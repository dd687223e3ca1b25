"""Batch inference throughput (captures/s) vs a naive per-capture sliding-window loop.

Same weights (the default small MONAI UNet, random) and the same phantom captures:

- naive: for each capture, ``monai.inferers.sliding_window_inference`` with MONAI's defaults
  (roi = the model's 128 x 128 patch, ``sw_batch_size=1``, overlap 0.25) under
  ``torch.no_grad``, then softmax / sigmoid / argmax;
- ours: ``Predictor.predict_many`` — same-shape captures stacked into batches (on the CPU
  ``CPU_BATCH_PIXELS``: 4 captures of 256 x 256, faster per capture than bigger ones), one
  whole-image window per capture (MONAI ``SlidingWindowInferer``, Gaussian blend),
  ``torch.inference_mode``, plus the full post-processing (probabilities, depth map, healing
  map, uncertainty).

Achieved GFLOP/s counts the useful FLOPs of one whole-image forward per capture
(``torch.utils.flop_counter.FlopCounterMode``) over the measured time, against a measured
``torch.matmul`` peak (float32; bfloat16 too on CUDA). Target: ours >= 3x naive.
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

from wound.networks import DEPTH_CHANNELS, HEALING_CHANNEL, ModelInfo, build_network
from wound.phantom import PhantomConfig, synth_capture
from wound.predict import Predictor

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
    sync(device)
    t0 = time.perf_counter()
    with torch.no_grad():
        for cube in cubes:
            x = ((torch.from_numpy(cube).to(device) - mean) / std)[None]
            logits = sliding_window_inference(
                x, info.patch_size, 1, net, overlap=0.25, mode="gaussian"
            )
            assert isinstance(logits, torch.Tensor)
            probs = torch.softmax(logits[:, DEPTH_CHANNELS], dim=1)
            heal = torch.sigmoid(logits[:, HEALING_CHANNEL])
            _ = probs.argmax(dim=1).cpu().numpy(), heal.cpu().numpy()
    sync(device)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--captures", type=int, default=24)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3, help="Best of this many timings.")
    parser.add_argument("--device", default=None)
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
    predictor = Predictor(net, info, model_id="bench", device=device)

    with FlopCounterMode(display=False) as counter, torch.no_grad():
        naive_net(torch.zeros(1, 8, args.size, args.size, device=device))
    flops_per_capture = counter.get_total_flops()

    naive(naive_net, cubes[:2], info, device)  # warm-up
    predictor.predict_many(cubes[:2])
    # Alternate the two so both see the same machine load; best of --repeats each.
    t_naive = t_ours = float("inf")
    for _ in range(args.repeats):
        t_naive = min(t_naive, naive(naive_net, cubes, info, device))
        sync(device)
        t0 = time.perf_counter()
        preds = predictor.predict_many(cubes)
        sync(device)
        t_ours = min(t_ours, time.perf_counter() - t0)
    assert len(preds) == len(cubes)

    peaks = {"float32": matmul_peak(device, torch.float32, 2048 if device.type == "cpu" else 8192)}
    if device.type == "cuda":
        peaks["bfloat16"] = matmul_peak(device, torch.bfloat16, 8192)
    n = len(cubes)
    result = {
        "device": str(device),
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
        "captures": n,
        "size": [8, args.size, args.size],
        "naive_captures_per_s": n / t_naive,
        "ours_captures_per_s": n / t_ours,
        "speedup": t_naive / t_ours,
        "gflop_per_capture": flops_per_capture / 1e9,
        "ours_gflop_per_s": flops_per_capture * n / t_ours / 1e9,
        "naive_useful_gflop_per_s": flops_per_capture * n / t_naive / 1e9,
        "matmul_peak_gflop_per_s": peaks,
        "ours_share_of_fp32_peak": flops_per_capture * n / t_ours / 1e9 / peaks["float32"],
        "amp": predictor.amp,
        "channels_last": predictor.channels_last,
        "target_speedup": 3.0,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"Batch inference, {n} captures of 8x{args.size}x{args.size} on {device}")
    print(f"{'':34}{'captures/s':>12}{'GFLOP/s':>10}")
    print(
        f"{'naive sliding_window_inference':34}{n / t_naive:12.2f}"
        f"{result['naive_useful_gflop_per_s']:10.1f}"
    )
    print(
        f"{'ours (Predictor.predict_many)':34}{n / t_ours:12.2f}{result['ours_gflop_per_s']:10.1f}"
    )
    print(
        f"speedup {result['speedup']:.2f}x (target >= 3x); "
        f"{result['gflop_per_capture']:.2f} GFLOP per capture; matmul peak "
        + ", ".join(f"{k} {v:.0f} GFLOP/s" for k, v in peaks.items())
        + f"; ours = {result['ours_share_of_fp32_peak']:.0%} of the fp32 peak"
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
