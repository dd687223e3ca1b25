"""Backups: ``wound store init`` turns on S3 versioning, the archive lifecycle rule and
DynamoDB point-in-time recovery (AWS); then a restore drill on both backends deletes and
overwrites objects (and, on the embedded store, loses records), restores through
``wound store backup``/``restore``, and checks every capture's objects by SHA-256."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reliability.common import Figure, StoreSpec, capture_folder, exactly, wound_cli
from wound.store import AwsStore, CaptureStore, LocalStore
from wound.store.codec import CAPTURES, TABLES, sha256
from wound.store.records import ObjectRef

PROBLEMS = ("orphans", "missing", "mismatched")


def _refs(store: CaptureStore) -> dict[str, ObjectRef]:
    return dict(store._referenced())  # type: ignore[attr-defined]


def _sabotage(store: CaptureStore, refs: dict[str, ObjectRef]) -> int:
    """Delete every third referenced object and overwrite every third other one."""
    keys = sorted(refs)
    objects: Any = store.objects  # type: ignore[attr-defined]
    for i, key in enumerate(keys):
        if i % 3 == 0:
            objects.delete(key)
        elif i % 3 == 1:
            objects.put(key, b"overwritten by the drill")
    return len(keys) - len(keys) // 3


def _intact(store: CaptureStore, refs: dict[str, ObjectRef]) -> int:
    objects: Any = store.objects  # type: ignore[attr-defined]
    good = 0
    for key, ref in refs.items():
        data = objects.get(key)
        good += data is not None and sha256(data) == ref.sha256
    return good


def run(*, workdir: Path, endpoint: str | None, files: int = 30) -> list[Figure]:
    paths = capture_folder(workdir / "captures", files)
    out: list[Figure] = []
    for backend in ["local"] + (["aws"] if endpoint else []):
        concern = f"backup ({backend})"
        home = workdir / backend
        spec = StoreSpec.local(home) if backend == "local" else StoreSpec.aws(home, endpoint or "")
        home.mkdir(parents=True, exist_ok=True)
        wound_cli(["store", "init"], spec)
        wound_cli(["ingest", *map(str, paths)], spec)
        with spec.open() as store:
            refs = _refs(store)
            ids = sorted(r.capture_id for r in store.iter_captures())
            if isinstance(store, AwsStore):
                out += _aws_settings(store, concern)
        if backend == "local":
            backup = wound_cli(["store", "backup", str(workdir / "backup")], spec)
            out.append(exactly(concern, "wound store backup exit code", backup.returncode, 0))
        with spec.open() as store:
            damaged = _sabotage(store, refs)
            if isinstance(store, LocalStore):  # lose records too: a third of them
                for cid in ids[: len(ids) // 3]:
                    store.records.delete(CAPTURES, {"capture_id": cid})
            before = _intact(store, refs)
        args = ["store", "restore"] + ([str(workdir / "backup")] if backend == "local" else [])
        restored = wound_cli(args, spec)
        with spec.open() as store:
            after = _intact(store, refs)
            back = sorted(r.capture_id for r in store.iter_captures())
            readable = sum(store.get_capture(cid).cube.size > 0 for cid in back)
            findings = store.check()
        out += [
            Figure(
                concern,
                "objects damaged by the drill / intact before restore",
                f"{damaged} / {before} of {len(refs)}",
                "-",
                True,
            ),
            exactly(concern, "restore exit code", restored.returncode, 0),
            exactly(concern, "objects matching their SHA-256 after restore", after, len(refs)),
            exactly(concern, f"captures back and readable (of {len(ids)})", readable, len(ids)),
            exactly(
                concern,
                "missing+mismatched after restore",
                sum(len(findings[k]) for k in ("missing", "mismatched")),
                0,
            ),
        ]
    return out


def _aws_settings(store: AwsStore, concern: str) -> list[Figure]:
    s3: Any = store.objects.client  # type: ignore[attr-defined]
    versioning = s3.get_bucket_versioning(Bucket=store.bucket).get("Status")
    rules = s3.get_bucket_lifecycle_configuration(Bucket=store.bucket)["Rules"]
    transition = rules[0]["Transitions"][0] if rules else {}
    dynamo: Any = store.records
    pitr = []
    for table in TABLES:
        described = dynamo.client.describe_continuous_backups(TableName=dynamo.name(table))
        status = described["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
        pitr.append(status["PointInTimeRecoveryStatus"] == "ENABLED")
    return [
        Figure(concern, "S3 versioning", str(versioning), "Enabled", versioning == "Enabled"),
        Figure(
            concern,
            "lifecycle: captures/ to archive after (days, class)",
            f"{transition.get('Days')}, {transition.get('StorageClass')}",
            "set",
            bool(transition),
        ),
        exactly(concern, "tables with point-in-time recovery", sum(pitr), len(TABLES)),
    ]
