"""Transient faults, bounded for CI (40 captures + one multipart cube through a proxy that
fails 20% of S3 and DynamoDB calls; ``make reliability``: 100): nothing lost or duplicated,
botocore's standard retry mode does the retrying, multipart parts survive."""

from __future__ import annotations

from pathlib import Path

import pytest

from reliability import faults
from reliability.common import print_table
from wound.settings import Settings
from wound.store import AwsStore

pytestmark = [pytest.mark.reliability, pytest.mark.integration, pytest.mark.slow]


def test_ingest_through_a_faulty_network_loses_and_duplicates_nothing(
    tmp_path: Path, moto_server: str
) -> None:
    figures = faults.run(workdir=tmp_path, endpoint=moto_server, files=40)
    table = print_table(figures)
    assert all(f.met for f in figures), table


def test_the_retry_policy_is_botocores_from_settings(aws_env: str) -> None:
    from wound.store import open_store

    settings = Settings(backend="aws", aws_retry_mode="adaptive", aws_max_attempts=7)
    store = open_store(settings)
    assert isinstance(store, AwsStore)
    for client in (store.objects.client, store.records.client):  # type: ignore[attr-defined]
        retries = client.meta.config.retries
        assert retries["mode"] == "adaptive" and retries["total_max_attempts"] == 7
    store.close()
