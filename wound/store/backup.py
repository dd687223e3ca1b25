"""Backups and restores (docs/storage.md, "Backups").

AWS: :func:`protect_aws` (run by ``wound store init``) turns on S3 versioning, a lifecycle rule
that moves capture objects to an archive storage class after a configurable age (old versions
too), and DynamoDB point-in-time recovery on every table. :func:`restore_aws_versions` brings
back every object a record refers to that is missing or whose bytes no longer match its
SHA-256, from the newest earlier version that matches.

Embedded store: :func:`backup_local` copies the SQLite file with SQLite's online backup API
(a consistent snapshot while others write) and then the object folder (objects are written
before their records, so every object the snapshot refers to is already there);
:func:`restore_local` copies both back (records replaced by the snapshot's, objects restored
where missing or different).
"""

from __future__ import annotations

import filecmp
import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

from wound.errors import StoreError
from wound.store import codec
from wound.store.aws import AwsStore, S3Objects, _aws
from wound.store.local import TEMP_PREFIX, LocalStore


def protect_aws(store: AwsStore, *, archive_after_days: int, storage_class: str) -> None:
    """Versioning + archive lifecycle on the bucket, point-in-time recovery on the tables."""
    objects = store.objects
    assert isinstance(objects, S3Objects)
    s3, bucket = objects.client, store.bucket
    with _aws(f"s3://{bucket}: put bucket versioning"):
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    rule: dict[str, Any] = {
        "ID": "archive-captures",
        "Filter": {"Prefix": "captures/"},
        "Status": "Enabled",
        "Transitions": [{"Days": archive_after_days, "StorageClass": storage_class}],
        "NoncurrentVersionTransitions": [
            {"NoncurrentDays": archive_after_days, "StorageClass": storage_class}
        ],
    }
    with _aws(f"s3://{bucket}: put bucket lifecycle"):
        s3.put_bucket_lifecycle_configuration(
            Bucket=bucket, LifecycleConfiguration={"Rules": [rule]}
        )
    records: Any = store.records
    for table in codec.TABLES:
        name = records.name(table)
        with _aws(f"dynamodb table {name}: point-in-time recovery"):
            records.client.update_continuous_backups(
                TableName=name,
                PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
            )


def restore_aws_versions(store: AwsStore) -> dict[str, list[str]]:
    """Every referenced object that is missing or corrupt, restored from an earlier version
    with the record's SHA-256 (``restored``), or listed as ``unrecoverable``."""
    objects = store.objects
    assert isinstance(objects, S3Objects)
    s3, bucket = objects.client, store.bucket
    restored: list[str] = []
    lost: list[str] = []
    for key, ref in sorted(store._referenced().items()):
        data = objects.get(key)
        if data is not None and codec.sha256(data) == ref.sha256:
            continue
        with _aws(f"s3://{bucket}/{key}: list versions"):
            listed = s3.list_object_versions(Bucket=bucket, Prefix=key)
        versions = [v for v in listed.get("Versions", []) if v["Key"] == key]
        versions.sort(key=lambda v: v["LastModified"], reverse=True)
        for version in versions:
            with _aws(f"s3://{bucket}/{key}: get version"):
                body = s3.get_object(Bucket=bucket, Key=key, VersionId=version["VersionId"])
                old = body["Body"].read()
            if codec.sha256(old) == ref.sha256:
                objects.put(key, old)  # a new current version with the recorded bytes
                restored.append(key)
                break
        else:
            lost.append(key)
    return {"restored": restored, "unrecoverable": lost}


def backup_local(store: LocalStore, dest: Path) -> dict[str, int]:
    """Snapshot of the records (SQLite online backup) and a copy of the objects in ``dest``."""
    dest = Path(dest)
    if dest.exists() and any(dest.iterdir()):
        raise StoreError(f"{dest}: backup folder is not empty")
    dest.mkdir(parents=True, exist_ok=True)
    _sqlite_copy(store.home / "store.sqlite", dest / "store.sqlite")
    copied = _copy_tree(store.home / "objects", dest / "objects")
    return {"objects": copied}


def restore_local(store: LocalStore, src: Path) -> dict[str, int]:
    """Records from the backup's snapshot; objects copied back where missing or different."""
    src = Path(src)
    if not (src / "store.sqlite").is_file():
        raise StoreError(f"{src}: not a backup made by `wound store backup` (no store.sqlite)")
    store.close()  # the next call reconnects to the restored file
    _sqlite_copy(src / "store.sqlite", store.home / "store.sqlite")
    copied = _copy_tree(src / "objects", store.home / "objects", only_changed=True)
    return {"objects": copied}


def _sqlite_copy(source: Path, target: Path) -> None:
    try:
        with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
            src.backup(dst)
        src.close()
        dst.close()
    except sqlite3.Error as exc:
        raise StoreError(f"{source} -> {target}: SQLite backup failed ({exc})") from exc


def _copy_tree(source: Path, target: Path, *, only_changed: bool = False) -> int:
    copied = 0
    for folder, _, names in os.walk(source):
        base = Path(folder)
        out = target / base.relative_to(source)
        out.mkdir(parents=True, exist_ok=True)
        for name in names:
            if name.startswith(TEMP_PREFIX):
                continue
            there = out / name
            if only_changed and there.is_file() and filecmp.cmp(base / name, there, False):
                continue
            temp = out / f"{TEMP_PREFIX}{name}"
            shutil.copy2(base / name, temp)
            os.replace(temp, there)
            copied += 1
    return copied
