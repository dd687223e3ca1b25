"""Capture -> quality gate -> prediction -> score -> prediction record, for one or many captures.

Every capture gets its quality verdict stored on its record (``store.set_quality``). A refused
capture gets a prediction record with status ``"refused"`` and the reasons; a passing one gets
status ``"scored"``, the :class:`~wound.scoring.WoundScore` and compact maps (the score stored as
JSON, one line of it in the outcome: :func:`wound.score_format.one_line`). Captures that
already have a prediction of the model are skipped unless ``force``; the store's conditional
write is the last guard when several workers race (the loser reports ``skipped``).

Scale-out: under ``torchrun`` (``RANK`` / ``WORLD_SIZE`` in the environment) each rank takes
``sorted(ids)[rank::world]`` (:func:`shard`), so every capture is predicted once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

from wound.capture import Capture
from wound.errors import RecordExistsError, RecordNotFoundError, WoundError
from wound.ingest import IngestOptions, Outcome, failure, read_file
from wound.io import ReadLimits
from wound.predict import Prediction, Predictor
from wound.quality import QualityLimits, QualityVerdict, check_quality
from wound.score_format import one_line
from wound.scoring import Score, refusal_score, score_prediction
from wound.store.base import CaptureStore, PreparedCapture, PutResult


def dist_env() -> tuple[int, int]:
    """``(rank, world_size)`` from ``torchrun``'s environment; ``(0, 1)`` when not set."""
    rank = int(os.environ.get("RANK", "0"))
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world < 1 or not 0 <= rank < world:
        raise ValueError(f"bad RANK={rank} / WORLD_SIZE={world}")
    return rank, world


def shard(ids: Iterable[str], rank: int, world: int) -> list[str]:
    """This rank's share: deterministic, disjoint, covering (``sorted(ids)[rank::world]``)."""
    return sorted(set(ids))[rank::world]


def has_prediction(store: CaptureStore, capture_id: str, model_id: str) -> bool:
    try:
        store.get_prediction(capture_id, model_id, with_arrays=False)
    except RecordNotFoundError:
        return False
    return True


def score_stored(
    store: CaptureStore,
    predictor: Predictor,
    capture_ids: Sequence[str],
    *,
    force: bool = False,
    limits: QualityLimits | None = None,
    chunk: int = 8,
    provenance: dict[str, Any] | None = None,
) -> Iterator[Outcome]:
    """Score stored captures, ``chunk`` at a time (passing captures predicted as one batch)."""
    for start in range(0, len(capture_ids), chunk):
        loaded: list[tuple[str, Capture, dict[str, float]]] = []
        for cid in capture_ids[start : start + chunk]:
            if not force and has_prediction(store, cid, predictor.model_id):
                yield Outcome(cid, "skipped", f"already predicted by model {predictor.model_id}")
                continue
            t0 = time.perf_counter()
            try:
                capture = store.get_capture(cid)
            except WoundError as exc:
                yield Outcome(cid, "failed", str(exc))
                continue
            loaded.append((cid, capture, {"read": _ms(t0)}))
        yield from score_loaded(
            store, predictor, loaded, force=force, limits=limits, provenance=provenance
        )


def score_loaded(
    store: CaptureStore,
    predictor: Predictor,
    items: Sequence[tuple[str, Capture, dict[str, float]]],
    *,
    force: bool = False,
    limits: QualityLimits | None = None,
    provenance: dict[str, Any] | None = None,
    before_store: Callable[[], object] | None = None,
    verdicts: Sequence[QualityVerdict] | None = None,
    quality_recorded: bool = False,
    predictions: Sequence[Prediction] | None = None,
) -> Iterator[Outcome]:
    """Gate, predict (one batch), score and store captures already in memory.

    ``items`` are ``(capture_id, capture, timings_ms so far)``; the captures must be in the store
    by the first write, which waits for ``before_store()`` (e.g. an ingest running alongside).
    ``verdicts``: the gate's verdicts when the caller already ran it (one per item);
    ``quality_recorded``: ``before_store()`` also put them on the capture records;
    ``predictions``: the passing items' predictions when the caller already ran the predictor.
    """
    prov = {**predictor_provenance(predictor), **(provenance or {})}
    passed: list[tuple[str, Capture, dict[str, float], QualityVerdict]] = []
    ensure_stored = _once(before_store)
    record_verdict = _stored_only if quality_recorded else _record_verdict
    for i, (cid, capture, timings) in enumerate(items):
        if verdicts is not None:
            verdict = verdicts[i]
        else:
            t0 = time.perf_counter()
            verdict = check_quality(
                capture, wavelengths=predictor.info.wavelengths_nm, limits=limits
            )
            timings = {**timings, "gate": _ms(t0)}
        if verdict.ok:
            passed.append((cid, capture, timings, verdict))
            continue
        error = record_verdict(store, cid, verdict, ensure_stored)
        if error:
            yield Outcome(cid, "failed", error, timings_ms=timings)
            continue
        score = refusal_score(
            cid,
            verdict,
            model_id=predictor.model_id,
            model_version=predictor.model_version,
            timings_ms=timings,
            provenance=prov,
        )
        yield _store(store, predictor.model_id, cid, "refused", score, None, timings, force)
    if not passed:
        return
    try:
        if predictions is None:
            predictions = predictor.predict_many([capture for _, capture, _, _ in passed])
    except (WoundError, RuntimeError, ValueError) as exc:
        for cid, _, timings, _ in passed:
            yield Outcome(cid, "failed", f"prediction failed: {exc}", timings_ms=timings)
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="maps") as pool:
        for (cid, capture, timings, verdict), pred in zip(passed, predictions, strict=True):
            t0 = time.perf_counter()
            maps = pool.submit(pred.arrays)  # the stored maps' encoding beside the score
            timings = {**timings, **pred.timings_ms}
            wound_score = score_prediction(
                pred,
                capture_id=cid,
                spacing_mm=capture.spacing_mm,
                quality=verdict,
                timings_ms=timings,
                provenance=prov,
            )
            arrays = maps.result()
            timings["score"] = _ms(t0)
            t0 = time.perf_counter()
            error = record_verdict(store, cid, verdict, ensure_stored)
            timings["commit_wait"] = _ms(t0)  # the capture's own writes, if not done yet
            if error:
                yield Outcome(cid, "failed", error, timings_ms=timings)
                continue
            final = wound_score.model_copy(update={"timings_ms": _round(timings)})
            yield _store(store, predictor.model_id, cid, "scored", final, arrays, timings, force)


def score_file(
    store: CaptureStore,
    predictor: Predictor,
    path: Path,
    *,
    pseudonym_key: bytes,
    read_limits: ReadLimits | None = None,
    metadata: Mapping[str, Any] | None = None,
    wavelengths: Sequence[float] | None = None,
    masks_dir: Path | None = None,
    force: bool = False,
    limits: QualityLimits | None = None,
    provenance: dict[str, Any] | None = None,
    subject_per_file: bool = False,
) -> Outcome:
    """A capture file -> stored score, through the ingest's own :func:`~wound.ingest.read_file`
    and the store's ``put_capture`` in its two steps, with the same options as ``wound ingest``.

    Scheduled for the shortest time to result on a small CPU (BENCHMARKS.md): the ingest's CPU
    work (``prepare_capture``: id, validation, TIFF and preview encoding, checksums) runs in a
    thread at a lower priority (:func:`lower_thread_priority`) beside the single-threaded
    quality gate; a capture that passes goes to the predictor at once, while that thread
    finishes preparing in the forward's idle moments and then writes the capture and its
    verdict (``commit_capture``, ``set_quality``). After the forward the stored maps are
    encoded beside the score (:func:`score_loaded`); the results are written once the capture
    is stored. The capture id comes from the prepare step (one hash of the cube per capture),
    so a capture that already has a prediction of the model is recognised after its forward
    pass (then ``skipped``: nothing written but the same capture and verdict)."""
    t0 = time.perf_counter()
    options = IngestOptions(
        pseudonym_key,
        read_limits or ReadLimits(),
        metadata,
        wavelengths,
        masks_dir,
        subject_per_file=subject_per_file,
    )
    try:
        capture = read_file(path, options)
    except Exception as exc:  # any bad file is one line, never a traceback
        return Outcome("", "failed", failure(path, exc), path=path)
    timings = {"read": _ms(t0)}
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest") as pool:
        preparing = pool.submit(_prepare_niced, store, capture)
        t0 = time.perf_counter()
        verdict = check_quality(capture, wavelengths=predictor.info.wavelengths_nm, limits=limits)
        timings["gate"] = _ms(t0)
        predictions: list[Prediction] | None = None
        failed: Exception | None = None
        committing: Future[PutResult] | None = None
        if verdict.ok:  # the forward starts now, beside the rest of the ingest's CPU work
            committing = pool.submit(_commit_niced, store, preparing, verdict)
            try:
                predictions = predictor.predict_many([capture])
            except (WoundError, RuntimeError, ValueError) as exc:
                failed = exc
        t0 = time.perf_counter()
        try:
            prepared = preparing.result()
        except Exception as exc:
            return Outcome("", "failed", failure(path, exc), path=path)
        timings["prepare_wait"] = _ms(t0)
        cid = prepared.capture_id
        if failed is not None:
            message = f"prediction failed: {failed}"
            return Outcome(cid, "failed", message, timings_ms=timings, path=path)
        if not force and has_prediction(store, cid, predictor.model_id):
            try:  # the same capture: nothing to do; other content under its id: a conflict
                if committing is None:
                    store.commit_capture(prepared)
                else:
                    committing.result()
            except Exception as exc:
                return Outcome(cid, "failed", failure(path, exc), path=path)
            message = f"already predicted by model {predictor.model_id}"
            return Outcome(cid, "skipped", message, path=path)
        if committing is None:
            committing = pool.submit(_commit_niced, store, preparing, verdict)
        try:
            outcomes = list(
                score_loaded(
                    store,
                    predictor,
                    [(cid, capture, timings)],
                    force=force,
                    limits=limits,
                    provenance=provenance,
                    before_store=committing.result,
                    verdicts=[verdict],
                    quality_recorded=True,
                    predictions=predictions,
                )
            )
        except Exception as exc:
            return Outcome(cid, "failed", failure(path, exc), path=path)
    return dataclasses.replace(outcomes[0], path=path)


#: Niceness of the ingest thread of :func:`score_file` (Linux; 0 = the caller's priority).
INGEST_NICENESS = 10


def lower_thread_priority(niceness: int = INGEST_NICENESS) -> None:
    """Make the calling thread yield the CPU to the others (Linux: per-thread ``nice``).

    :func:`score_file` prepares and writes the capture while the forward pass runs: at the
    same priority that thread would take a core from the forward's threads, which then wait
    for each other; niced it runs in their gaps. The niceness dies with the thread.
    Elsewhere: a no-op.
    """
    if sys.platform != "linux" or niceness <= 0:
        return
    with contextlib.suppress(OSError):  # never fatal: only a scheduling hint
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + niceness)


def _prepare_niced(store: CaptureStore, capture: Capture) -> PreparedCapture:
    """``prepare_capture`` at a lower priority: beside the gate it has a core of its own;
    beside the forward pass it takes the cores' idle moments instead of slowing it (on 2 CPU
    cores: time to result 437 -> 406 ms, total / forward 2.19 -> 2.08; BENCHMARKS.md)."""
    lower_thread_priority()
    return store.prepare_capture(capture, preview_png=None)


def _commit_niced(
    store: CaptureStore, preparing: Future[PreparedCapture], verdict: QualityVerdict
) -> PutResult:
    """Once prepared, write the capture, then its quality verdict (in the ingest thread that
    :func:`_prepare_niced` lowered already)."""
    prepared = preparing.result()
    result = store.commit_capture(prepared)
    store.set_quality(result.capture_id, verdict.model_dump(mode="json"))
    return result


def _once(step: Callable[[], object] | None) -> Callable[[], None]:
    """``step`` run on the first call only (nothing when None)."""
    done = step is None

    def call() -> None:
        nonlocal done
        if not done:
            assert step is not None
            step()
            done = True

    return call


def _stored_only(
    store: CaptureStore, cid: str, verdict: QualityVerdict, ensure_stored: Callable[[], None]
) -> str | None:
    """Wait until the capture is stored with its verdict (put there by ``before_store``)."""
    ensure_stored()
    return None


def _record_verdict(
    store: CaptureStore, cid: str, verdict: QualityVerdict, ensure_stored: Callable[[], None]
) -> str | None:
    """Once the capture is stored, put the quality verdict on its record; the error, if any."""
    ensure_stored()
    try:
        store.set_quality(cid, verdict.model_dump(mode="json"))
    except WoundError as exc:
        return str(exc)
    return None


def predictor_provenance(predictor: Predictor) -> dict[str, Any]:
    rank, world = dist_env()
    return {
        "device": str(predictor.device),
        "engine": predictor.engine.name,
        "tta": predictor.tta,
        "roi": list(predictor.roi) if isinstance(predictor.roi, tuple) else predictor.roi,
        "overlap": predictor.overlap,
        "rank": rank,
        "world_size": world,
    }


def _store(
    store: CaptureStore,
    model_id: str,
    cid: str,
    status: Literal["scored", "refused"],
    score: Score,
    arrays: dict[str, Any] | None,
    timings: dict[str, float],
    force: bool,
) -> Outcome:
    t0 = time.perf_counter()
    try:
        if force:
            with contextlib.suppress(RecordNotFoundError):
                store.delete_prediction(cid, model_id)
        store.put_prediction(
            cid, model_id, status=status, score=score.model_dump(mode="json"), arrays=arrays
        )
    except RecordExistsError:
        return Outcome(cid, "skipped", f"already predicted by model {model_id}")
    except WoundError as exc:
        return Outcome(cid, "failed", f"could not store the prediction: {exc}")
    timings = {**timings, "store": _ms(t0)}
    return Outcome(cid, status, one_line(score), score=score, timings_ms=_round(timings))


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000


def _round(timings: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 2) for k, v in timings.items()}
