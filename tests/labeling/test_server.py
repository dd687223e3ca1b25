"""The local Label Studio server keeps its admin secrets off the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from labeling.server import LocalServer

pytestmark = pytest.mark.integration


def test_secrets_not_in_the_process_list(label_studio: LocalServer) -> None:
    assert label_studio.process is not None
    cmdline = Path(f"/proc/{label_studio.process.pid}/cmdline").read_bytes()
    assert b"label-studio" in cmdline or b"start" in cmdline  # it is the server's command line
    assert label_studio.password.encode() not in cmdline
    assert label_studio.token.encode() not in cmdline
