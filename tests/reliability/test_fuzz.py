"""Bad input, bounded for CI (300 generated inputs; ``make reliability`` runs 2,000): every
input is stored or refused by a CaptureError naming the file, nothing else, nothing left."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reliability import fuzz
from reliability.common import StoreSpec, print_table
from wound.errors import CaptureError
from wound.ingest import IngestOptions, read_file

pytestmark = pytest.mark.reliability


def test_fuzzed_inputs_end_as_captures_or_refusals_naming_the_file(tmp_path: Path) -> None:
    spec = StoreSpec.local(tmp_path / "store")
    figures, unexpected = fuzz.run(
        n=300, workdir=tmp_path, store_spec=spec, predict_every=4, cli_sample=40
    )
    table = print_table(figures)
    assert not unexpected, [(r.case.recipe, r.status, r.detail) for r in unexpected]
    assert all(f.met for f in figures), table


def test_generation_is_reproducible(tmp_path: Path) -> None:
    first = fuzz.generate(20, tmp_path / "a")
    second = fuzz.generate(20, tmp_path / "b")
    assert [c.recipe for c in first] == [c.recipe for c in second]
    assert [c.path.read_bytes() for c in first] == [c.path.read_bytes() for c in second]


@pytest.mark.parametrize("mask", ["size", "corrupt"])
def test_a_bad_mask_is_refused_naming_the_photo_too(tmp_path: Path, mask: str) -> None:
    """Found by the fuzzer: the refusal named only the mask file, not the capture."""
    photo, masks = tmp_path / "ulcer.png", tmp_path / "masks"
    masks.mkdir()
    Image.fromarray(np.full((12, 16, 3), 120, np.uint8)).save(photo)
    if mask == "size":
        Image.fromarray(np.zeros((5, 16), np.uint8)).save(masks / "ulcer.png")
    else:
        (masks / "ulcer.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    options = IngestOptions(b"k", metadata={"subject": "P-1"}, masks_dir=masks)
    with pytest.raises(CaptureError) as caught:
        read_file(photo, options)
    assert caught.value.source == str(photo)
    assert str(masks / "ulcer.png") in str(caught.value)


def test_the_quality_gate_takes_a_frame_one_pixel_high() -> None:
    """Found by the fuzzer: a 1 x 2 frame warned 'Mean of empty slice' (an error under
    pytest, a stray log line in the CLI) in the gate's neighbour correlation."""
    from wound.capture import Capture, CaptureMetadata
    from wound.quality import check_quality

    cube = np.random.default_rng(0).uniform(0.05, 0.9, (1, 1, 2)).astype(np.float32)
    meta = CaptureMetadata(subject="sub-" + "a" * 20, captured_at="2026-01-01T00:00:00Z")
    capture = Capture(cube=cube, wavelengths=(400.0,), metadata=meta)
    verdict = check_quality(capture, wavelengths=(400.0,))
    assert not verdict.ok  # far too small to score, said so rather than warned
