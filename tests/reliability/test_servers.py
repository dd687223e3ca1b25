"""The loopback server helper on a real process (Python's ``http.server``): it waits for the
health URL, says why a server did not start, and leaves no process behind."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from reliability import servers

pytestmark = pytest.mark.integration


def http_server(port: int) -> Sequence[str]:
    return [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]


def test_serves_until_the_health_url_answers_then_stops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "health").write_text("ok")
    started: list[subprocess.Popen[bytes]] = []
    popen = subprocess.Popen

    def spy(*args: object, **kwargs: object) -> subprocess.Popen[bytes]:
        started.append(popen(*args, **kwargs))  # type: ignore[call-overload]
        return started[-1]

    monkeypatch.setattr(subprocess, "Popen", spy)
    with servers.serve(http_server, name="http", health="/health", cwd=tmp_path) as url:
        assert url.startswith("http://127.0.0.1:")
        assert servers.answers(f"{url}/health")
        assert not servers.answers(f"{url}/missing")  # 404
        assert servers.answers(f"{url}/missing", any_status=True)
    [process] = started
    assert process.poll() is not None
    assert not servers.answers(f"{url}/health")


def test_a_server_that_exits_is_named_with_its_log(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    crash = [sys.executable, "-c", "print('no config file'); raise SystemExit(3)"]
    with (
        pytest.raises(servers.ServerDidNotStart, match=r"broken did not start.*no config file"),
        servers.serve(lambda port: crash, name="broken", health="/", log=log),
    ):
        pass


def test_a_health_url_that_never_answers_200_times_out(tmp_path: Path) -> None:
    with (
        pytest.raises(servers.ServerDidNotStart, match="http did not start"),
        servers.serve(http_server, name="http", health="/missing", timeout=2, cwd=tmp_path),
    ):
        pass


def test_free_port_is_free() -> None:
    port = servers.free_port()
    assert not servers.answers(f"http://127.0.0.1:{port}/", any_status=True)
