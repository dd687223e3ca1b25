"""Ingest throughput into AwsStore (moto_server on loopback) vs two baselines, in one run.

(a) the transfer floor: a sequential loop of bare ``put_object`` + ``put_item`` with the same
    bytes (the cube files already in memory, a record of the same size);
(b) the same ingest steps (read, validate, preview, checksum, upload, record) one capture at a
    time (``workers=1``);
ours: the same steps with overlapping workers.

Targets: ours >= 0.8x the floor's captures/s and >= 1.5x baseline (b).
Usage: python benchmarks/ingest.py [--files 200] [--size 512] [--workers 4]
Writes bench-out/ingest.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

import boto3
import numpy as np
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parent))

from motoserver import moto_server
from motoserver import reset as moto_reset

from wound.capture import CaptureMetadata
from wound.ingest import find_capture_files, ingest_files
from wound.io import ReadLimits, write_capture
from wound.phantom import PhantomConfig, synth_capture
from wound.settings import Settings
from wound.store import open_store


def make_files(folder: Path, n: int, size: int) -> list[Path]:
    """``n`` distinct phantom capture files: 10 synthesised, the rest rolled copies."""
    config = PhantomConfig(height=size, width=size)
    bases = [
        synth_capture(seed=1, subject_index=i % 5, capture_index=i, config=config)
        for i in range(min(n, 10))
    ]
    paths = []
    for i in range(n):
        base = bases[i % len(bases)]
        cube = np.roll(base.cube, shift=i // len(bases), axis=2)
        meta = base.metadata.model_copy(update={"capture_id": f"bench-{i:04d}"})
        capture = dataclasses.replace(base, cube=np.ascontiguousarray(cube), metadata=meta)
        path = folder / f"bench-{i:04d}.tif"
        write_capture(capture, path)
        paths.append(path)
    assert isinstance(bases[0].metadata, CaptureMetadata)
    return paths


def floor_rate(files: list[Path]) -> float:
    """Bare sequential put_object + put_item of the same bytes."""
    s3 = boto3.client("s3", config=Config(max_pool_connections=32))
    ddb = boto3.client("dynamodb")
    bucket, table = f"floor-{uuid.uuid4().hex[:8]}", f"floor-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    blobs = [p.read_bytes() for p in files]
    record = "x" * 1500  # about the size of a capture record's header JSON
    start = time.perf_counter()
    for i, blob in enumerate(blobs):
        s3.put_object(Bucket=bucket, Key=f"captures/{i}/cube.tif", Body=blob)
        ddb.put_item(TableName=table, Item={"pk": {"S": str(i)}, "header": {"S": record}})
    return len(files) / (time.perf_counter() - start)


def ingest_rate(files: list[Path], workers: int, home: Path) -> float:
    settings = Settings(
        backend="aws",
        bucket=f"bench-{uuid.uuid4().hex[:8]}",
        table_prefix=f"bench{uuid.uuid4().hex[:8]}",
        home=home,
        pseudonym_key="bench-key",  # type: ignore[arg-type]
    )
    store = open_store(settings)
    store.init()
    start = time.perf_counter()
    results = ingest_files(
        find_capture_files(files),
        store,
        pseudonym_key=settings.pseudonym_key_bytes(),
        limits=ReadLimits.from_settings(settings),
        workers=workers,
    )
    elapsed = time.perf_counter() - start
    failed = [r for r in results if r.status != "created"]
    if failed:
        raise SystemExit(f"benchmark ingest failed: {failed[0]}")
    return len(files) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--out", type=Path, default=Path("bench-out/ingest.json"))
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="wound-bench-"))
    try:
        files = make_files(tmp, args.files, args.size)
        mb = files[0].stat().st_size / 1e6
        with moto_server() as url:
            rates = {}
            for name, run in (
                ("floor", lambda: floor_rate(files)),
                ("one_at_a_time", lambda: ingest_rate(files, 1, tmp)),
                ("ours", lambda: ingest_rate(files, args.workers, tmp)),
            ):
                rates[name] = run()
                moto_reset(url)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    result = {
        "files": args.files,
        "file_mb": round(mb, 2),
        "workers": args.workers,
        "captures_per_s": {k: round(v, 2) for k, v in rates.items()},
        "mb_per_s": {k: round(v * mb, 1) for k, v in rates.items()},
        "ours_vs_floor": round(rates["ours"] / rates["floor"], 2),
        "ours_vs_one_at_a_time": round(rates["ours"] / rates["one_at_a_time"], 2),
        "targets": {"ours_vs_floor": 0.8, "ours_vs_one_at_a_time": 1.5},
    }
    print(f"Ingest of {args.files} phantom captures ({mb:.1f} MB each) into AwsStore/moto_server")
    print(f"{'run':<16}{'captures/s':>12}{'MB/s':>10}")
    for name, rate in rates.items():
        print(f"{name:<16}{rate:>12.2f}{rate * mb:>10.1f}")
    print(f"ours / floor          = {result['ours_vs_floor']:.2f}  (target >= 0.8)")
    print(f"ours / one-at-a-time  = {result['ours_vs_one_at_a_time']:.2f}  (target >= 1.5)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
