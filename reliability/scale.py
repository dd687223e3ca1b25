"""Scale of the store: N capture records (small cubes) in each backend; one page (100) of
captures by subject and by label status timed (p50/p95 over every page), and the store's
check on the whole store timed (every object listed with its size, SHA-256 recomputed for a
random sample of 1,000, as ``wound store check`` does by default). Pages are timed for
the first 20 pages of each query (the by-subject query has N / 100 captures: one page)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from reliability.common import Figure, StoreSpec, exactly
from wound.capture import Capture, CaptureMetadata
from wound.pseudonym import pseudonymise
from wound.store import CaptureStore

SUBJECTS = 100
PAGE = 100
T0 = datetime(2026, 1, 1, tzinfo=UTC)
WAVELENGTHS = (540.0, 660.0, 800.0, 850.0)


def _capture(i: int) -> Capture:
    cube = np.random.default_rng(i).uniform(0.05, 0.9, (4, 8, 8)).astype(np.float32)
    meta = CaptureMetadata(
        subject=pseudonymise(f"S{i % SUBJECTS}", b"scale"),
        wound_id="w1",
        captured_at=T0 + timedelta(minutes=i),
        capture_id=f"scale-{i:06d}",
    )
    return Capture(cube=cube, wavelengths=WAVELENGTHS, metadata=meta)


def _fill(store: CaptureStore, n: int, workers: int = 8) -> float:
    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda i: store.put_capture(_capture(i)), range(n)))
    return time.perf_counter() - start


def _pages(store: CaptureStore, max_pages: int = 20, **filters: str) -> tuple[list[float], int]:
    """Times (ms) of up to ``max_pages`` consecutive pages, and the captures they held."""
    times: list[float] = []
    total, cursor = 0, None
    while len(times) < max_pages:
        start = time.perf_counter()
        page = store.list_captures(limit=PAGE, cursor=cursor, **filters)  # type: ignore[arg-type]
        times.append((time.perf_counter() - start) * 1000)
        total += len(page.items)
        if not page.cursor:
            break
        cursor = page.cursor
    return times, total


def run(*, workdir: Path, endpoint: str | None, records: int = 10_000) -> list[Figure]:
    out: list[Figure] = []
    for backend in ["local"] + (["aws"] if endpoint else []):
        concern = f"scale ({backend})"
        home = workdir / backend
        spec = StoreSpec.local(home) if backend == "local" else StoreSpec.aws(home, endpoint or "")
        spec.init()
        with spec.open() as store:
            fill_s = _fill(store, records)
            subject = pseudonymise("S7", b"scale")
            by_subject, n_subject = _pages(store, subject=subject)
            by_status, n_status = _pages(store, label_status="unlabelled")
            start = time.perf_counter()
            findings = store.check(hash_sample=1000)
            check_s = time.perf_counter() - start
        problems = sum(len(findings[k]) for k in ("orphans", "missing", "mismatched"))
        out += [
            Figure(
                concern,
                "records stored (s, captures/s)",
                f"{records} ({fill_s:.0f} s, {records / fill_s:.0f}/s)",
                "-",
                True,
            ),
            exactly(concern, "by subject: captures paged", n_subject, records // SUBJECTS),
            Figure(
                concern,
                "by subject: one page p50 / p95 (ms)",
                f"{np.percentile(by_subject, 50):.1f} / {np.percentile(by_subject, 95):.1f}",
                "paged",
                True,
            ),
            exactly(
                concern,
                "by label status: captures in the first 20 pages",
                n_status,
                min(records, 20 * PAGE),
            ),
            Figure(
                concern,
                "by label status: one page p50 / p95 (ms)",
                f"{np.percentile(by_status, 50):.1f} / {np.percentile(by_status, 95):.1f}",
                "paged",
                True,
            ),
            Figure(
                concern,
                "store check (list all + hash 1,000) (s)",
                round(check_s, 1),
                "bounded",
                True,
            ),
            exactly(concern, "store check problems", problems, 0),
        ]
    return out
