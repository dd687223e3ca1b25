"""PNG renderings of a capture for Label Studio (it cannot show TIFF), and where they live.

Per capture: ``image.png`` (the false-colour composite, bands nearest 640/550/460 nm, or an RGB
photograph as itself) and ``band-NN.png`` (each band alone, titled with its wavelength), at the
capture's full resolution, so a brush mask painted on them is pixel-aligned with the capture;
``thumb.png`` (shown beside the capture's later captures) is made from the stored preview.

Where: the embedded backend writes them under ``<home>/label-studio/renderings`` and Label Studio
serves them through its local-files storage; the AWS backend puts them in a separate bucket
(``<bucket>-labeling``, same encryption), referenced as ``s3://`` URIs that Label Studio's S3
storage turns into presigned URLs (expiry ``label_studio_presign_ttl_min``) on each view.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import numpy as np

from labeling.config import LabelingError
from wound.capture import Capture
from wound.io.photo import PHOTO_WAVELENGTHS
from wound.io.preview import encode_png, false_colour_bands, render_band_png, render_preview
from wound.store.aws import AwsStore, S3Objects
from wound.store.base import CaptureStore
from wound.store.local import LocalStore


@dataclass(frozen=True)
class Rendering:
    name: str  # file name, e.g. "band-03.png"
    title: str  # shown to the clinician
    png: bytes


def is_photo(capture: Capture) -> bool:
    """An RGB photograph (PNG/JPEG ingest): three bands at the camera channel wavelengths."""
    return capture.wavelengths == PHOTO_WAVELENGTHS


def _photo_png(capture: Capture) -> bytes:
    """The photograph's own 8-bit values (cube = [blue, green, red] / 255), no stretch."""
    rgb = np.clip(np.rint(capture.cube[::-1] * 255.0), 0, 255).astype(np.uint8)
    return encode_png(np.ascontiguousarray(rgb.transpose(1, 2, 0)))


def render_capture(capture: Capture) -> tuple[Rendering, list[Rendering]]:
    """The main rendering and one rendering per band."""
    wl = capture.wavelengths
    if is_photo(capture):
        main = Rendering("image.png", "RGB photograph", _photo_png(capture))
    else:
        r, g, b = false_colour_bands(wl)
        title = f"False colour: R {wl[r]:g} nm, G {wl[g]:g} nm, B {wl[b]:g} nm"
        main = Rendering("image.png", title, render_preview(capture, max_size=None))
    bands = [
        Rendering(
            f"band-{i:02d}.png",
            f"Band {i + 1} of {len(wl)}: {w:g} nm",
            render_band_png(capture, i, max_size=None),
        )
        for i, w in enumerate(wl)
    ]
    return main, bands


class RenderingStore(ABC):
    """Where renderings are written, and how Label Studio reaches them."""

    @abstractmethod
    def put(self, capture_id: str, name: str, png: bytes) -> str:
        """Write one rendering; returns the URI a task's data refers to it by."""

    @abstractmethod
    def connect(self, client: Any, project_id: int) -> None:
        """Make sure the project has the storage connection that serves these URIs."""


class LocalRenderings(RenderingStore):
    """A folder under Label Studio's ``LOCAL_FILES_DOCUMENT_ROOT`` (embedded backend)."""

    def __init__(self, root: Path, document_root: Path) -> None:
        self.root = root.resolve()
        self.document_root = document_root.resolve()
        if self.document_root not in self.root.parents:
            raise LabelingError(
                f"renderings folder {self.root} is not under Label Studio's document root "
                f"{self.document_root} (LOCAL_FILES_DOCUMENT_ROOT)"
            )

    def put(self, capture_id: str, name: str, png: bytes) -> str:
        path = self.root / capture_id / name
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(png)
        tmp.replace(path)
        return f"/data/local-files/?d={path.relative_to(self.document_root).as_posix()}"

    def connect(self, client: Any, project_id: int) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        existing = client.import_storage.local.list(project=project_id)
        if any(Path(s.path or "").resolve() == self.root for s in existing):
            return
        client.import_storage.local.create(
            project=project_id,
            path=str(self.root),
            title="wound renderings",
            use_blob_urls=True,
            synchronizable=False,
        )


class S3Renderings(RenderingStore):
    """A bucket beside the store's (AWS backend); Label Studio presigns on every view."""

    def __init__(self, store: AwsStore, *, ttl_min: int) -> None:
        objects = store.objects
        assert isinstance(objects, S3Objects)
        self.client = objects.client
        self.bucket = f"{store.bucket}-labeling"
        self.objects = S3Objects(
            self.client, self.bucket, sse=objects.sse, kms_key_id=objects.kms_key_id
        )
        self.objects.init()
        self.ttl_min = ttl_min

    def put(self, capture_id: str, name: str, png: bytes) -> str:
        key = f"renderings/{capture_id}/{name}"
        self.objects.put(key, png)
        return f"s3://{self.bucket}/{key}"

    def connect(self, client: Any, project_id: int) -> None:
        existing = client.import_storage.s3.list(project=project_id)
        if any(s.bucket == self.bucket for s in existing):
            return
        creds = boto3.session.Session().get_credentials()
        frozen = creds.get_frozen_credentials() if creds is not None else None
        client.import_storage.s3.create(
            project=project_id,
            bucket=self.bucket,  # no prefix: validated by HeadBucket (may still be empty)
            presign=True,
            presign_ttl=self.ttl_min,
            region_name=self.client.meta.region_name,
            s3endpoint=self.client.meta.endpoint_url,
            aws_access_key_id=frozen.access_key if frozen else None,
            aws_secret_access_key=frozen.secret_key if frozen else None,
            aws_session_token=frozen.token if frozen else None,
            title="wound renderings",
            use_blob_urls=True,
            synchronizable=False,
        )


def rendering_store(
    store: CaptureStore, *, document_root: Path | None = None, ttl_min: int = 15
) -> RenderingStore:
    """The rendering store matching ``store``'s backend (local: under the store's home, which
    is Label Studio's document root unless ``document_root`` says otherwise)."""
    if isinstance(store, AwsStore):
        return S3Renderings(store, ttl_min=ttl_min)
    if isinstance(store, LocalStore):
        root = store.home / "label-studio" / "renderings"
        return LocalRenderings(root, document_root or store.home)
    raise LabelingError(f"no rendering store for {type(store).__name__}")
