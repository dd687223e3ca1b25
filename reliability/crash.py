"""Crash consistency: ``wound ingest`` and ``wound predict --all`` killed with SIGKILL at random
points, then rerun. Afterwards the store's check finds 0 orphans, 0 records without objects and
0 checksum mismatches, every capture is stored exactly once and every capture has exactly one
prediction (both backends; the AWS one against a real ``moto_server``).

Each trial starts from a fresh store, so kills land anywhere in a run (startup, the first
objects, mid-batch, the last records); the kill time is drawn uniformly over the writing part
of one uninterrupted run, measured first on a scratch store (startup excluded).
"""

from __future__ import annotations

import dataclasses
import random
import signal
import time
from collections.abc import Callable
from pathlib import Path

from reliability.common import (
    Figure,
    StoreSpec,
    check_findings,
    count_captures,
    exactly,
    wound_cli,
    wound_popen,
)
from reliability.model import register_tiny_model

PROBLEMS = ("orphans", "missing", "mismatched")


@dataclasses.dataclass
class Trial:
    kill_at_s: float
    stored_at_kill: int
    problems: int  # orphans + missing + mismatched after the rerun
    records: int
    distinct: int
    temp_files: int  # partial files of the embedded store left on disk
    exit_code: int


def _window(args: list[str], spec: StoreSpec, progress: Callable[[], int]) -> tuple[float, float]:
    """One uninterrupted run, polled: (seconds until its first write landed, seconds until
    it ended). Kills are drawn in this window (and a little before it), so most land mid-run
    rather than during the command's startup."""
    start = time.monotonic()
    process = wound_popen(args, spec)
    first = None
    while process.poll() is None:
        if first is None and progress() > 0:
            first = time.monotonic() - start
        time.sleep(0.05)
    end = time.monotonic() - start
    if process.returncode not in (0, 2):
        raise RuntimeError(f"wound {' '.join(args)} failed with {process.returncode}")
    return (first if first is not None else 0.5 * end), end


def _records(spec: StoreSpec) -> int:
    with spec.open() as store:
        return count_captures(store)[0]


def _predictions(spec: StoreSpec) -> int:
    with spec.open() as store:
        return len(store.list_predictions())


def _kill_after(args: list[str], spec: StoreSpec, delay: float) -> None:
    process = wound_popen(args, spec)
    try:
        process.wait(timeout=delay)
    except Exception:
        process.send_signal(signal.SIGKILL)
        process.wait()


def _temp_files(spec: StoreSpec) -> int:
    """Partial writes left once ``wound store check --repair`` has run (no writer is alive, so
    every temp file is abandoned: grace 0)."""
    if spec.backend != "local":
        return 0
    check_findings(spec, "--repair", "--temp-grace", "0")
    return sum(1 for p in (spec.home / "objects").rglob(".tmp-*"))


def ingest_trials(
    make_spec: Callable[[int], StoreSpec],
    folder: Path,
    n_files: int,
    trials: int,
    rng: random.Random,
) -> list[Trial]:
    """``trials`` rounds: fresh store, ``wound ingest FOLDER`` killed at a random time, rerun,
    check. ``make_spec(i)`` gives the store of round ``i`` (``i = -1``: the timing run)."""
    scratch = make_spec(-1)
    scratch.init()
    first, end = _window(["ingest", str(folder)], scratch, lambda: _records(scratch))
    out: list[Trial] = []
    for i in range(trials):
        spec = make_spec(i)
        spec.init()
        delay = rng.uniform(first - 0.1 * (end - first), end)
        _kill_after(["ingest", str(folder)], spec, delay)
        with spec.open() as store:
            stored = count_captures(store)[0]
        rerun = wound_cli(["ingest", str(folder)], spec)
        findings = check_findings(spec)
        with spec.open() as store:
            records, distinct = count_captures(store)
        out.append(
            Trial(
                delay,
                stored,
                sum(len(findings.get(k, [])) for k in PROBLEMS),
                records,
                distinct,
                _temp_files(spec),
                rerun.returncode,
            )
        )
    return out


def predict_trials(spec: StoreSpec, folder: Path, trials: int, rng: random.Random) -> list[Trial]:
    """One store with the captures and a tiny model; each round deletes every prediction,
    runs ``wound predict --all`` killed at a random time, reruns it and checks."""
    spec.init()
    wound_cli(["ingest", str(folder)], spec)
    with spec.open() as store:
        model_id = register_tiny_model(store)
        n = count_captures(store)[1]
    args = ["predict", "--all", "--model", model_id]
    first, end = _window(args, spec, lambda: _predictions(spec))
    out: list[Trial] = []
    for _ in range(trials):
        with spec.open() as store:
            for record in store.list_predictions():
                store.delete_prediction(record.capture_id, record.model_id)
        delay = rng.uniform(first - 0.1 * (end - first), end)
        _kill_after(["predict", "--all", "--model", model_id], spec, delay)
        with spec.open() as store:
            at_kill = len(store.list_predictions())
        rerun = wound_cli(["predict", "--all", "--model", model_id], spec)
        findings = check_findings(spec)
        with spec.open() as store:
            predictions = store.list_predictions()
        per_capture = {p.capture_id for p in predictions}
        out.append(
            Trial(
                delay,
                at_kill,
                sum(len(findings.get(k, [])) for k in PROBLEMS),
                len(predictions),
                len(per_capture) if len(per_capture) == n else -len(per_capture),
                _temp_files(spec),
                rerun.returncode,
            )
        )
    return out


def figures(backend: str, what: str, trials: list[Trial], expected: int) -> list[Figure]:
    concern = f"crash ({backend})"
    mid = sum(0 < t.stored_at_kill < expected for t in trials)
    return [
        Figure(
            concern,
            f"{what}: SIGKILL trials (killed mid-run)",
            f"{len(trials)} ({mid})",
            ">= 20 full / 3 CI",
            True,
        ),
        exactly(
            concern,
            f"{what}: orphans+missing+mismatched after rerun",
            sum(t.problems for t in trials),
            0,
        ),
        exactly(
            concern,
            f"{what}: trials with a capture not exactly once",
            sum(t.records != expected or t.distinct != expected for t in trials),
            0,
        ),
        exactly(
            concern,
            f"{what}: partial temp files left after store check --repair",
            sum(t.temp_files for t in trials),
            0,
        ),
        exactly(
            concern, f"{what}: reruns failing", sum(t.exit_code not in (0, 2) for t in trials), 0
        ),
    ]


def run(
    *,
    workdir: Path,
    endpoint: str | None,
    n_files: int,
    trials: int,
    predict_trials_n: int,
    seed: int = 7,
) -> list[Figure]:
    rng = random.Random(seed)
    folder = workdir / "captures"
    from reliability.common import capture_folder

    capture_folder(folder, n_files, size=(96, 128))  # ~0.4 MB each: kills land mid-write
    out: list[Figure] = []
    backends: list[str] = ["local"] + (["aws"] if endpoint else [])
    for backend in backends:

        def make(i: int, backend: str = backend) -> StoreSpec:
            home = workdir / backend / f"trial{i + 1}"
            if backend == "local":
                return StoreSpec.local(home)
            assert endpoint is not None
            return StoreSpec.aws(home, endpoint)

        out += figures(
            backend, "ingest", ingest_trials(make, folder, n_files, trials, rng), n_files
        )
        if predict_trials_n:
            spec = make(10_000)
            result = predict_trials(spec, folder, predict_trials_n, rng)
            out += figures(backend, "predict --all", result, n_files)
    return out
