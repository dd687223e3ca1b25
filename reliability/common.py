"""What every concern module shares: the figure type, store specs for both backends (the AWS
one against a real ``moto_server`` process), the ``wound`` CLI as a subprocess, and small
valid capture files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import boto3
import numpy as np
import tifffile

from wound.phantom import PhantomConfig
from wound.store import AwsStore, CaptureStore, LocalStore

#: The phantom's bands, so files made here also pass the predictor's wavelength check.
WAVELENGTHS = PhantomConfig().wavelengths_nm
PSEUDONYM_KEY = "reliability-suite-key"
TEST_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


@dataclass(frozen=True)
class Figure:
    """One line of the table: a measured value and whether it meets its target."""

    concern: str
    name: str
    value: float | int | str
    target: str
    met: bool

    def row(self) -> list[str]:
        value = f"{self.value:.3g}" if isinstance(self.value, float) else str(self.value)
        return [self.concern, self.name, value, self.target, "yes" if self.met else "NO"]


def at_most(concern: str, name: str, value: float, limit: float) -> Figure:
    return Figure(concern, name, value, f"<= {limit:g}", value <= limit)


def exactly(concern: str, name: str, value: int, expected: int) -> Figure:
    return Figure(concern, name, value, f"= {expected}", value == expected)


def print_table(figures: list[Figure]) -> str:
    """The table as text (also returned), one figure per line."""
    rows = [["concern", "figure", "value", "target", "met"], *(f.row() for f in figures)]
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    text = "\n".join(lines)
    print(text, flush=True)
    return text


# --- stores ------------------------------------------------------------------------------
@dataclass(frozen=True)
class StoreSpec:
    """A store both in-process (:meth:`open`) and for ``wound`` subprocesses (:meth:`env`)."""

    backend: Literal["local", "aws"]
    home: Path
    endpoint: str | None = None
    bucket: str = ""
    prefix: str = ""
    sse: Literal["none", "AES256", "aws:kms"] = "none"
    extra_env: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def local(cls, home: Path) -> StoreSpec:
        return cls("local", home)

    @classmethod
    def aws(cls, home: Path, endpoint: str, **kwargs: Any) -> StoreSpec:
        tag = uuid.uuid4().hex[:10]
        return cls("aws", home, endpoint, f"rel-{tag}", f"rel-{tag}", **kwargs)

    def env(self) -> dict[str, str]:
        """The environment a ``wound`` subprocess needs for this store (nothing inherited
        from the caller's AWS configuration)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "WOUND_"))}
        env.update(
            WOUND_HOME=str(self.home),
            WOUND_BACKEND=self.backend,
            WOUND_PSEUDONYM_KEY=PSEUDONYM_KEY,
            WOUND_INGEST_WORKERS="2",
            OMP_NUM_THREADS="1",
            COLUMNS="250",
        )
        if self.backend == "aws":
            assert self.endpoint is not None
            nowhere = str(self.home / "no-aws-config")
            env.update(TEST_AWS)
            env.update(
                AWS_ENDPOINT_URL=self.endpoint,
                AWS_CONFIG_FILE=nowhere,
                AWS_SHARED_CREDENTIALS_FILE=nowhere,
                WOUND_BUCKET=self.bucket,
                WOUND_TABLE_PREFIX=self.prefix,
                WOUND_SSE=self.sse,
            )
        env.update(self.extra_env)
        return env

    def open(self, **aws_kwargs: Any) -> CaptureStore:
        if self.backend == "local":
            return LocalStore(self.home)
        session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
        )
        return AwsStore(
            self.bucket,
            self.prefix,
            sse=self.sse,
            session=session,
            client_kwargs={"endpoint_url": self.endpoint},
            **aws_kwargs,
        )

    def init(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        with self.open() as store:
            store.init()


def wound_cli(
    args: list[str], spec: StoreSpec, *, timeout: float = 600, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``wound ARGS`` as a subprocess on ``spec``'s store; output captured as text."""
    return subprocess.run(
        [str(Path(sys.executable).with_name("wound")), *args],
        env=spec.env(),
        cwd=cwd or spec.home,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def wound_popen(args: list[str], spec: StoreSpec) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(Path(sys.executable).with_name("wound")), *args],
        env=spec.env(),
        cwd=spec.home,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def check_findings(spec: StoreSpec, *extra: str) -> dict[str, list[str]]:
    """``wound store check --json [extra]`` (the command, not the API) on ``spec``'s store."""
    done = wound_cli(["store", "check", "--json", *extra], spec)
    try:
        return dict(json.loads(done.stdout))
    except json.JSONDecodeError:
        raise RuntimeError(f"wound store check failed: {done.stdout}{done.stderr}") from None


# --- captures ----------------------------------------------------------------------------
def capture_file(
    path: Path,
    seed: int,
    *,
    size: tuple[int, int] = (16, 20),
    meta: Mapping[str, Any] | None = None,
) -> Path:
    """A small, valid device-style TIFF (8 phantom bands, wavelengths and metadata in its
    description), distinct for each ``seed``."""
    cube = np.random.default_rng(seed).uniform(0.05, 0.9, (len(WAVELENGTHS), *size))
    metadata = {
        "subject": f"P-{seed % 7}",
        "wound_id": "w1",
        "captured_at": f"2026-02-01T10:{seed // 60 % 60:02d}:{seed % 60:02d}Z",
        **(meta or {}),
    }
    tifffile.imwrite(
        path,
        cube.astype(np.float32),
        photometric="minisblack",
        metadata={"wavelengths_nm": list(WAVELENGTHS), "metadata": metadata},
    )
    return path


def capture_folder(folder: Path, n: int, *, size: tuple[int, int] = (16, 20)) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return [capture_file(folder / f"c{i:05d}.tif", i, size=size) for i in range(n)]


def count_captures(store: CaptureStore) -> tuple[int, int]:
    """(records, distinct capture ids) over the whole capture table."""
    ids = [r.capture_id for r in store.iter_captures(limit=1000)]
    return len(ids), len(set(ids))
