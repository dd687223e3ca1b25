"""Backups, both backends: store init protects the AWS store (versioning, archive lifecycle,
point-in-time recovery); a restore drill brings every capture back, checked by SHA-256."""

from __future__ import annotations

from pathlib import Path

import pytest

from reliability import backup
from reliability.common import print_table

pytestmark = [pytest.mark.reliability, pytest.mark.integration, pytest.mark.slow]


def test_restore_drill_brings_every_capture_back(tmp_path: Path, moto_server: str) -> None:
    figures = backup.run(workdir=tmp_path, endpoint=moto_server, files=12)
    table = print_table(figures)
    assert all(f.met for f in figures), table
