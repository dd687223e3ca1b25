"""What every page shares: settings, the store and predictors (cached), errors as messages.

The store and loaded models are ``st.cache_resource`` (one per process, shared by sessions),
keyed by the settings that decide them, so the same app runs on the embedded store or on AWS by
settings alone. Everything is read and written through ``wound/``: no SQL, no boto3 here.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple

import streamlit as st

from wound.errors import WoundError
from wound.predict import Predictor
from wound.settings import Settings, get_settings
from wound.store import open_store
from wound.store.base import CaptureStore
from wound.store.records import ModelRecord

#: Session-state key of the capture the pages share (Captures -> Detail -> Score).
CAPTURE_KEY = "capture_id"


class StoreKey(NamedTuple):
    """The settings (and boto3 endpoint) that decide which store the app talks to."""

    backend: str
    home: str
    bucket: str
    table_prefix: str
    sse: str
    kms_key_id: str | None
    endpoint: str | None


def settings() -> Settings:
    """Settings read now (``WOUND_*`` variables and ``.env``); cheap, so read on every run."""
    return get_settings()


def store_key(config: Settings) -> StoreKey:
    return StoreKey(
        config.backend,
        str(config.home.resolve()),
        config.bucket,
        config.table_prefix,
        config.sse,
        config.kms_key_id,
        os.environ.get("AWS_ENDPOINT_URL"),
    )


@st.cache_resource(show_spinner=False)
def _open_store(key: StoreKey, _config: Settings) -> CaptureStore:
    store = open_store(_config)
    if key.backend == "local":  # the embedded store is created on first use (as the CLI does)
        store.init()
    return store


def get_store() -> CaptureStore:
    """The store the settings describe (opened once per process and settings)."""
    config = settings()
    return _open_store(store_key(config), config)


@st.cache_resource(show_spinner="Loading the model…", max_entries=4)
def _predictor(key: StoreKey, model_id: str, _store: CaptureStore) -> Predictor:
    return Predictor.from_store(_store, model_id)


def get_predictor(model_id: str) -> Predictor:
    """The predictor of a registered model (loaded once per process, store and model)."""
    return _predictor(store_key(settings()), model_id, get_store())


def scoring_models(store: CaptureStore) -> list[ModelRecord]:
    """Registered models, newest first (what the Score page offers)."""
    return sorted(store.list_models(), key=lambda r: r.created_at, reverse=True)


def model_label(record: ModelRecord) -> str:
    version = record.info.get("version")
    when = record.created_at.strftime("%Y-%m-%d %H:%M")
    return f"{record.model_id} ({record.task}, {version or when})"


@contextmanager
def guard(what: str) -> Iterator[None]:
    """Turn a platform error (or an I/O error) into a clear message on the page and stop the
    page there: never a stack trace."""
    try:
        yield
    except WoundError as exc:
        st.error(f"{what}: {exc}")
        st.stop()
    except (OSError, ValueError) as exc:
        st.error(f"{what}: {type(exc).__name__}: {exc}")
        st.stop()


def store_or_stop() -> CaptureStore:
    """The store, or a clear "store unreachable" message and the page stops."""
    with guard("The capture store cannot be reached"):
        store = get_store()
        store.list_captures(limit=1)  # a cheap round trip: reachable and readable
    return store


#: The app's pages by url path, set by ``dashboard/app.py`` on every run (empty when a page
#: runs on its own, as in the AppTests).
PAGES: dict[str, st.Page] = {}


def open_capture(capture_id: str, page: str) -> None:
    """Make ``capture_id`` the shared capture and go to ``page`` (when the app has pages)."""
    st.session_state[CAPTURE_KEY] = capture_id
    if page in PAGES:
        st.switch_page(PAGES[page])


def pick_capture(store: CaptureStore, *, key: str, label: str = "Capture") -> str | None:
    """A stored capture: the shared one (from Captures) or one of the newest; any id typed."""
    with guard("Could not list the stored captures"):
        page = store.list_captures(limit=CHOICES)
    records = list(reversed(page.items))  # newest first
    labels = {
        r.capture_id: f"{r.capture_id} · {r.wound_type} · {r.captured_at:%Y-%m-%d %H:%M}"
        for r in records
    }
    ids = list(labels)
    wanted = st.session_state.get(CAPTURE_KEY)
    if wanted and wanted not in labels:
        ids.insert(0, wanted)
        labels[wanted] = wanted
    if not ids:
        return None
    chosen = st.selectbox(
        label,
        ids,
        index=ids.index(wanted) if wanted in ids else 0,
        format_func=labels.__getitem__,
        key=key,
        help=f"The {CHOICES} oldest captures and the one opened from the Captures page.",
    )
    st.session_state[CAPTURE_KEY] = chosen
    return str(chosen)


#: How many captures the pickers offer (the Captures page pages through all of them).
CHOICES = 200
