"""A real Label Studio server for the session (its own venv, temp data dir, free loopback port)
and small phantom stores on both backends."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import replace
from itertools import islice
from pathlib import Path

import pytest
import torch
from label_studio_sdk import LabelStudio

from labeling.client import connect
from labeling.server import LocalServer, ensure_venv, free_port
from wound.networks import ModelInfo, NetworkSpec, build_network
from wound.phantom import PhantomConfig, synth_cohort
from wound.predict import Predictor
from wound.pseudonym import pseudonymise
from wound.store.base import CaptureStore
from wound.tasks import get_task

REPO = Path(__file__).resolve().parents[2]
SIZE = 48


@pytest.fixture(scope="session")
def label_studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """Label Studio 1.23.2 on 127.0.0.1; its document root is the session's temp folder, so the
    local stores the tests make (under ``tmp_path``) can serve renderings."""
    server = local_server(
        tmp_path_factory.mktemp("label-studio"),
        tmp_path_factory.getbasetemp(),
        username="clinician@wound.local",
    )
    with server:
        yield server


def local_server(data_dir: Path, document_root: Path, *, username: str) -> LocalServer:
    """A Label Studio (not yet started) of the checkout's ``.venv-ls`` on a free loopback port,
    with a fresh random password and API token (tests and benchmarks)."""
    return LocalServer(
        executable=ensure_venv(REPO / ".venv-ls"),
        data_dir=data_dir,
        document_root=document_root,
        username=username,
        password=secrets.token_hex(8),
        token=secrets.token_hex(20),
        port=free_port(),
    )


@pytest.fixture
def ls_client(label_studio: LocalServer) -> Iterator[LabelStudio]:
    """A client of the session's server, with no projects left by earlier tests."""
    with connect(label_studio.url, label_studio.token) as client:
        for project in list(client.projects.list()):
            client.projects.delete(project.id)
        yield client


def fill_phantom(
    store: CaptureStore,
    *,
    subjects: int = 2,
    captures: int = 2,
    seed: int = 3,
    size: int = SIZE,
    key: bytes = b"labeling-test-key",
    limit: int | None = None,
) -> list[str]:
    """Store a phantom cohort (``size`` px square; its first ``limit`` captures), subjects
    pseudonymised with ``key``; returns the capture ids, oldest first."""
    config = PhantomConfig(height=size, width=size)
    ids = []
    cohort = synth_cohort(
        subjects=subjects, captures_per_subject=captures, seed=seed, config=config
    )
    for capture in islice(cohort, limit):
        subject = pseudonymise(capture.metadata.subject, key)
        meta = capture.metadata.model_copy(update={"subject": subject})
        ids.append(store.put_capture(replace(capture, metadata=meta)).capture_id)
    return ids


def tiny_predictor(bands: int) -> Predictor:
    """An untrained, seeded burn-depth network: enough to produce pre-annotations."""
    torch.manual_seed(0)
    spec = NetworkSpec(
        in_channels=bands,
        out_channels=get_task("burn-depth").out_channels,
        channels=(4, 8),
        strides=(2,),
        num_res_units=0,
    )
    info = ModelInfo(
        task="burn-depth",
        network=spec,
        wavelengths_nm=(420.0, 525.0, 581.0, 620.0, 660.0, 726.0, 820.0, 855.0),
        band_mean=(0.4,) * bands,
        band_std=(0.2,) * bands,
    )
    return Predictor(build_network(spec), info, model_id="tiny", model_version="0", device="cpu")
