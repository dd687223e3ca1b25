"""Engine comparison: the bare forward pass of torch (eager) vs onnxruntime, per input size.

Same weights (the default model of ``configs/burn-depth.yaml``, random) and the same normalised
input; each engine as the predictor builds it (:mod:`wound.engines`: torch with AMP and
channels-last on CUDA; onnxruntime with torch's thread count, the ONNX graph exported and checked
once). The two are timed alternately so both see the same machine load; median of ``--repeats``.
Also the largest |logit| difference between the two, and the one-off export time.
Usage: python benchmarks/engines.py [--sizes 256x256,512x512,1024x1280] [--repeats 7]
Writes bench-out/engines.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch
from default_model import default_spec  # benchmarks/default_model.py (the script folder)

from wound.engines import OnnxRuntimeEngine, TorchEngine, export_onnx
from wound.networks import ModelInfo, build_network


def timed(engine: object, x: torch.Tensor) -> float:
    t0 = time.perf_counter()
    engine(x)  # type: ignore[operator]
    return (time.perf_counter() - t0) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="256x256,512x512,1024x1280")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("bench-out/engines.json"))
    args = parser.parse_args()
    spec = default_spec()
    info = ModelInfo(
        task="burn-depth",
        network=spec,
        wavelengths_nm=(450, 500, 550, 600, 650, 700, 800, 900),
        band_mean=(0.3,) * 8,
        band_std=(0.15,) * 8,
        patch_size=(128, 128),
    )
    torch.manual_seed(0)
    network = build_network(spec).eval()
    t0 = time.perf_counter()
    graph = export_onnx(network, info)
    export_s = time.perf_counter() - t0
    engines = {
        "torch": TorchEngine(network, amp=False, channels_last=False),
        "onnxruntime": OnnxRuntimeEngine(graph),
    }
    rows = []
    for size in args.sizes.split(","):
        h, w = (int(v) for v in size.split("x"))
        x = torch.randn(1, 8, h, w, generator=torch.Generator().manual_seed(1))
        times: dict[str, list[float]] = {name: [] for name in engines}
        with torch.inference_mode():
            outs = {name: engine(x) for name, engine in engines.items()}  # warm-up
            for _ in range(args.repeats):
                for name, engine in engines.items():
                    times[name].append(timed(engine, x))
        diff = float((outs["torch"] - outs["onnxruntime"]).abs().max())
        med = {name: statistics.median(v) for name, v in times.items()}
        rows.append(
            {
                "shape": [1, 8, h, w],
                "torch_ms": med["torch"],
                "onnxruntime_ms": med["onnxruntime"],
                "speedup": med["torch"] / med["onnxruntime"],
                "max_abs_logit_diff": diff,
            }
        )
    result = {
        "device": "cpu",
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
        "export_s": export_s,
        "onnx_bytes": len(graph),
        "sizes": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(
        f"Engines, bare forward, median of {args.repeats} (cpu, {torch.get_num_threads()} "
        f"threads; export + check once: {export_s:.1f} s)"
    )
    print(f"{'input':>18}{'torch ms':>10}{'onnxrt ms':>11}{'ratio':>8}{'max |dlogit|':>14}")
    for r in rows:
        shape = "x".join(str(v) for v in r["shape"])
        print(
            f"{shape:>18}{r['torch_ms']:10.0f}{r['onnxruntime_ms']:11.0f}"
            f"{r['speedup']:7.2f}x{r['max_abs_logit_diff']:14.1e}"
        )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
