"""The AWS store: objects in S3, records in DynamoDB (one table per record kind).

Tables are ``<table_prefix>-captures``, ``-annotations``, ``-predictions`` and ``-models`` (schemas
in :mod:`wound.store.codec`), on-demand billing, global secondary indexes projecting all
attributes: captures by subject / subject#wound / label status / all, each ordered by capture time;
models by task / all, ordered by registration time. Items hold strings and one number (``rev``):
the record itself is a JSON string attribute (``body``).

Endpoint, region and credentials come from boto3's own configuration (``AWS_ENDPOINT_URL``,
``AWS_PROFILE``, ``AWS_DEFAULT_REGION``, ...); nothing is hard-coded.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from boto3.exceptions import Boto3Error
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from wound.errors import RecordExistsError, StoreError
from wound.store.artifacts import PrimitiveStore
from wound.store.primitives import Item, ObjectStore, Position, RecordStore, Table

Sse = Literal["none", "AES256", "aws:kms"]
_MISSING = {"404", "NoSuchKey", "NotFound", "NoSuchBucket"}
_SERIALIZE = TypeSerializer().serialize
_DESERIALIZE = TypeDeserializer().deserialize


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


@contextmanager
def _aws(what: str) -> Iterator[None]:
    """Turn boto errors into a StoreError naming what was being done."""
    try:
        yield
    except ClientError as exc:
        raise StoreError(
            f"{what}: {_code(exc)} {exc.response.get('Error', {}).get('Message', '')}"
        ) from exc
    except (BotoCoreError, Boto3Error) as exc:  # Boto3Error: s3transfer's upload failures
        raise StoreError(f"{what}: {exc}") from exc


#: Objects at least this large go up as a multipart upload through s3transfer (parts retried
#: one by one; a part that still fails aborts the upload and the capture is not stored).
MULTIPART_THRESHOLD = 64 << 20


class S3Objects(ObjectStore):
    """Objects in one bucket, with server-side encryption when configured."""

    def __init__(
        self,
        client: Any,
        bucket: str,
        *,
        sse: Sse,
        kms_key_id: str | None,
        multipart_threshold: int = MULTIPART_THRESHOLD,
    ) -> None:
        self.client, self.bucket, self.sse, self.kms_key_id = client, bucket, sse, kms_key_id
        self.transfer = TransferConfig(
            multipart_threshold=multipart_threshold,
            multipart_chunksize=max(multipart_threshold // 2, 5 << 20),
            max_concurrency=4,
        )

    def _sse_args(self) -> dict[str, str]:
        if self.sse == "none":
            return {}
        args: dict[str, str] = {"ServerSideEncryption": self.sse}
        if self.sse == "aws:kms" and self.kms_key_id:
            args["SSEKMSKeyId"] = self.kms_key_id
        return args

    def init(self) -> None:
        where = f"s3://{self.bucket}"
        with _aws(f"{where}: head bucket"):
            try:
                self.client.head_bucket(Bucket=self.bucket)
                exists = True
            except ClientError as exc:
                if _code(exc) not in _MISSING:
                    raise
                exists = False
        if not exists:
            region = self.client.meta.region_name
            args: dict[str, Any] = {"Bucket": self.bucket}
            if region and region != "us-east-1":
                args["CreateBucketConfiguration"] = {"LocationConstraint": region}
            with _aws(f"{where}: create bucket"):
                try:
                    self.client.create_bucket(**args)
                except ClientError as race:
                    if _code(race) != "BucketAlreadyOwnedByYou":
                        raise
        if self.sse != "none":
            rule: dict[str, str] = {"SSEAlgorithm": self.sse}
            if self.sse == "aws:kms" and self.kms_key_id:
                rule["KMSMasterKeyID"] = self.kms_key_id
            with _aws(f"{where}: put bucket encryption"):
                self.client.put_bucket_encryption(
                    Bucket=self.bucket,
                    ServerSideEncryptionConfiguration={
                        "Rules": [{"ApplyServerSideEncryptionByDefault": rule}]
                    },
                )

    def put(self, key: str, data: bytes, *, if_absent: bool = False) -> bool:
        if not if_absent and len(data) >= self.transfer.multipart_threshold:
            with _aws(f"s3://{self.bucket}/{key}: multipart upload"):
                self.client.upload_fileobj(
                    io.BytesIO(data),
                    self.bucket,
                    key,
                    ExtraArgs=self._sse_args(),
                    Config=self.transfer,
                )
            return True
        args: dict[str, Any] = {"Bucket": self.bucket, "Key": key, "Body": data, **self._sse_args()}
        if if_absent:
            args["IfNoneMatch"] = "*"
        with _aws(f"s3://{self.bucket}/{key}: put"):
            try:
                self.client.put_object(**args)
            except ClientError as exc:
                if if_absent and _code(exc) in ("PreconditionFailed", "ConditionalRequestConflict"):
                    return False
                raise
        return True

    def get(self, key: str) -> bytes | None:
        with _aws(f"s3://{self.bucket}/{key}: get"):
            try:
                response = self.client.get_object(Bucket=self.bucket, Key=key)
            except ClientError as exc:
                if _code(exc) in _MISSING:
                    return None
                raise
            return bytes(response["Body"].read())

    def head(self, key: str) -> int | None:
        with _aws(f"s3://{self.bucket}/{key}: head"):
            try:
                return int(self.client.head_object(Bucket=self.bucket, Key=key)["ContentLength"])
            except ClientError as exc:
                if _code(exc) in _MISSING:
                    return None
                raise

    def delete(self, key: str) -> None:
        with _aws(f"s3://{self.bucket}/{key}: delete"):
            self.client.delete_object(Bucket=self.bucket, Key=key)

    def list_keys(self, prefix: str = "") -> Iterator[str]:
        with _aws(f"s3://{self.bucket}/{prefix}: list"):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix
            )
            keys = [obj["Key"] for page in pages for obj in page.get("Contents", [])]
        return iter(keys)

    def list_sizes(self, prefix: str = "") -> Iterator[tuple[str, int]]:
        with _aws(f"s3://{self.bucket}/{prefix}: list"):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix
            )
            found = [(o["Key"], int(o["Size"])) for page in pages for o in page.get("Contents", [])]
        return iter(found)

    def close(self) -> None:
        self.client.close()


class DynamoRecords(RecordStore):
    """Items in DynamoDB tables named ``<prefix>-<kind>``."""

    def __init__(self, client: Any, prefix: str, *, sse: Sse, kms_key_id: str | None) -> None:
        self.client, self.prefix, self.sse, self.kms_key_id = client, prefix, sse, kms_key_id

    def name(self, table: Table) -> str:
        return f"{self.prefix}-{table.name}"

    def init(self, tables: tuple[Table, ...]) -> None:
        for table in tables:
            name = self.name(table)
            with _aws(f"dynamodb table {name}: create"):
                try:
                    self.client.describe_table(TableName=name)
                    continue
                except ClientError as exc:
                    if _code(exc) != "ResourceNotFoundException":
                        raise
                try:
                    self.client.create_table(**self._definition(table))
                except ClientError as exc:
                    if _code(exc) != "ResourceInUseException":  # created meanwhile
                        raise
        for table in tables:
            with _aws(f"dynamodb table {self.name(table)}: wait until active"):
                self.client.get_waiter("table_exists").wait(
                    TableName=self.name(table), WaiterConfig={"Delay": 1, "MaxAttempts": 120}
                )

    def _definition(self, table: Table) -> dict[str, Any]:
        def schema(hash_name: str, range_name: str | None) -> list[dict[str, str]]:
            keys = [{"AttributeName": hash_name, "KeyType": "HASH"}]
            if range_name is not None:
                keys.append({"AttributeName": range_name, "KeyType": "RANGE"})
            return keys

        indexed = {*table.key_attributes, *(a for i in table.indexes for a in (i.hash, i.range))}
        definition: dict[str, Any] = {
            "TableName": self.name(table),
            "AttributeDefinitions": [
                {"AttributeName": a, "AttributeType": "S"} for a in sorted(indexed)
            ],
            "KeySchema": schema(table.hash, table.range),
            "BillingMode": "PAY_PER_REQUEST",
        }
        if table.indexes:
            definition["GlobalSecondaryIndexes"] = [
                {
                    "IndexName": i.name,
                    "KeySchema": schema(i.hash, i.range),
                    "Projection": {"ProjectionType": "ALL"},
                }
                for i in table.indexes
            ]
        if self.sse != "none":
            sse: dict[str, Any] = {"Enabled": True, "SSEType": "KMS"}
            if self.sse == "aws:kms" and self.kms_key_id:
                sse["KMSMasterKeyId"] = self.kms_key_id
            definition["SSESpecification"] = sse
        return definition

    @staticmethod
    def _encode(table: Table, item: Item) -> dict[str, Any]:
        encoded = {
            name: {"S": str(item[name])}
            for name in table.all_attributes
            if item.get(name) is not None  # absent, not NULL: keeps sparse indexes valid
        }
        encoded["body"] = {"S": item["body"]}
        encoded["rev"] = {"N": str(int(item["rev"]))}
        return encoded

    @staticmethod
    def _decode(raw: dict[str, Any]) -> Item:
        item: Item = {name: _DESERIALIZE(value) for name, value in raw.items()}
        item["rev"] = int(item["rev"])
        return item

    def put_if_absent(self, table: Table, item: Item) -> None:
        name = self.name(table)
        with _aws(f"dynamodb table {name}: put"):
            try:
                self.client.put_item(
                    TableName=name,
                    Item=self._encode(table, item),
                    ConditionExpression="attribute_not_exists(#h)",
                    ExpressionAttributeNames={"#h": table.hash},
                )
            except ClientError as exc:
                if _code(exc) == "ConditionalCheckFailedException":
                    raise RecordExistsError(f"{name} record {table.key_of(item)} exists") from exc
                raise

    def get(self, table: Table, key: dict[str, str]) -> Item | None:
        name = self.name(table)
        with _aws(f"dynamodb table {name}: get {key}"):
            response = self.client.get_item(
                TableName=name,
                Key={k: _SERIALIZE(v) for k, v in key.items()},
                ConsistentRead=True,
            )
        raw = response.get("Item")
        return self._decode(raw) if raw else None

    def replace(self, table: Table, item: Item, *, rev: int) -> bool:
        name = self.name(table)
        with _aws(f"dynamodb table {name}: conditional update"):
            try:
                self.client.put_item(
                    TableName=name,
                    Item=self._encode(table, item),
                    ConditionExpression="#rev = :rev",
                    ExpressionAttributeNames={"#rev": "rev"},
                    ExpressionAttributeValues={":rev": {"N": str(rev)}},
                )
            except ClientError as exc:
                if _code(exc) == "ConditionalCheckFailedException":
                    return False
                raise
        return True

    def delete(self, table: Table, key: dict[str, str]) -> None:
        name = self.name(table)
        with _aws(f"dynamodb table {name}: delete {key}"):
            self.client.delete_item(TableName=name, Key={k: _SERIALIZE(v) for k, v in key.items()})

    def query(
        self,
        table: Table,
        hash_value: str,
        *,
        index: str | None = None,
        range_prefix: str | None = None,
        where: dict[str, str] | None = None,
        descending: bool = False,
        limit: int | None = None,
        start: Position | None = None,
    ) -> tuple[list[Item], Position | None]:
        hash_name, range_name = table.hash, table.range
        args: dict[str, Any] = {"TableName": self.name(table), "ScanIndexForward": not descending}
        if index is not None:
            idx = table.index(index)
            hash_name, range_name = idx.hash, idx.range
            args["IndexName"] = index
        else:
            args["ConsistentRead"] = True  # not offered on global secondary indexes
        condition = "#h = :h"
        args["ExpressionAttributeNames"] = {"#h": hash_name}
        args["ExpressionAttributeValues"] = {":h": {"S": hash_value}}
        if range_prefix is not None and range_name is not None:
            condition += " AND begins_with(#r, :p)"
            args["ExpressionAttributeNames"]["#r"] = range_name
            args["ExpressionAttributeValues"][":p"] = {"S": range_prefix}
        args["KeyConditionExpression"] = condition
        if where:  # evaluated after Limit: pages may come back short, the loop goes on
            filters = []
            for i, (name, value) in enumerate(sorted(where.items())):
                args["ExpressionAttributeNames"][f"#f{i}"] = name
                args["ExpressionAttributeValues"][f":f{i}"] = {"S": value}
                filters.append(f"#f{i} = :f{i}")
            args["FilterExpression"] = " AND ".join(filters)
        if start:
            args["ExclusiveStartKey"] = {k: {"S": v} for k, v in start.items()}
        items: list[Item] = []
        with _aws(f"dynamodb table {self.name(table)}: query {index or 'key'}={hash_value}"):
            while True:
                if limit is not None:
                    args["Limit"] = limit - len(items)
                response = self.client.query(**args)
                items += [self._decode(raw) for raw in response.get("Items", [])]
                last = response.get("LastEvaluatedKey")
                if not last or (limit is not None and len(items) >= limit):
                    break
                args["ExclusiveStartKey"] = last
        position = {k: str(_DESERIALIZE(v)) for k, v in last.items()} if last else None
        return items, position

    def scan(self, table: Table) -> Iterator[Item]:
        name = self.name(table)
        with _aws(f"dynamodb table {name}: scan"):
            pages = self.client.get_paginator("scan").paginate(TableName=name, ConsistentRead=True)
            items = [self._decode(raw) for page in pages for raw in page.get("Items", [])]
        return iter(items)

    def close(self) -> None:
        self.client.close()


class AwsStore(PrimitiveStore):
    """S3 + DynamoDB. Clients are created once per store (thread-safe, pooled)."""

    def __init__(
        self,
        bucket: str,
        table_prefix: str,
        *,
        sse: Sse = "none",
        kms_key_id: str | None = None,
        session: boto3.session.Session | None = None,
        max_pool_connections: int = 32,
        client_kwargs: dict[str, Any] | None = None,
        retry_mode: Literal["standard", "adaptive"] = "standard",
        max_attempts: int = 10,
        multipart_threshold: int = MULTIPART_THRESHOLD,
    ) -> None:
        if sse not in ("none", "AES256", "aws:kms"):
            raise StoreError(f"sse {sse!r} is not one of none, AES256, aws:kms")
        session = session or boto3.session.Session()
        # Retries are botocore's own (standard: throttling and 5xx retried with jittered
        # exponential backoff; adaptive adds client-side rate limiting), never a loop of ours.
        config = Config(
            max_pool_connections=max_pool_connections,
            retries={"mode": retry_mode, "total_max_attempts": max_attempts},
        )
        extra = client_kwargs or {}
        with _aws("AWS clients"):
            s3 = session.client("s3", config=config, **extra)
            dynamodb = session.client("dynamodb", config=config, **extra)
        self.bucket, self.table_prefix = bucket, table_prefix
        super().__init__(
            S3Objects(
                s3, bucket, sse=sse, kms_key_id=kms_key_id, multipart_threshold=multipart_threshold
            ),
            DynamoRecords(dynamodb, table_prefix, sse=sse, kms_key_id=kms_key_id),
        )

    def __repr__(self) -> str:
        return f"AwsStore(bucket={self.bucket!r}, table_prefix={self.table_prefix!r})"
