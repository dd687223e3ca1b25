"""The capture store: objects + records, local (folder + SQLite) or AWS (S3 + DynamoDB)."""

from wound.store.aws import AwsStore
from wound.store.base import CaptureStore, PutResult
from wound.store.factory import open_store
from wound.store.local import LocalStore

__all__ = ["AwsStore", "CaptureStore", "LocalStore", "PutResult", "open_store"]
