"""Dashboard: press "Score" -> result rendered in the browser, vs the CLI on the same capture.

One capture TIFF on disk (phantom, 8 bands, ``--height`` x ``--width``) and one registered model
(the default model of the benchmarks, random weights) in a fresh embedded store. In the same run:

- dashboard: ``streamlit run dashboard/app.py`` (the command ``wound dashboard`` runs) on a free
  loopback port; Debian's Chromium (Playwright) uploads the file once, ticks "Score again", then
  presses "Score" ``--runs`` times. Each press reads the upload, gates, predicts, scores, stores
  (``wound.pipeline.score_stored``, forced) and renders the overlay and the numbers; the time is
  from the click until the new result's caption is shown and its overlay image has loaded.
  The first press (model load) is reported apart as ``cold``.
- CLI: ``wound predict FILE --force`` (read, ingest, gate, predict, score, store; prints the
  areas), and ``wound score ID`` (prints the stored score), each a fresh process as a user runs
  them, ``--cli-runs`` times.

Ratio: dashboard p50 / ``wound predict FILE`` p50 (target <= 1.5); also against predict + score.
For scale, the pipeline alone in this process with the model loaded (``score_file``, forced):
what the page adds on top of it is Streamlit's rerun, the drawing and the browser.
Usage: python benchmarks/dashboard.py [--runs 8] [--cli-runs 3] [--height 1024] [--width 1280]
Writes bench-out/dashboard.json. Needs /usr/bin/chromium (`make browser`), launched as the browser
tests launch it (tests/browser.py).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from default_model import MODEL_ID, register_default  # benchmarks/default_model.py

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests/browser.py: the browser tests' Chromium launcher

from reliability.servers import streamlit_server  # noqa: E402
from tests import browser  # noqa: E402
from wound.io import write_capture  # noqa: E402
from wound.phantom import PhantomConfig, synth_capture  # noqa: E402
from wound.store import LocalStore  # noqa: E402

KEY = "bench-pseudonym-key"


def register_default_in(home: Path, wavelengths: tuple[float, ...]) -> None:
    with LocalStore(home) as store:
        store.init()
        register_default(store, wavelengths)


def dashboard_runs(url: str, capture: Path, runs: int) -> tuple[float, list[float]]:
    """(cold ms, warm ms per press): click "Score" -> new caption shown and overlay loaded."""
    from playwright.sync_api import Page, expect

    expect.set_options(timeout=300_000)
    # the result's caption ("... · scored <time> UTC") is new once the press has rendered
    shown = """() => [...document.querySelectorAll("[data-testid='stCaptionContainer']")]
        .filter(e => e.innerText.includes(" · scored ")).map(e => e.innerText).join("")"""
    rendered = """(before) => {
        const caps = [...document.querySelectorAll("[data-testid='stCaptionContainer']")]
            .filter(e => e.innerText.includes(" · scored "));
        if (caps.length !== 1 || caps[0].innerText === before) return false;
        if (caps[0].closest('[data-stale="true"]')) return false;
        const img = document.querySelector("[data-testid='stImage'] img");
        return !!img && img.complete && img.naturalWidth > 0;
    }"""
    times: list[float] = []
    with browser.chromium_page(width=1400, height=1900, timeout_ms=300_000) as page:
        assert isinstance(page, Page)
        page.goto(url)
        expect(page.get_by_role("heading", name="Score a capture")).to_be_visible()
        page.locator("[data-testid='stFileUploader'] input[type='file']").set_input_files(capture)
        expect(page.get_by_text(capture.name)).to_be_visible()
        page.get_by_text("Score again even if this model already scored the capture").click()
        page.wait_for_timeout(1000)
        for _ in range(runs + 1):
            before = page.evaluate(shown)
            t0 = time.perf_counter()
            page.get_by_role("button", name="Score", exact=True).click()
            page.wait_for_function(rendered, arg=before, polling="raf")
            times.append((time.perf_counter() - t0) * 1000)
    return times[0], times[1:]


def cli_runs(
    env: dict[str, str], capture: Path, capture_id: str, runs: int
) -> dict[str, list[float]]:
    wound = str(Path(sys.executable).parent / "wound")
    out: dict[str, list[float]] = {"predict": [], "score": []}
    for _ in range(runs):
        for name, argv in (
            ("predict", [wound, "predict", str(capture), "--model", MODEL_ID, "--force"]),
            ("score", [wound, "score", capture_id, "--model", MODEL_ID]),
        ):
            t0 = time.perf_counter()
            done = subprocess.run(argv, env=env, capture_output=True, text=True)
            out[name].append((time.perf_counter() - t0) * 1000)
            if done.returncode not in (0, 2):  # 2: refused by the gate (still a result)
                raise SystemExit(f"{' '.join(argv)} failed: {done.stdout}{done.stderr}")
    return out


def pipeline_runs(
    work: Path, capture: Path, wavelengths: tuple[float, ...], runs: int
) -> list[float]:
    """The pipeline alone, in this process with the model loaded: ``score_file`` (forced), the
    work the dashboard does on each press before it draws (what the page adds is the rest)."""
    from wound.io import ReadLimits
    from wound.pipeline import score_file
    from wound.predict import Predictor

    home = work / "pipeline-home"
    register_default_in(home, wavelengths)
    times = []
    with LocalStore(home) as store:
        predictor = Predictor.from_store(store, MODEL_ID)
        for _ in range(runs + 1):  # the first run warms up
            t0 = time.perf_counter()
            outcome = score_file(
                store,
                predictor,
                capture,
                pseudonym_key=KEY.encode(),
                read_limits=ReadLimits(),
                force=True,
            )
            times.append((time.perf_counter() - t0) * 1000)
            assert outcome.status in ("scored", "refused"), outcome
    return times[1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--cli-runs", type=int, default=3)
    parser.add_argument("--height", type=int, default=1024)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--out", type=Path, default=Path("bench-out/dashboard.json"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-dashboard-"))
    try:
        config = PhantomConfig(height=args.height, width=args.width)
        capture = synth_capture(seed=0, subject_index=0, capture_index=0, config=config)
        path = write_capture(capture, work / "capture.tif")
        home = work / "home"
        register_default_in(home, capture.wavelengths)
        env = {**os.environ, "WOUND_HOME": str(home), "WOUND_PSEUDONYM_KEY": KEY}
        env.pop("WOUND_BACKEND", None)
        with streamlit_server(
            log=work / "streamlit.log", cwd=work, env=env, stop_timeout=30
        ) as url:
            cold, warm = dashboard_runs(url, path, args.runs)
            cli = cli_runs(env, path, capture.identity(), args.cli_runs)
            inproc = pipeline_runs(work, path, capture.wavelengths, args.cli_runs)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    p50 = statistics.median
    dash, predict, score = p50(warm), p50(cli["predict"]), p50(cli["score"])
    result = {
        "shape": [8, args.height, args.width],
        "platform": platform.platform(),
        "model": MODEL_ID,
        "dashboard_ms": {"cold": cold, "p50": dash, "runs": warm},
        "cli_predict_ms": {"p50": predict, "runs": cli["predict"]},
        "cli_score_ms": {"p50": score, "runs": cli["score"]},
        "pipeline_in_process_ms": {"p50": p50(inproc), "runs": inproc},
        "ratio_dashboard_over_predict": dash / predict,
        "ratio_dashboard_over_predict_plus_score": dash / (predict + score),
        "target_ratio": 1.5,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f'Dashboard "Score" -> rendered vs the CLI, {args.height}x{args.width}x8 TIFF')
    print(f"{'':44}{'p50 ms':>10}")
    print(f"{'dashboard, press Score -> rendered (warm)':44}{dash:10.0f}")
    print(f"{'dashboard, first press (loads the model)':44}{cold:10.0f}")
    print(f"{'wound predict FILE --force (new process)':44}{predict:10.0f}")
    print(f"{'wound score ID (new process)':44}{score:10.0f}")
    print(f"{'score_file in process (model loaded)':44}{p50(inproc):10.0f}")
    print(
        f"ratio dashboard / wound predict: {result['ratio_dashboard_over_predict']:.2f} "
        f"(target <= 1.5); / (predict + score): "
        f"{result['ratio_dashboard_over_predict_plus_score']:.2f}"
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
