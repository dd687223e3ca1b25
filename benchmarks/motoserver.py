"""A real ``moto_server`` process on loopback for benchmarks, with boto3's environment set."""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

from reliability import servers


@contextmanager
def moto_server() -> Iterator[str]:
    """Run moto_server on a free port; set boto3's endpoint/credentials env; yield the URL."""
    with servers.moto_server(timeout=30) as url:
        os.environ.update(
            AWS_ENDPOINT_URL=url,
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_DEFAULT_REGION="us-east-1",
        )
        yield url


def reset(url: str) -> None:
    """Drop everything moto holds (frees its memory between benchmark rounds)."""
    req = urllib.request.Request(url + "/moto-api/reset", method="POST")
    urllib.request.urlopen(req, timeout=30).read()
