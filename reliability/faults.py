"""Transient faults: S3 and DynamoDB calls fail at a 20% rate (throttling and 5xx, injected by
:mod:`reliability.proxy` between boto3 and ``moto_server``; 30% of the faulted writes are
applied first and only their answer is lost, so a retry meets its own write). The ingest of a
folder completes with 0 lost and 0 duplicated captures, retried by botocore's standard mode
as configured in :class:`~wound.store.AwsStore`; a large cube goes up as a multipart upload
through s3transfer, through the same faults, and reads back intact."""

from __future__ import annotations

from pathlib import Path

import boto3

from reliability.common import (
    Figure,
    StoreSpec,
    capture_file,
    capture_folder,
    count_captures,
    exactly,
)
from reliability.proxy import fault_proxy
from wound.ingest import ingest_files
from wound.io import ReadLimits

PROBLEMS = ("orphans", "missing", "mismatched")
#: The smallest part S3 takes is 5 MiB: a cube of 8 x 512 x 640 float32 (10.5 MB) makes 2 parts.
LARGE = (512, 640)


def run(*, workdir: Path, endpoint: str, files: int = 100, rate: float = 0.2) -> list[Figure]:
    concern = "transient faults (aws)"
    paths = capture_folder(workdir / "captures", files)
    large = capture_file(workdir / "large.tif", 999_999, size=LARGE)
    with fault_proxy(endpoint, rate=rate, seed=3, after_share=0.3) as proxy:
        spec = StoreSpec.aws(workdir / "store", proxy.endpoint)
        spec.init()
        with spec.open(multipart_threshold=5 << 20) as store:
            outcomes = ingest_files(
                [*paths, large], store, pseudonym_key=b"faults", limits=ReadLimits(), workers=4
            )
            records, distinct = count_captures(store)
            large_id = outcomes[-1].capture_id
            cube_ok = False
            if large_id:
                record = store.get_record(large_id)
                cube_ok = store.get_capture(large_id).cube.shape == record.shape
                cube_key = record.cube.key
            findings = store.check()
        counts = dict(proxy.counts)
    parts = 0
    if large_id:
        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        )
        etag = s3.head_object(Bucket=spec.bucket, Key=cube_key)["ETag"].strip('"')
        parts = int(etag.split("-")[1]) if "-" in etag else 1
        s3.close()
    applied = counts.get("applied, then answered 500", 0)
    injected = sum(v for k, v in counts.items() if k != "requests")
    share = injected / max(counts.get("requests", 1), 1)
    failed = [o for o in outcomes if o.status == "failed"]
    return [
        Figure(
            concern,
            "requests / faults injected (share)",
            f"{counts.get('requests', 0)} / {injected} ({share:.0%})",
            f"~{rate:.0%}",
            abs(share - rate) < 0.1,
        ),
        Figure(concern, "of them: write applied, answer lost (500)", applied, "> 0", applied > 0),
        exactly(concern, f"captures lost of {files + 1}", files + 1 - records, 0),
        exactly(concern, "captures duplicated", records - distinct, 0),
        exactly(concern, "ingest failures", len(failed), 0),
        exactly(concern, "orphans+missing+mismatched", sum(len(findings[k]) for k in PROBLEMS), 0),
        Figure(
            concern,
            "large cube: multipart parts, read back",
            f"{parts}, {cube_ok}",
            ">= 2, True",
            parts >= 2 and cube_ok,
        ),
    ]
