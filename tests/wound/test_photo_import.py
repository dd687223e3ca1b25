"""Importing photographs with same-named masks: encodings, bad masks reported by name and
skipped, truth + annotation v1, one subject per photo, a CSV manifest, the CLI layouts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from wound.capture import CaptureMetadata
from wound.ingest import find_capture_files, ingest_files
from wound.io import ReadLimits
from wound.manifest import read_manifest
from wound.pseudonym import pseudonymise
from wound.store import CaptureStore, LocalStore

KEY = b"test-key"
SIZE = 24


def _truth(seed: int) -> np.ndarray:
    mask = np.zeros((SIZE, SIZE), np.uint8)
    mask[4 + seed : 12 + seed, 6:18] = 1
    return mask


def _photo(folder: Path, name: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    rgb = rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(folder / name, quality=95)


def _l255(m: np.ndarray) -> Image.Image:
    return Image.fromarray(m * 255)


def _l01(m: np.ndarray) -> Image.Image:
    return Image.fromarray(m)


def _rgb(m: np.ndarray) -> Image.Image:
    return Image.fromarray(np.repeat(m[:, :, None] * 255, 3, axis=2))


def _rgb_red(m: np.ndarray) -> Image.Image:
    rgb = np.zeros((*m.shape, 3), np.uint8)
    rgb[..., 0] = m * 255
    return Image.fromarray(rgb)


def _palette(m: np.ndarray) -> Image.Image:
    im = Image.fromarray(m, mode="L").convert("P")
    im.putpalette([0, 0, 0, 200, 30, 30] + [0] * (254 * 3))
    return im


ENCODINGS: dict[str, Callable[[np.ndarray], Image.Image]] = {
    "grey-0-255": _l255,
    "grey-0-1": _l01,
    "rgb-white": _rgb,
    "rgb-red": _rgb_red,
    "palette": _palette,
}


@pytest.mark.parametrize("encoding", list(ENCODINGS))
def test_each_mask_encoding_is_read_as_the_same_binary_mask(
    tmp_path: Path, store: CaptureStore, encoding: str
) -> None:
    _photo(tmp_path / "images", "a.jpg", 0)
    (tmp_path / "labels").mkdir()
    ENCODINGS[encoding](_truth(0)).save(tmp_path / "labels" / "a.png")
    (result,) = ingest_files(
        [tmp_path / "images" / "a.jpg"],
        store,
        pseudonym_key=KEY,
        limits=ReadLimits(),
        masks_dir=tmp_path / "labels",
        subject_per_file=True,
    )
    assert result.status == "created", result.message
    truth = store.get_capture(result.capture_id).truth
    assert truth is not None and truth.wound_mask is not None
    np.testing.assert_array_equal(truth.wound_mask, _truth(0))


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """images/ + labels/: two good pairs and one of each bad case."""
    images, labels = tmp_path / "set" / "images", tmp_path / "set" / "labels"
    for i, name in enumerate(["good1", "good2", "small", "nomask", "grey", "labelmap"]):
        _photo(images, f"{name}.jpg", i)
    labels.mkdir(parents=True)
    _l255(_truth(0)).save(labels / "good1.png")
    _rgb(_truth(1)).save(labels / "good2.png")
    _l255(np.zeros((SIZE // 2, SIZE), np.uint8)).save(labels / "small.png")
    ramp = (np.arange(SIZE * SIZE).reshape(SIZE, SIZE) % 256).astype(np.uint8)
    Image.fromarray(ramp).save(labels / "grey.png")  # anti-aliased / JPEG-like: many greys
    Image.fromarray(_truth(0) + 1).save(labels / "labelmap.png")  # values 1 and 2, no zero
    return tmp_path / "set"


def test_bad_masks_are_reported_by_name_and_skipped_and_the_rest_imports(
    mixed: Path, store: CaptureStore
) -> None:
    files = find_capture_files([mixed / "images"], masks_dir=mixed / "labels")
    results = ingest_files(
        files,
        store,
        pseudonym_key=KEY,
        limits=ReadLimits(),
        masks_dir=mixed / "labels",
        subject_per_file=True,
        workers=2,
    )
    status = {r.path.name: r for r in results if r.path is not None}
    assert status["good1.jpg"].status == status["good2.jpg"].status == "created"
    small = status["small.jpg"].message
    assert "small.png" in small and "mask is 12x24 but the image is 24x24" in small
    nomask = status["nomask.jpg"].message
    assert "nomask.jpg" in nomask and "no mask nomask.png" in nomask
    assert "grey.png" in status["grey.jpg"].message
    assert "not a binary mask: 256 distinct values" in status["grey.jpg"].message
    assert "labelmap.png" in status["labelmap.jpg"].message
    assert "not a binary mask" in status["labelmap.jpg"].message
    assert all(status[n].status == "failed" for n in ("small.jpg", "nomask.jpg", "grey.jpg"))
    assert len(list(store.iter_captures())) == 2  # nothing partial for the bad ones


def test_masks_become_truth_and_annotation_v1_once_one_subject_per_photo(
    mixed: Path, store: CaptureStore
) -> None:
    files = [mixed / "images" / "good1.jpg", mixed / "images" / "good2.jpg"]
    kwargs = {"masks_dir": mixed / "labels", "subject_per_file": True}
    first = ingest_files(files, store, pseudonym_key=KEY, limits=ReadLimits(), **kwargs)  # type: ignore[arg-type]
    again = ingest_files(files, store, pseudonym_key=KEY, limits=ReadLimits(), **kwargs)  # type: ignore[arg-type]
    assert [r.status for r in again] == ["exists", "exists"]
    subjects = set()
    for result in first:
        anns = store.list_annotations(result.capture_id, task="wound-mask")
        assert [(a.version, a.source, a.annotator) for a in anns] == [(1, "import", "import")]
        _record, mask = store.get_annotation(result.capture_id, task="wound-mask")
        truth = store.get_capture(result.capture_id).truth
        assert truth is not None and truth.wound_mask is not None
        np.testing.assert_array_equal(mask, truth.wound_mask)
        subjects.add(store.get_record(result.capture_id).subject)
    assert len(subjects) == 2  # one pseudonymous subject per photo
    assert pseudonymise("image:good1", KEY) in subjects


def test_manifest_gives_subject_wound_and_site(mixed: Path, store: CaptureStore) -> None:
    csv = mixed / "manifest.csv"
    csv.write_text(
        "image,subject,wound,site,wound_type\n"
        "good1.jpg,P-1,left-heel,heel,dfu\n"
        "good2.jpg,P-1,left-toe,hallux,\n"
    )
    rows = read_manifest(csv)
    results = ingest_files(
        [mixed / "images" / "good1.jpg", mixed / "images" / "good2.jpg"],
        store,
        pseudonym_key=KEY,
        limits=ReadLimits(),
        masks_dir=mixed / "labels",
        per_file=rows,
        subject_per_file=True,
        metadata={"wound_type": "other"},
    )
    meta = [store.get_capture(r.capture_id).metadata for r in results]
    assert {m.subject for m in meta} == {pseudonymise("P-1", KEY)}
    assert len({m.wound_id for m in meta}) == 2
    assert [m.anatomical_site for m in meta] == ["heel", "hallux"]
    assert [m.wound_type for m in meta] == ["dfu", "other"]  # an empty cell keeps the option
    assert all(isinstance(m, CaptureMetadata) for m in meta)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("image,patient\n", "unknown manifest column(s) patient"),
        ("subject\nP-1\n", "needs an 'image' column"),
        ("image,subject\na.jpg,P\na.jpg,Q\n", "line 3: a.jpg is listed twice"),
    ],
)
def test_bad_manifest_is_refused_by_name(tmp_path: Path, text: str, problem: str) -> None:
    from wound.errors import MetadataError

    csv = tmp_path / "m.csv"
    csv.write_text(text)
    with pytest.raises(MetadataError, match=r"m\.csv") as info:
        read_manifest(csv)
    assert problem in str(info.value)


def test_cli_detects_images_and_labels_and_says_one_subject_per_image(
    mixed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wound.cli.main import app

    home = tmp_path / "home"
    monkeypatch.setenv("WOUND_HOME", str(home))
    result = CliRunner().invoke(app, ["ingest", str(mixed), "--wound-type", "dfu"])
    out = " ".join(result.output.split())
    assert result.exit_code == 1, out  # the bad pairs failed, by name
    assert "images/ + labels/ layout" in out
    assert "each is its own pseudonymous subject" in out
    assert "2 stored, 0 already stored, 4 failed" in out
    assert "no mask nomask.png" in out
    with LocalStore(home) as store:
        records = list(store.iter_captures())
    assert len(records) == 2
    assert {r.wound_type for r in records} == {"dfu"}
