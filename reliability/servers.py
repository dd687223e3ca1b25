"""Server processes on loopback for the suite, the tests and the benchmarks: a free port, the
process started and polled until its health URL answers over HTTP, and stopped afterwards
(``moto_server`` speaking the AWS protocol, ``streamlit run`` for the dashboard, ...)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO


class ServerDidNotStart(RuntimeError):
    """The server's program is missing, it exited, or it did not answer in time."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on (now)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def answers(url: str, *, any_status: bool = False, timeout: float = 2.0) -> bool:
    """True when ``url`` answers 200 (with ``any_status``: any HTTP answer, an error too)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            return any_status or bool(answer.status == 200)
    except urllib.error.HTTPError:
        return any_status
    except OSError:
        return False


def stop(process: subprocess.Popen[bytes], *, timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL when it has not exited after ``timeout`` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def serve(
    command: Callable[[int], Sequence[str]],
    *,
    name: str,
    health: str,
    log: Path | None = None,
    timeout: float = 60.0,
    interval: float = 0.1,
    any_status: bool = False,
    stop_timeout: float = 10.0,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Iterator[str]:
    """Run ``command(port)`` on a free loopback port; yield ``http://127.0.0.1:<port>`` once
    ``health`` (a path) answers; stop the process on exit. Output goes to ``log`` (its tail is
    in the :class:`ServerDidNotStart` message) or nowhere."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with ExitStack() as files:
        out: IO[bytes] | int = subprocess.DEVNULL
        if log is not None:
            out = files.enter_context(log.open("wb"))
        process = subprocess.Popen(
            list(command(port)), cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + timeout
        while not answers(f"{url}{health}", any_status=any_status):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-3000:] if log is not None else ""
                raise ServerDidNotStart(f"{name} did not start on {url}: {tail}")
            time.sleep(interval)
        yield url
    finally:
        stop(process, timeout=stop_timeout)


def moto_binary() -> str:
    """``moto_server`` beside this Python (the venv's), else on ``PATH``."""
    beside = Path(sys.executable).with_name("moto_server")
    found = str(beside) if beside.exists() else shutil.which("moto_server")
    if found is None:
        raise ServerDidNotStart(
            "moto_server not found: install the dev extras (pip install -e '.[dev]')"
        )
    return found


@contextmanager
def moto_server(log: Path | None = None, *, timeout: float = 60.0) -> Iterator[str]:
    """A real ``moto_server`` (S3, DynamoDB, ... over HTTP) on 127.0.0.1; yields its endpoint."""
    binary = moto_binary()
    with serve(
        lambda port: [binary, "-H", "127.0.0.1", "-p", str(port)],
        name="moto_server",
        health="/moto-api/",
        log=log,
        timeout=timeout,
        any_status=True,
    ) as endpoint:
        yield endpoint


@contextmanager
def streamlit_server(
    *,
    log: Path,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    stop_timeout: float = 20.0,
) -> Iterator[str]:
    """``streamlit run dashboard/app.py`` (what ``wound dashboard`` runs) on 127.0.0.1; yields
    its URL once its health check answers (the first start imports a lot: up to 2 minutes)."""
    from wound.cli.dashboard_cmds import streamlit_command

    with serve(
        streamlit_command,
        name="streamlit",
        health="/_stcore/health",
        log=log,
        timeout=120,
        interval=0.3,
        stop_timeout=stop_timeout,
        cwd=cwd,
        env=env,
    ) as url:
        yield url
