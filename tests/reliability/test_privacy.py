"""Privacy, both backends: planted names, MRNs and dates of birth reach no key, record, CLI
line, error message or exported file; secrets stay out of output; defaults keep URLs short-lived
and services on 127.0.0.1; SSE on every S3 object when configured."""

from __future__ import annotations

from pathlib import Path

import pytest

from reliability import privacy
from reliability.common import print_table

pytestmark = [pytest.mark.reliability, pytest.mark.integration, pytest.mark.slow]


def test_planted_identifiers_and_secrets_leak_nowhere(tmp_path: Path, moto_server: str) -> None:
    figures = privacy.run(workdir=tmp_path, endpoint=moto_server)
    table = print_table(figures)
    assert all(f.met for f in figures), table
