"""``wound dashboard``: Streamlit on 127.0.0.1 with the app of this checkout; stops on SIGTERM."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import dashboard
from reliability.servers import free_port
from wound.cli.dashboard_cmds import app_path, streamlit_command


def test_command_line_binds_loopback_and_hides_error_details() -> None:
    command = streamlit_command(8601)
    assert app_path() == Path(dashboard.__file__).parent / "app.py"
    assert command[command.index("--server.address") + 1] == "127.0.0.1"
    assert command[command.index("--server.port") + 1] == "8601"
    assert command[command.index("--client.showErrorDetails") + 1] == "none"
    assert command[command.index("--browser.gatherUsageStats") + 1] == "false"


@pytest.mark.integration
def test_wound_dashboard_serves_and_stops(empty_env: Path) -> None:
    port = free_port()
    wound = shutil.which("wound", path=str(Path(sys.executable).parent))
    assert wound is not None
    process = subprocess.Popen(
        [wound, "dashboard", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health") as answer:
                    assert answer.read() == b"ok"
                    break
            except OSError:
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                assert time.monotonic() < deadline, "wound dashboard did not start"
                time.sleep(0.3)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) is not None
        with pytest.raises(OSError):  # the server is gone with the command (no orphan)
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout:
            process.stdout.close()
