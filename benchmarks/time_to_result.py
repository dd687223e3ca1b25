"""Time to result: one 1024x1280x8-band TIFF on disk -> wound score stored, vs the bare forward.

Each run (``wound.pipeline.score_file``, what ``wound predict FILE`` does): read the file
(``wound.io.read_capture``); ingest it into a fresh embedded store (``put_capture``: validate,
checksum, TIFF + preview objects, record) in a lower-priority thread while the quality gate,
prediction (``Predictor``: MONAI sliding-window inferer, one whole-image window) and score run;
then store the verdict and the prediction. The stages listed overlap the ingest, which is not
listed. The baseline is the same model's bare forward pass (``network(x)`` under
``torch.inference_mode`` on the normalised input) on the same cube. Reports p50/p95 over
``--runs`` runs and the stage breakdown; the ratio is the median over runs of (total -
forward) / forward, each run paired with the forward timed just before it.

Targets: everything around the forward pass <= 50% of it; total < 1 s on 2 CPU cores with the
default model (a small MONAI UNet, random weights unless ``--home``/``--model`` name a trained one).
Usage: python benchmarks/time_to_result.py [--runs 10] [--height 1024] [--width 1280]
Writes bench-out/time_to_result.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from default_model import default_spec  # benchmarks/default_model.py (the script folder)

from wound.io import ReadLimits, write_capture
from wound.networks import ModelInfo, build_network, weights_to_bytes
from wound.phantom import PhantomConfig, synth_capture
from wound.pipeline import score_file
from wound.predict import Predictor
from wound.store import LocalStore
from wound.store.base import CaptureStore

DEFAULT_SPEC = default_spec()
KEY = b"bench-pseudonym-key"


def register_default(store: CaptureStore, wavelengths: tuple[float, ...]) -> str:
    torch.manual_seed(0)
    info = ModelInfo(
        task="burn-depth",
        network=DEFAULT_SPEC,
        wavelengths_nm=wavelengths,
        band_mean=(0.3,) * 8,
        band_std=(0.15,) * 8,
        patch_size=(128, 128),
    )
    weights = weights_to_bytes(build_network(DEFAULT_SPEC))
    store.put_model(
        "bench-default",
        {"weights.pt": weights},
        task="burn-depth",
        info=info.model_dump(mode="json"),
    )
    return "bench-default"


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--height", type=int, default=1024)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--device", default=None, help="cpu / cuda (default: auto)")
    parser.add_argument("--home", type=Path, default=None, help="Store holding a trained model.")
    parser.add_argument("--model", default=None, help="Model id in --home (default: latest).")
    parser.add_argument("--out", type=Path, default=Path("bench-out/time_to_result.json"))
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="ttr-"))
    try:
        config = PhantomConfig(height=args.height, width=args.width)
        capture = synth_capture(seed=0, subject_index=0, capture_index=0, config=config)
        path = work / "capture.tif"
        write_capture(capture, path)
        model_store: CaptureStore
        if args.home:
            model_store = LocalStore(args.home)
            model_id = model_store.get_model(args.model, task="burn-depth").model_id
        else:
            model_store = LocalStore(work / "models")
            model_store.init()
            model_id = register_default(model_store, capture.wavelengths)
        predictor = Predictor.from_store(model_store, model_id, device=args.device)
        limits = ReadLimits()

        # Baseline: the bare forward pass on the same normalised input, timed just before each
        # pipeline run so both see the same machine load (the CPUs may be shared).
        with torch.inference_mode():
            x = predictor.normalise([capture.cube])
            if predictor.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)

        def bare_forward() -> float:
            with torch.inference_mode():
                t0 = time.perf_counter()
                predictor._network_call(x)
                if predictor.device.type == "cuda":
                    torch.cuda.synchronize()
                return (time.perf_counter() - t0) * 1000

        forward: list[float] = []
        totals: list[float] = []
        stages: dict[str, list[float]] = {}
        for run in range(args.runs + 1):  # run 0 warms up
            home = work / f"store-{run}"
            store = LocalStore(home)
            store.init()
            fwd = bare_forward()
            t0 = time.perf_counter()
            outcome = score_file(store, predictor, path, pseudonym_key=KEY, read_limits=limits)
            total = (time.perf_counter() - t0) * 1000
            assert outcome.status == "scored", outcome
            shutil.rmtree(home, ignore_errors=True)
            if run == 0:
                continue
            forward.append(fwd)
            totals.append(total)
            for name, ms in outcome.timings_ms.items():
                stages.setdefault(name, []).append(ms)

        fwd50 = pct(forward, 50)
        around = [t - f for t, f in zip(totals, forward, strict=True)]
        ratios = [a / f for a, f in zip(around, forward, strict=True)]
        result = {
            "shape": [8, args.height, args.width],
            "device": str(predictor.device),
            "torch_threads": torch.get_num_threads(),
            "platform": platform.platform(),
            "model": model_id,
            "roi": predictor.roi_size((args.height, args.width)),
            "runs": args.runs,
            "total_ms": {"p50": pct(totals, 50), "p95": pct(totals, 95)},
            "forward_ms": {"p50": fwd50, "p95": pct(forward, 95)},
            "around_forward_ms": {"p50": pct(around, 50), "p95": pct(around, 95)},
            "around_over_forward_p50": pct(ratios, 50),
            "stages_ms_p50": {k: statistics.median(v) for k, v in stages.items()},
            "targets": {"around_over_forward": 0.5, "total_ms_cpu": 1000},
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(
        f"Time to result, {args.height}x{args.width}x8 TIFF -> score stored ({result['device']}, "
        f"{result['torch_threads']} threads, {args.runs} runs)"
    )
    print(f"{'':28}{'p50 ms':>10}{'p95 ms':>10}")
    for name in ("total_ms", "forward_ms", "around_forward_ms"):
        print(f"{name:28}{result[name]['p50']:10.0f}{result[name]['p95']:10.0f}")
    print(
        "stages (p50 ms): " + ", ".join(f"{k} {v:.0f}" for k, v in result["stages_ms_p50"].items())
    )
    print(f"ratio around/forward (p50): {result['around_over_forward_p50']:.2f}  (target <= 0.50)")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
