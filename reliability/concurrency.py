"""Concurrent writers: 8 processes append annotation versions to the same captures at once
(every version survives with a distinct number: 0 lost updates), and 8 processes ingest the
same folder at once (each capture stored once, nothing left behind). Both backends."""

from __future__ import annotations

import multiprocessing
from collections import Counter
from pathlib import Path

import numpy as np

from reliability.common import Figure, StoreSpec, capture_folder, count_captures, exactly
from wound.capture import Capture
from wound.ingest import IngestOptions, ingest_files, read_file
from wound.io import ReadLimits

PROBLEMS = ("orphans", "missing", "mismatched")


def _annotate(spec: StoreSpec, worker: int, capture_ids: list[str], rounds: int) -> list[str]:
    """Append ``rounds`` versions to every capture; returns ``capture#version`` per write."""
    written: list[str] = []
    with spec.open() as store:
        for r in range(rounds):
            for cid in capture_ids:
                _, h, w = store.get_record(cid).shape
                mask = np.full((h, w), (worker * rounds + r) % 6, np.uint8)
                record = store.add_annotation(
                    cid,
                    mask,
                    task="burn-depth",
                    annotator=f"worker-{worker}",
                    source="import",
                    extra={"worker": worker, "round": r},
                )
                written.append(f"{cid}#{record.version}")
    return written


def _ingest(spec: StoreSpec, files: list[Path]) -> dict[str, int]:
    with spec.open() as store:
        outcomes = ingest_files(
            files, store, pseudonym_key=b"concurrency", limits=ReadLimits(), workers=2
        )
    return dict(Counter(o.status for o in outcomes))


def run(
    *,
    workdir: Path,
    endpoint: str | None,
    processes: int = 8,
    captures: int = 4,
    rounds: int = 5,
    files: int = 40,
) -> list[Figure]:
    folder = workdir / "captures"
    paths = capture_folder(folder, files)
    context = multiprocessing.get_context("spawn")
    out: list[Figure] = []
    for backend in ["local"] + (["aws"] if endpoint else []):
        concern = f"concurrency ({backend})"
        home = workdir / backend
        spec = (
            StoreSpec.local(home / "a")
            if backend == "local"
            else StoreSpec.aws(home / "a", endpoint or "")
        )
        spec.init()
        with spec.open() as store:
            ids = [store.put_capture(_read(p)).capture_id for p in paths[:captures]]
        with context.Pool(processes) as pool:
            results = pool.starmap(_annotate, [(spec, w, ids, rounds) for w in range(processes)])
        with spec.open() as store:
            stored = [
                f"{a.capture_id}#{a.version}" for cid in ids for a in store.list_annotations(cid)
            ]
            findings = store.check()
            versions = {cid: sorted(a.version for a in store.list_annotations(cid)) for cid in ids}
        written = [w for per in results for w in per]
        expected = processes * rounds * len(ids)
        contiguous = all(v == list(range(1, len(v) + 1)) for v in versions.values())
        out += [
            exactly(
                concern,
                f"annotation versions written by {processes} processes",
                len(written),
                expected,
            ),
            exactly(
                concern, "lost updates (written, not stored)", len(set(written) - set(stored)), 0
            ),
            exactly(concern, "duplicate version numbers", len(written) - len(set(written)), 0),
            Figure(concern, "versions 1..n without gaps", str(contiguous), "True", contiguous),
            exactly(
                concern,
                "annotations: orphans+missing+mismatched",
                sum(len(findings[k]) for k in PROBLEMS),
                0,
            ),
        ]
        spec_b = (
            StoreSpec.local(home / "b")
            if backend == "local"
            else StoreSpec.aws(home / "b", endpoint or "")
        )
        spec_b.init()
        with context.Pool(processes) as pool:
            counts = pool.starmap(_ingest, [(spec_b, paths) for _ in range(processes)])
        with spec_b.open() as store:
            records, distinct = count_captures(store)
            findings = store.check()
        created = sum(c.get("created", 0) for c in counts)
        failed = sum(c.get("failed", 0) for c in counts)
        out += [
            exactly(
                concern, f"captures stored by {processes} ingests of {files} files", records, files
            ),
            exactly(concern, "ingests reporting 'created' (each capture once)", created, files),
            exactly(concern, "distinct capture records", distinct, files),
            exactly(concern, "ingest failures", failed, 0),
            exactly(
                concern,
                "ingest: orphans+missing+mismatched",
                sum(len(findings[k]) for k in PROBLEMS),
                0,
            ),
        ]
    return out


def _read(path: Path) -> Capture:

    return read_file(path, IngestOptions(b"concurrency"))
