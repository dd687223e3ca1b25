"""Time to result: one 1024x1280x8-band TIFF on disk -> wound score stored, per inference engine.

Each run (``wound.pipeline.score_file``, what ``wound predict FILE`` does): read the file; the
ingest's CPU work (``prepare_capture``: id, validation, TIFF + preview encoding, checksums) in a
thread beside the quality gate and then beside the prediction (``Predictor``: one whole-image
window; the engine's forward pass), which starts once the gate passes; the capture's objects
and verdict written (``commit_capture``, ``set_quality``, niced) beside the forward; score,
with the stored maps encoded beside it; then the prediction is stored, in a fresh embedded
store. Stages: read, gate, forward (the engine's calls), predict (the predictor's work around
them: normalise, activation, labels, uncertainty), prepare_wait (waiting, after the
prediction, for the ingest's prepare step), score, store. The baseline is the same engine's
bare forward pass on the same normalised input, timed just before each run; the engines
alternate run by run so all see the same machine load. Reports per engine p50/p95 of the
total, the forward and the rest, the stages, and the median over runs of total / forward; and
the torch engine's p50 total over the onnxruntime engine's.

Targets (2 CPU cores): total <= 1.5x the bare forward of the engine used (onnxruntime, the CPU
default) and torch's time to result >= 2x onnxruntime's. Default model: the network of
``configs/burn-depth.yaml`` with random weights unless ``--home``/``--model`` name a trained one.
Usage: python benchmarks/time_to_result.py [--runs 10] [--engines torch,onnxruntime]
Writes bench-out/time_to_result.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from default_model import register_default  # benchmarks/default_model.py

from wound.capture import Capture
from wound.io import ReadLimits, write_capture
from wound.phantom import PhantomConfig, synth_capture
from wound.pipeline import score_file
from wound.predict import Predictor
from wound.store import LocalStore
from wound.store.base import CaptureStore

KEY = b"bench-pseudonym-key"


#: Cores the work can use (the process's CPU affinity).
CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def cpu_ms() -> float:
    """CPU time of this process so far, all threads, user + system (ms)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return (usage.ru_utime + usage.ru_stime) * 1000


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


class EngineRuns:
    """Time-to-result runs of one engine, each paired with its bare forward timed just before."""

    def __init__(
        self, engine: str, store: CaptureStore, model_id: str, capture: Capture, device: str | None
    ) -> None:
        self.predictor = Predictor.from_store(store, model_id, device=device, engine=engine)
        with torch.inference_mode():
            self.x = self.predictor.normalise([capture.cube])
        self.forward: list[float] = []
        self.totals: list[float] = []
        self.cpu_forward: list[float] = []
        self.cpu_totals: list[float] = []
        self.stages: dict[str, list[float]] = {}

    def bare_forward(self) -> tuple[float, float]:
        """Wall and CPU ms (all the process's threads) of one bare forward pass."""
        with torch.inference_mode():
            c0, t0 = cpu_ms(), time.perf_counter()
            self.predictor._network_call(self.x)
            if self.predictor.device.type == "cuda":
                torch.cuda.synchronize()
            return (time.perf_counter() - t0) * 1000, cpu_ms() - c0

    def run(self, home: Path, path: Path, limits: ReadLimits, *, keep: bool) -> None:
        store = LocalStore(home)
        store.init()
        fwd, cpu_fwd = self.bare_forward()
        c0, t0 = cpu_ms(), time.perf_counter()
        outcome = score_file(store, self.predictor, path, pseudonym_key=KEY, read_limits=limits)
        total, cpu_total = (time.perf_counter() - t0) * 1000, cpu_ms() - c0
        assert outcome.status == "scored", outcome
        shutil.rmtree(home, ignore_errors=True)
        if keep:
            self.forward.append(fwd)
            self.totals.append(total)
            self.cpu_forward.append(cpu_fwd)
            self.cpu_totals.append(cpu_total)
            for name, ms in outcome.timings_ms.items():
                self.stages.setdefault(name, []).append(ms)

    def summary(self) -> dict[str, object]:
        around = [t - f for t, f in zip(self.totals, self.forward, strict=True)]
        return {
            "engine": self.predictor.engine.name,
            "total_ms": {"p50": pct(self.totals, 50), "p95": pct(self.totals, 95)},
            "forward_ms": {"p50": pct(self.forward, 50), "p95": pct(self.forward, 95)},
            "around_forward_ms": {"p50": pct(around, 50), "p95": pct(around, 95)},
            "total_over_forward_p50": pct(
                [t / f for t, f in zip(self.totals, self.forward, strict=True)], 50
            ),
            "stages_ms_p50": {k: statistics.median(v) for k, v in self.stages.items()},
            # CPU time of the process (all threads): how busy the cores were, and the least
            # total / forward this much work allows on the machine's cores (a bound, not a goal)
            "cpu_ms_p50": {
                "total": pct(self.cpu_totals, 50),
                "bare_forward": pct(self.cpu_forward, 50),
            },
            "cores_busy_p50": pct(
                [c / t for c, t in zip(self.cpu_totals, self.totals, strict=True)], 50
            ),
            "least_total_over_forward_p50": pct(
                [c / (CORES * f) for c, f in zip(self.cpu_totals, self.forward, strict=True)],
                50,
            ),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--height", type=int, default=1024)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--device", default=None, help="cpu / cuda (default: auto)")
    parser.add_argument("--home", type=Path, default=None, help="Store holding a trained model.")
    parser.add_argument("--model", default=None, help="Model id in --home (default: latest).")
    parser.add_argument(
        "--engines", default=None, help="Engines to compare (default: torch,onnxruntime on CPU)."
    )
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
        limits = ReadLimits()
        cuda = (args.device or ("cuda" if torch.cuda.is_available() else "cpu")).startswith("cuda")
        engines = [
            e.strip()
            for e in (args.engines or ("torch" if cuda else "torch,onnxruntime")).split(",")
        ]
        runs = {e: EngineRuns(e, model_store, model_id, capture, args.device) for e in engines}
        for run in range(args.runs + 1):  # run 0 warms up
            for engine in engines:  # alternate: every engine sees the same machine load
                runs[engine].run(work / f"store-{run}-{engine}", path, limits, keep=run > 0)
        result = {
            "shape": [8, args.height, args.width],
            "device": str(runs[engines[0]].predictor.device),
            "torch_threads": torch.get_num_threads(),
            "platform": platform.platform(),
            "model": model_id,
            "runs": args.runs,
            "engines": {e: r.summary() for e, r in runs.items()},
            "targets": {"total_over_forward": 1.5, "torch_total_over_onnxruntime_total": 2.0},
        }
        if "torch" in runs and "onnxruntime" in runs:
            result["torch_total_over_onnxruntime_total_p50"] = (
                result["engines"]["torch"]["total_ms"]["p50"]
                / result["engines"]["onnxruntime"]["total_ms"]["p50"]
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(
        f"Time to result, {args.height}x{args.width}x8 TIFF -> score stored ({result['device']}, "
        f"{result['torch_threads']} threads, {args.runs} runs per engine, alternating)"
    )
    print(f"{'':34}{'p50 ms':>10}{'p95 ms':>10}")
    for engine, r in result["engines"].items():
        for name in ("total_ms", "forward_ms", "around_forward_ms"):
            print(f"{engine + ' ' + name:34}{r[name]['p50']:10.0f}{r[name]['p95']:10.0f}")
        stages = ", ".join(f"{k} {v:.0f}" for k, v in r["stages_ms_p50"].items())
        print(f"  stages (p50 ms): {stages}")
        print(
            f"  total / bare forward (p50 of runs): {r['total_over_forward_p50']:.2f} "
            "(target <= 1.5)"
        )
        cpu = r["cpu_ms_p50"]
        print(
            f"  CPU ms (all threads, p50): total {cpu['total']:.0f}, bare forward "
            f"{cpu['bare_forward']:.0f}; cores busy {r['cores_busy_p50']:.2f} of {CORES}; "
            f"this much CPU work allows total / forward >= {r['least_total_over_forward_p50']:.2f}"
        )
    if "torch_total_over_onnxruntime_total_p50" in result:
        print(
            "torch time to result / onnxruntime time to result (p50): "
            f"{result['torch_total_over_onnxruntime_total_p50']:.2f}x (target >= 2)"
        )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
