"""Open the store the settings describe."""

from __future__ import annotations

from wound.settings import Settings
from wound.store.aws import AwsStore
from wound.store.base import CaptureStore
from wound.store.local import LocalStore


def open_store(settings: Settings) -> CaptureStore:
    """``LocalStore(settings.home)`` or ``AwsStore(bucket, table_prefix, sse, kms_key_id)``.

    Nothing is created: call ``init()`` once (``wound store init``).
    """
    if settings.backend == "aws":
        return AwsStore(
            settings.bucket,
            settings.table_prefix,
            sse=settings.sse,
            kms_key_id=settings.kms_key_id,
            retry_mode=settings.aws_retry_mode,
            max_attempts=settings.aws_max_attempts,
        )
    return LocalStore(settings.home)
