"""Privacy: subject identifiers planted in the input (names, MRN-like numbers, dates of birth,
in subject and wound labels, given in files and as options, in good and refused files) appear
in 0 object keys, 0 records (any attribute, any field of the JSON body), 0 lines the CLI prints
(ingest, list, show, predict, store check), 0 error messages and 0 exported files. Secrets given
in settings (pseudonymisation key, Label Studio token, AWS secret key) appear in none of that
output. Presigned URLs expire within 15 minutes by default, the services the platform starts
bind 127.0.0.1, and with ``WOUND_SSE=AES256`` every S3 object carries server-side encryption.

File *names* are the user's own paths and are echoed in refusals by design (a refusal names the
file); identifiers are planted in file contents and options, not in names.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import boto3

from reliability.common import (
    TEST_AWS,
    Figure,
    StoreSpec,
    capture_file,
    exactly,
    wound_cli,
)
from reliability.model import register_tiny_model
from wound.settings import Settings
from wound.store import AwsStore, CaptureStore
from wound.store.codec import TABLES

NAMES = ("Johnathan Smithfield", "Maria Gonzalez-Ruiz")
MRNS = ("MRN00123456", "4455667788")
DOBS = ("1961-04-12", "12/04/1961")
PLANTED = (*NAMES, *MRNS, *DOBS)
SECRETS = {
    "WOUND_PSEUDONYM_KEY": "pseudo-key-4f1c9e7d2b",
    "WOUND_LABEL_STUDIO_TOKEN": "ls-token-8a7b6c5d4e",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-3e2d1c0b9a",
}


def _inputs(folder: Path) -> tuple[list[Path], Path]:
    """Good files with identifiers in subject and wound label, and bad files with identifiers
    in fields that are refused (the refusal must not echo them)."""
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for i, (name, mrn, dob) in enumerate(zip(NAMES, MRNS, DOBS, strict=True)):
        meta = {"subject": f"{name} {mrn} {dob}", "wound_id": f"{name} left heel {dob}"}
        files.append(capture_file(folder / f"good{i}.tif", 500 + i, meta=meta))
        bad = {"subject": name, "capture_id": f"{name}/{mrn}\n{dob}", "wound_id": mrn * 20}
        files.append(capture_file(folder / f"bad{i}.tif", 600 + i, meta=bad))
        dated = {"subject": mrn, "captured_at": f"DOB {dob}"}
        files.append(capture_file(folder / f"bad-date{i}.tif", 700 + i, meta=dated))
    option_file = capture_file(folder / "optioned.tif", 800, meta={"subject": "x"})
    return files, option_file


def _leaks(text: str, needles: tuple[str, ...]) -> list[str]:
    return [n for n in needles if n in text]


def _record_text(store: CaptureStore) -> str:
    parts: list[str] = []
    records = getattr(store, "records", None)
    assert records is not None
    for table in TABLES:
        for item in records.scan(table):
            parts.append(json.dumps(item, default=str, ensure_ascii=False))
    return "\n".join(parts)


def _keys(store: CaptureStore) -> list[str]:
    objects = getattr(store, "objects", None)
    assert objects is not None
    return list(objects.list_keys())


def run(*, workdir: Path, endpoint: str | None) -> list[Figure]:
    out: list[Figure] = []
    for backend in ["local"] + (["aws"] if endpoint else []):
        concern = f"privacy ({backend})"
        home = workdir / backend
        extra = dict(SECRETS)
        if backend == "local":
            spec = StoreSpec("local", home, extra_env=extra)
        else:
            assert endpoint is not None
            spec = StoreSpec.aws(home, endpoint, sse="AES256", extra_env=extra)
        home.mkdir(parents=True, exist_ok=True)
        files, optioned = _inputs(workdir / f"inputs-{backend}")
        logs: list[str] = []

        def cli(*args: str, spec: StoreSpec = spec, logs: list[str] = logs) -> str:
            done = wound_cli(list(args), spec)
            logs.append(done.stdout + done.stderr)
            return done.stdout

        cli("store", "init")
        cli("ingest", *map(str, files))
        cli("ingest", str(optioned), "--subject", f"{NAMES[0]} {MRNS[0]}", "--wound-id", DOBS[0])
        with _open(spec) as store:
            register_tiny_model(store)
            ids = [r.capture_id for r in store.iter_captures()]
        cli("list")
        cli("show", ids[0])
        cli("predict", "--all")
        cli("store", "check")
        exported: list[bytes] = []
        for cid in ids[:1]:
            target = home / f"export-{cid}.tif"
            cli("export", cid, "--out", str(target))
            exported += [target.read_bytes(), target.with_suffix(".png").read_bytes()]
        with _open(spec) as store:
            keys = _keys(store)
            records = _record_text(store)
            sse_missing = _unencrypted(store, keys) if backend == "aws" else 0
        log_text = "\n".join(logs)
        blob = b"\n".join(exported)
        refusals = [line for line in log_text.splitlines() if line.startswith("failed")]
        out += [
            exactly(
                concern,
                "captures stored (the good files)",
                len(ids),
                len([f for f in files if f.name.startswith("good")]) + 1,
            ),
            exactly(
                concern,
                "planted identifiers in object keys",
                len(_leaks("\n".join(keys), PLANTED)),
                0,
            ),
            exactly(concern, "planted identifiers in records", len(_leaks(records, PLANTED)), 0),
            exactly(
                concern, "planted identifiers in CLI output", len(_leaks(log_text, PLANTED)), 0
            ),
            Figure(
                concern,
                "refusals printed (none echoing a value)",
                len(refusals),
                ">= 4",
                len(refusals) >= 4 and not _leaks("\n".join(refusals), PLANTED),
            ),
            exactly(
                concern,
                "planted identifiers in exported files",
                sum(n.encode() in blob for n in PLANTED),
                0,
            ),
            exactly(
                concern,
                "secrets in CLI output or records",
                len(_leaks(log_text + records, tuple(SECRETS.values()))),
                0,
            ),
        ]
        if backend == "aws":
            out.append(
                exactly(concern, "S3 objects without SSE (WOUND_SSE=AES256)", sse_missing, 0)
            )
    out += _configuration()
    return out


def _open(spec: StoreSpec) -> CaptureStore:
    store = spec.open()
    return store


def _unencrypted(store: CaptureStore, keys: list[str]) -> int:
    assert isinstance(store, AwsStore)
    s3: Any = store.objects.client  # type: ignore[attr-defined]
    missing = 0
    for key in keys:
        head = s3.head_object(Bucket=store.bucket, Key=key)
        missing += head.get("ServerSideEncryption") != "AES256"
    return missing


def _configuration() -> list[Figure]:
    """Defaults that keep data on this machine and short-lived."""
    from wound.cli.dashboard_cmds import streamlit_command

    concern = "privacy (defaults)"
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("WOUND_")}
    try:
        settings = Settings(_env_file=None)
    finally:
        os.environ.update(saved)
    dashboard = streamlit_command(8501)
    address = dashboard[dashboard.index("--server.address") + 1]
    ls_host = settings.label_studio_url.split("//", 1)[1].split(":", 1)[0]
    session = boto3.session.Session(
        aws_access_key_id=TEST_AWS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=TEST_AWS["AWS_SECRET_ACCESS_KEY"],
        region_name="us-east-1",
    )
    url = session.client("s3").generate_presigned_url(
        "get_object",
        Params={"Bucket": "b", "Key": "k"},
        ExpiresIn=settings.label_studio_presign_ttl_min * 60,
    )
    query = dict(part.split("=", 1) for part in url.split("?", 1)[1].split("&"))
    if "X-Amz-Expires" in query:
        expiry = int(query["X-Amz-Expires"])
    else:
        expiry = int(query["Expires"]) - int(time.time())
    return [
        at_most_minutes(concern, settings.label_studio_presign_ttl_min),
        Figure(concern, "presigned URL expiry as signed (s)", expiry, "<= 900", expiry <= 900),
        Figure(
            concern,
            "dashboard / Label Studio bind",
            f"{address} / {ls_host}",
            "127.0.0.1",
            address == "127.0.0.1" and ls_host == "127.0.0.1",
        ),
    ]


def at_most_minutes(concern: str, minutes: int) -> Figure:
    return Figure(concern, "presigned URL expiry, default (min)", minutes, "<= 15", minutes <= 15)
