"""Backend specifics: SSE and idempotent init on AWS (moto_server), the SQLite file, the factory."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pytest

from wound.capture import Capture
from wound.errors import StoreError
from wound.settings import Settings
from wound.store import AwsStore, LocalStore, open_store

NewCapture = Callable[..., Capture]


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def clients(aws_env: str) -> Iterator[dict[str, object]]:
    made = {name: boto3.client(name) for name in ("s3", "dynamodb", "kms")}  # type: ignore[call-overload]
    yield made
    for client in made.values():
        client.close()  # type: ignore[attr-defined]


@pytest.mark.integration
def test_aws_init_with_aes256(clients: dict, new_capture: NewCapture) -> None:
    store = AwsStore(_name("wound-sse"), _name("ws"), sse="AES256")
    with store:
        store.init()
        store.init()  # idempotent
        s3, dynamodb = clients["s3"], clients["dynamodb"]
        rules = s3.get_bucket_encryption(Bucket=store.bucket)["ServerSideEncryptionConfiguration"][
            "Rules"
        ]
        assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
        capture_id = store.put_capture(new_capture(0)).capture_id
        head = s3.head_object(Bucket=store.bucket, Key=store.get_record(capture_id).cube.key)
        assert head["ServerSideEncryption"] == "AES256"
        names = dynamodb.list_tables()["TableNames"]
        expected = {f"{store.table_prefix}-{k}" for k in ("captures", "annotations", "models")}
        assert expected <= set(names)
        table = dynamodb.describe_table(TableName=f"{store.table_prefix}-captures")["Table"]
        assert table["TableStatus"] == "ACTIVE"
        assert table["SSEDescription"]["Status"] == "ENABLED"
        indexes = {i["IndexName"] for i in table["GlobalSecondaryIndexes"]}
        assert indexes == {"all", "subject", "subject_wound", "label_status"}


@pytest.mark.integration
def test_aws_init_with_kms_key(clients: dict, new_capture: NewCapture) -> None:
    key_arn = clients["kms"].create_key(Description="wound test")["KeyMetadata"]["Arn"]
    store = AwsStore(_name("wound-kms"), _name("wk"), sse="aws:kms", kms_key_id=key_arn)
    with store:
        store.init()
        s3 = clients["s3"]
        rule = s3.get_bucket_encryption(Bucket=store.bucket)["ServerSideEncryptionConfiguration"][
            "Rules"
        ][0]["ApplyServerSideEncryptionByDefault"]
        assert rule == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn}
        capture_id = store.put_capture(new_capture(0)).capture_id
        head = s3.head_object(Bucket=store.bucket, Key=store.get_record(capture_id).preview.key)
        assert head["ServerSideEncryption"] == "aws:kms"
        assert store.get_capture(capture_id).metadata.capture_id is None


@pytest.mark.integration
def test_aws_unreachable_endpoint_is_a_store_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # discard port: refused
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    with AwsStore("wound-x", "wx") as store, pytest.raises(StoreError, match="wound-x"):
        store.init()


def test_local_store_layout(tmp_path: Path, new_capture: NewCapture) -> None:
    home = tmp_path / "home"
    store = LocalStore(home)
    with pytest.raises(StoreError, match="wound store init"):
        store.list_captures()
    with store:
        store.init()
        store.init()  # idempotent
        capture_id = store.put_capture(new_capture(0)).capture_id
        cube = home / "objects" / store.get_record(capture_id).cube.key
        assert cube.is_file() and cube.is_relative_to(home / "objects" / "captures" / capture_id)
        leftovers = [p for p in (home / "objects").rglob("*") if p.name.startswith(".tmp-")]
        assert leftovers == []
    with sqlite3.connect(home / "store.sqlite") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("SELECT capture_id FROM captures").fetchall() == [(capture_id,)]
    db.close()


def test_factory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")  # clients need one; nothing is called
    local = open_store(Settings(backend="local", home=tmp_path / "h"))
    assert isinstance(local, LocalStore) and local.home == tmp_path / "h"
    assert not (tmp_path / "h").exists()  # nothing created before init()
    aws = open_store(
        Settings(backend="aws", bucket="b1", table_prefix="p1", sse="aws:kms", kms_key_id="k")
    )
    assert isinstance(aws, AwsStore) and (aws.bucket, aws.table_prefix) == ("b1", "p1")
    assert aws.objects.sse == "aws:kms" and aws.objects.kms_key_id == "k"  # type: ignore[attr-defined]
    aws.close()
