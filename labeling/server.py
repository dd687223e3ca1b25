"""A local Label Studio server: its own virtual environment, SQLite, bound to 127.0.0.1.

Label Studio (``label-studio==1.23.2``) pins Django and its own SDK, so it never shares the
platform's environment: :func:`ensure_venv` creates ``settings.label_studio_venv`` on first use
(``make labelstudio`` does the same). The server runs headless with legacy token auth (the
platform's SDK client sends ``Authorization: Token ...``), local-files serving under a document
root (images of the embedded backend) and SSRF protection off (so it can reach a loopback S3
endpoint). Nothing leaves the machine: no version check, analytics or error reporting.
See docs/labeling.md.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from labeling.config import LabelingError

LABEL_STUDIO_VERSION = "1.23.2"
STAMP = f".installed-label-studio-{LABEL_STUDIO_VERSION}"


def ensure_venv(venv: Path, *, python: str | None = None) -> Path:
    """The ``label-studio`` executable of ``venv``, creating the environment when missing."""
    exe = venv / "bin" / "label-studio"
    if (venv / STAMP).exists() and exe.exists():
        return exe
    python = python or str(getattr(sys, "_base_executable", sys.executable))
    try:
        if not (venv / "bin" / "python").exists():
            subprocess.run([python, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-q", f"label-studio=={LABEL_STUDIO_VERSION}"],
            check=True,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        raise LabelingError(f"could not install Label Studio into {venv}: {exc}") from exc
    (venv / STAMP).touch()
    return exe


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def is_healthy(url: str, *, timeout: float = 2.0) -> bool:
    """True when Label Studio at ``url`` answers its health check."""
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/health", timeout=timeout) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@dataclass
class LocalServer:
    """One Label Studio process. ``start()`` returns when it is healthy; ``stop()`` ends it."""

    executable: Path
    data_dir: Path
    document_root: Path
    username: str
    password: str
    token: str
    port: int = 8080
    log_path: Path | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)
    _log: IO[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LABEL_STUDIO_")}
        env.update(
            {
                "LABEL_STUDIO_BASE_DATA_DIR": str(self.data_dir),
                "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
                "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true",
                "SSRF_PROTECTION_ENABLED": "false",
                "LOCAL_FILES_SERVING_ENABLED": "true",
                "LOCAL_FILES_DOCUMENT_ROOT": str(self.document_root),
                "DJANGO_DB": "sqlite",
                "COLLECT_ANALYTICS": "false",
                "LATEST_VERSION_CHECK": "false",  # no call to pypi.org on start
                "SENTRY_DSN": "",  # no error reports leave the machine
                "FRONTEND_SENTRY_DSN": "",
                "PYTHONUNBUFFERED": "1",
                # the admin's credentials by environment, never on the command line (which any
                # local user can read in the process list)
                "LABEL_STUDIO_USERNAME": self.username,
                "LABEL_STUDIO_PASSWORD": self.password,
                "LABEL_STUDIO_USER_TOKEN": self.token,
            }
        )
        return env

    def start(self, *, timeout: float = 600.0) -> LocalServer:
        if len(self.password) < 8:
            raise LabelingError("the Label Studio password needs at least 8 characters")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_path or self.data_dir / "label-studio.log"
        self._log = log_path.open("ab")
        command = [
            str(self.executable),
            "start",
            "--no-browser",
            "--data-dir",
            str(self.data_dir),
            "--internal-host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--enable-legacy-api-token",
            "--log-level",
            "WARNING",
        ]
        self.process = subprocess.Popen(
            command, env=self.environment(), stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        while not is_healthy(self.url, timeout=1.0):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                tail = log_path.read_bytes()[-3000:].decode(errors="replace")
                raise LabelingError(f"Label Studio did not start on {self.url}:\n{tail}")
            time.sleep(0.5)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> LocalServer:
        return self.start() if self.process is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()
