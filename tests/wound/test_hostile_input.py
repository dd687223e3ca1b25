"""Hostile input (issue 13): each class of file that once crashed, was wrongly accepted or put an
identifier into a key, ingested the way a user would. Every refusal is one outcome naming the
file; nothing is left behind (``store.check()`` clean); the batch goes on."""

from __future__ import annotations

import io
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile
from PIL import Image

import wound.ingest
from wound.ingest import Outcome, find_capture_files, ingest_files
from wound.io import ReadLimits, render_preview
from wound.store import CaptureStore
from wound.store.codec import CAPTURES
from wound.store.core import CaptureCore

KEY = b"hostile-key"
WL = [460.0, 520.0, 550.0, 600.0, 640.0, 700.0, 780.0, 850.0]
CLEAN: dict[str, list[str]] = {"orphans": [], "missing": [], "mismatched": [], "repaired": []}


def cube(seed: int = 0, shape: tuple[int, int, int] = (8, 16, 20)) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.05, 0.9, shape).astype(np.float32)


def device_tif(
    path: Path, data: np.ndarray | None = None, *, meta: dict[str, Any] | None = None, **extra: Any
) -> Path:
    """A device-style TIFF: the reader takes wavelengths/metadata from the description."""
    metadata = {
        "wavelengths_nm": WL[: (data if data is not None else cube()).shape[0]],
        "metadata": {"subject": "P-1", "captured_at": "2026-02-01T10:00:00Z", **(meta or {})},
        **extra,
    }
    array = cube() if data is None else data
    tifffile.imwrite(path, array, photometric="minisblack", metadata=metadata)
    return path


def ingest(store: CaptureStore, *paths: Path, **kwargs: Any) -> list[Outcome]:
    kwargs.setdefault("limits", ReadLimits())
    kwargs.setdefault("workers", 2)
    return ingest_files(list(paths), store, pseudonym_key=KEY, **kwargs)


def refused(store: CaptureStore, path: Path, *words: str, **kwargs: Any) -> str:
    """Ingest ``path``: failed, named, saying ``words``; nothing stored, nothing left behind."""
    (outcome,) = ingest(store, path, **kwargs)
    assert outcome.status == "failed", outcome
    assert path.name in outcome.message, outcome.message
    for word in words:
        assert word in outcome.message, outcome.message
    assert list(store.iter_captures()) == []
    assert store.check() == CLEAN
    return outcome.message


# --- crashes ------------------------------------------------------------------------------
def test_float32_max_reflectance_is_refused_and_its_preview_does_not_crash(
    store: CaptureStore, tmp_path: Path, make_capture_unvalidated: Any
) -> None:
    refused(store, device_tif(tmp_path / "max.tif", np.full((8, 64, 80), 3e38, "f4")), "blank")
    extreme = np.random.default_rng(0).uniform(-3e38, 3e38, (8, 64, 80)).astype(np.float32)
    png = render_preview(make_capture_unvalidated(extreme))
    assert Image.open(io.BytesIO(png)).size == (80, 64)


def test_one_pixel_rgb_png_is_stored(store: CaptureStore, tmp_path: Path) -> None:
    path = tmp_path / "dot.png"
    Image.fromarray(np.array([[[200, 30, 10]]], np.uint8)).save(path)
    (outcome,) = ingest(store, path, metadata={"subject": "P-1"})
    assert outcome.status == "created", outcome.message
    assert store.get_capture(outcome.capture_id).cube.shape == (3, 1, 1)


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_out_of_range_capture_times_in_metadata_ome_and_canonical_header(
    store: CaptureStore, tmp_path: Path, when: str
) -> None:
    refused(store, device_tif(tmp_path / "meta.tif", meta={"captured_at": when}), "years")
    ome = tmp_path / "acq.ome.tif"
    tifffile.imwrite(
        ome,
        cube(),
        photometric="minisblack",
        metadata={"axes": "CYX", "Channel": {"Name": [f"{w:g}nm" for w in WL]}},
    )
    with tifffile.TiffFile(ome) as tif:
        xml = tif.ome_metadata
    assert xml is not None
    date = when.replace("+01:00", "").replace("-01:00", "")
    xml = xml.replace("<Pixels", f"<AcquisitionDate>{date}</AcquisitionDate><Pixels", 1)
    tifffile.imwrite(ome, cube(), photometric="minisblack", description=xml, metadata=None)
    refused(store, ome, "years", metadata={"subject": "P-1"})  # naive OME dates are UTC
    header_file = tmp_path / "canonical.tif"
    header = {
        "wavelengths_nm": WL,
        "spacing_mm": None,
        "metadata": {"subject": "sub-aaaaaaaaaaaaaaaaaaaa", "captured_at": when},
        "reference": {},
    }
    tifffile.imwrite(
        header_file,
        cube(),
        photometric="minisblack",
        metadata={"wound_capture": 1, "header": header, "truth": []},
    )
    refused(store, header_file, "years")


@pytest.mark.parametrize("field", ["subject", "wound_id"])
def test_lone_surrogates_in_ids_are_refused_and_leave_nothing(
    store: CaptureStore, tmp_path: Path, field: str
) -> None:
    # in the file's own metadata (JSON keeps the lone surrogate) and given as an argument
    message = refused(store, device_tif(tmp_path / "file.tif", meta={field: "w\ud800"}), field)
    assert "\ud800" not in message
    refused(store, device_tif(tmp_path / "arg.tif"), field, metadata={field: "w\ud800"})


# --- wrong acceptance and silent loss -----------------------------------------------------
def test_a_symlink_named_tif_to_a_folder_is_never_walked(
    store: CaptureStore, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    device_tif(elsewhere / "unrelated.tif")
    link = tmp_path / "scan.tif"
    link.symlink_to(elsewhere, target_is_directory=True)
    inside = tmp_path / "batch"
    inside.mkdir()
    (inside / "also.tif").symlink_to(elsewhere, target_is_directory=True)
    (inside / "sub").symlink_to(elsewhere, target_is_directory=True)
    files = find_capture_files([link, inside])
    assert files == [link, inside / "also.tif"]
    outcomes = ingest(store, *files)
    assert [o.status for o in outcomes] == ["failed", "failed"]
    assert all("folder" in o.message for o in outcomes)
    assert list(store.iter_captures()) == []


def test_same_device_capture_id_with_other_content_is_an_error_not_a_skip(
    store: CaptureStore, tmp_path: Path
) -> None:
    first = device_tif(tmp_path / "a.tif", cube(1), meta={"capture_id": "DEV-0042"})
    second = device_tif(
        tmp_path / "b.tif", cube(2), meta={"capture_id": "DEV-0042", "subject": "P-2"}
    )
    outcomes = ingest(store, first, second, first, workers=1)  # in this order
    assert outcomes[0].status == "created"
    assert outcomes[1].status == "failed" and "different content" in outcomes[1].message
    assert "b.tif" in outcomes[1].message and "DEV-0042" not in outcomes[1].message
    assert outcomes[2].status == "exists"
    assert len(list(store.iter_captures())) == 1
    assert store.check() == CLEAN


def test_byte_identical_copy_without_capture_time_is_one_capture(
    store: CaptureStore, tmp_path: Path
) -> None:
    original = tmp_path / "photo.png"
    Image.fromarray((cube(3)[:3].transpose(1, 2, 0) * 255).astype(np.uint8)).save(original)
    copy = tmp_path / "copy.png"
    copy.write_bytes(original.read_bytes())
    os.utime(copy, (time.time() - 86_400 * 30, time.time() - 86_400 * 30))
    outcomes = ingest(store, original, copy, metadata={"subject": "P-1"}, workers=1)
    assert [o.status for o in outcomes] == ["created", "exists"]
    assert outcomes[0].capture_id == outcomes[1].capture_id
    record = store.get_record(outcomes[0].capture_id)
    assert record.header["metadata"]["captured_at_source"] == "file_mtime"


@pytest.mark.parametrize("capture_id", ["DEV-1\n", "DEV-1\r", "DEV\x00-1", "DEV-1\t", " DEV-1"])
def test_capture_ids_with_control_characters_are_refused(
    store: CaptureStore, tmp_path: Path, capture_id: str
) -> None:
    path = device_tif(tmp_path / "id.tif", meta={"capture_id": capture_id})
    message = refused(store, path, "capture_id", "printable")
    assert capture_id not in message


@pytest.mark.parametrize(
    ("data", "extra", "words"),
    [
        (np.zeros((8, 16, 20), np.float32), {}, ("blank",)),
        (np.full((8, 16, 20), 0.4, np.float32), {}, ("blank",)),
        (-cube(), {}, ("negative",)),
        ((cube() * 4000).astype(np.uint16), {"reflectance_scale": 1}, ("raw counts",)),
        ((cube() * 4000).astype(np.uint16), {"reflectance_scale": -4095}, ("reflectance_scale",)),
        ((cube() * 4000).astype(np.uint16), {"reflectance_scale": 1e-30}, ("reflectance_scale",)),
        ((cube() * 4000).astype(np.uint16), {"reflectance_scale": True}, ("must be a number",)),
        ((cube() * 4000).astype(np.uint16), {"reflectance_scale": "abc"}, ("must be a number",)),
    ],
    ids=["zero", "constant", "negative", "counts", "scale<0", "scale-tiny", "scale-bool", "str"],
)
def test_non_reflectance_data_are_refused(
    store: CaptureStore, tmp_path: Path, data: np.ndarray, extra: dict[str, Any], words: tuple
) -> None:
    refused(store, device_tif(tmp_path / "odd.tif", data, **extra), *words)


def test_a_numeric_string_scale_is_used_not_ignored(store: CaptureStore, tmp_path: Path) -> None:
    counts = (cube() * 4000).astype(np.uint16)
    path = device_tif(tmp_path / "s.tif", counts, reflectance_scale="4000")
    (outcome,) = ingest(store, path)
    assert outcome.status == "created", outcome.message
    stored = store.get_capture(outcome.capture_id).cube
    np.testing.assert_allclose(stored, counts / 4000.0, rtol=1e-6)


def test_infinite_days_since_injury_is_refused(store: CaptureStore, tmp_path: Path) -> None:
    path = device_tif(tmp_path / "inf.tif", meta={"days_since_injury": float("inf")})
    refused(store, path, "days_since_injury")


def test_decompression_bomb_is_refused_from_its_tags_before_decoding(
    store: CaptureStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """64 bands of 8000 x 8000 (16 GB as float32) in a few kB: refused before any decoding."""
    path = tmp_path / "bomb.tif"
    tifffile.imwrite(
        path, np.zeros((64, 8, 8), np.uint8), photometric="minisblack", compression="zlib"
    )
    with tifffile.TiffFile(path, mode="r+") as tif:
        for page in tif.pages:
            assert isinstance(page, tifffile.TiffPage)
            for tag in ("ImageWidth", "ImageLength", "RowsPerStrip"):
                page.tags[tag].overwrite(8000)

    def no_decoding(*_: object) -> None:
        raise AssertionError("pixels decoded before the size check")

    monkeypatch.setattr("wound.io.tiff_reader.decode_series", no_decoding)
    wavelengths = [400.0 + 5 * i for i in range(64)]
    refused(
        store,
        path,
        "bytes",
        "before decoding",
        wavelengths=wavelengths,
        metadata={"subject": "P-1"},
    )


# --- identifiers --------------------------------------------------------------------------
def test_no_identifier_or_free_text_in_keys_and_none_echoed_in_errors(
    store: CaptureStore, tmp_path: Path
) -> None:
    assert isinstance(store, CaptureCore)
    path = device_tif(
        tmp_path / "id.tif",
        meta={
            "capture_id": "John_Smith_MRN_123456",
            "wound_id": "Smith left heel",
            "anatomical_site": "heel of Mr Smith",
            "device_id": "ward-7 camera",
        },
    )
    (outcome,) = ingest(store, path)
    assert outcome.status == "created", outcome.message
    item = store.records.get(CAPTURES, {"capture_id": outcome.capture_id})
    assert item is not None
    keys = " ".join([*store.objects.list_keys(), *(str(v) for k, v in item.items() if k != "body")])
    assert "Smith" not in keys and "123456" not in keys and "heel" not in keys
    record = store.get_record(outcome.capture_id)
    assert record.header["metadata"]["capture_id"] == "John_Smith_MRN_123456"  # record only
    assert record.wound_id.startswith("wnd-")  # keyed pseudonym, like the subject
    # a bad device_id, an unknown field and an unknown canonical version are not echoed
    message = refused_elsewhere(store, tmp_path, meta={"device_id": "/etc/passwd\x00\x07"})
    assert "passwd" not in message and "device_id" in message
    message = refused_elsewhere(store, tmp_path, meta={"Jane Doe MRN 99": "x"})
    assert "Jane" not in message and "not a known field" in message
    version = tmp_path / "version.tif"
    tifffile.imwrite(
        version, cube(), photometric="minisblack", metadata={"wound_capture": "Jane Doe"}
    )
    (bad,) = ingest(store, version)
    assert bad.status == "failed" and "Jane" not in bad.message and "unknown version" in bad.message


def refused_elsewhere(store: CaptureStore, tmp_path: Path, *, meta: dict[str, Any]) -> str:
    folder = tmp_path / f"case{len(list(tmp_path.iterdir()))}"
    folder.mkdir()
    (outcome,) = ingest(store, device_tif(folder / "x.tif", meta=meta))
    assert outcome.status == "failed", outcome
    return outcome.message


# --- a batch goes on ----------------------------------------------------------------------
def test_a_batch_goes_on_past_any_failure_even_an_unexpected_one(
    store: CaptureStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = [device_tif(tmp_path / f"f{i}.tif", cube(10 + i)) for i in range(4)]
    real = wound.ingest.read_capture

    def flaky(path: Path, **kwargs: Any) -> Any:
        if path.name == "f1.tif":
            raise ZeroDivisionError("float division by zero")
        return real(path, **kwargs)

    monkeypatch.setattr(wound.ingest, "read_capture", flaky)
    outcomes = ingest(store, *files)
    assert [o.status for o in outcomes] == ["created", "failed", "created", "created"]
    assert outcomes[1].message.startswith(str(files[1]))
    assert "ZeroDivisionError" in outcomes[1].message
    assert store.check() == CLEAN


def test_any_mix_of_bad_input_leaves_the_store_clean(store: CaptureStore, tmp_path: Path) -> None:
    bad = [
        device_tif(tmp_path / "zero.tif", np.zeros((8, 4, 4), np.float32)),
        device_tif(tmp_path / "sur.tif", meta={"wound_id": "w\udfff"}),
        device_tif(tmp_path / "date.tif", meta={"captured_at": "0001-01-01T00:00:00+01:00"}),
        device_tif(tmp_path / "nl.tif", meta={"capture_id": "x\n"}),
    ]
    (tmp_path / "junk.tif").write_bytes(b"II*\x00" + os.urandom(64))
    good = device_tif(tmp_path / "good.tif", cube(5))
    outcomes = ingest(store, *bad, tmp_path / "junk.tif", good)
    assert [o.status for o in outcomes] == ["failed"] * 5 + ["created"]
    assert store.check() == CLEAN
    assert json.dumps([o.message for o in outcomes])  # every message is plain text


@pytest.fixture
def make_capture_unvalidated() -> Any:
    from datetime import UTC, datetime

    from wound.capture import Capture, CaptureMetadata

    def make(data: np.ndarray) -> Capture:
        meta = CaptureMetadata(subject="sub-x", captured_at=datetime(2026, 1, 1, tzinfo=UTC))
        return Capture(cube=data, wavelengths=tuple(WL[: data.shape[0]]), metadata=meta)

    return make
