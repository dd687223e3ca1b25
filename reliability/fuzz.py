"""Bad input: Hypothesis generates broken and hostile capture files (bit flips, truncation,
lying or missing TIFF tags, decompression bombs, NaN/Inf, band/wavelength mismatches, wrong
dtypes, empty and non-image files, masks that do not match, hostile metadata) and each goes
through the ingest's and ``wound predict FILE``'s own steps, then a folder of them through the
real CLI commands.

Every input must end as a valid capture or a :class:`~wound.errors.CaptureError` naming the file:
0 other exceptions, 0 inputs over 5 s, and nothing left behind by a failure (the store's check
clean and every record a capture that was reported stored). A fixed seed reproduces a run; each
unexpected outcome is reported with its recipe.
"""

from __future__ import annotations

import io
import json
import logging
import struct
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tifffile
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from PIL import Image

from reliability.common import WAVELENGTHS, Figure, StoreSpec, at_most, exactly, wound_cli
from reliability.model import register_tiny_model
from wound.errors import CaptureConflictError, CaptureError
from wound.ingest import IngestOptions, read_file, store_capture
from wound.io import ReadLimits
from wound.store import CaptureStore

SEED = 20261130
HANG_S = 5.0
KEY = b"fuzz-key"
#: Small limits so lying dimensions are refused from tags without a large decode.
LIMITS = ReadLimits(max_pixels=4_000_000, max_bands=64, max_file_bytes=64 << 20)
NASTY_TEXT = st.one_of(
    st.text(min_size=0, max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=129, max_size=400),
    st.sampled_from(
        [
            "",
            " ",
            "../../etc/passwd",
            "a/b\\c",
            "x\x00y",
            "tab\there",
            "line\nbreak",
            "w\ud800",
            "\u202eevil",
            "[red]markup[/]",
            "John Smith",
            "9" * 5000,
            "cap-" + "0" * 32,
        ]
    ),
)
NASTY_VALUE = st.one_of(
    NASTY_TEXT,
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)
META_FIELDS = (
    "subject",
    "wound_id",
    "capture_id",
    "device_id",
    "anatomical_site",
    "notes",
    "wound_type",
    "captured_at",
    "days_since_injury",
    "fitzpatrick",
    "source",
    "clinician_assessment",
)


@dataclass(frozen=True)
class Case:
    """One generated input: how it was made (the recipe) and where it is."""

    index: int
    recipe: dict[str, Any]
    path: Path
    masks_dir: Path | None
    metadata: dict[str, Any] | None


@dataclass
class Result:
    case: Case
    status: str  # created | exists | refused | conflict | other
    seconds: float
    detail: str = ""


# --- generation ----------------------------------------------------------------------------
def _tiff_bytes(
    cube: np.ndarray, description: Any = None, *, compression: str | None = None
) -> bytes:
    buffer = io.BytesIO()
    kwargs: dict[str, Any] = {"photometric": "minisblack", "compression": compression}
    if isinstance(description, str):  # any text, as UTF-8 bytes (tifffile writes str as ASCII)
        raw = description.encode("utf-8", "surrogatepass")
        kwargs.update(description=raw, metadata=None)
    else:
        kwargs["metadata"] = description
    tifffile.imwrite(buffer, cube, **kwargs)
    return buffer.getvalue()


def _base_meta(index: int) -> dict[str, Any]:
    return {
        "wavelengths_nm": list(WAVELENGTHS),
        "metadata": {
            "subject": f"P-{index % 5}",
            "captured_at": f"2026-03-01T09:00:{index % 60:02d}Z",
            "capture_id": f"fz-{index:05d}",
        },
    }


def _base_cube(index: int, shape: tuple[int, int, int]) -> np.ndarray:
    rng = np.random.default_rng(index)
    return rng.uniform(0.05, 0.9, shape).astype(np.float32)


def _patch_tag(data: bytes, tag: str, value: int) -> bytes:
    """Overwrite a tag's value in place (a lying header), keeping its type's width."""
    with tifffile.TiffFile(io.BytesIO(data)) as tif:
        page = tif.pages.first
        found = page.tags.get(tag)
        if found is None:
            return data
        offset, dtype, count = found.valueoffset, found.dtype, found.count
    fmt = {1: "B", 3: "H", 4: "I", 16: "Q"}.get(int(dtype), "I")
    width = struct.calcsize(fmt)
    value = value % (1 << (8 * width))
    out = bytearray(data)
    for i in range(max(1, min(count, 4))):
        out[offset + i * width : offset + (i + 1) * width] = struct.pack("<" + fmt, value)
    return bytes(out)


@st.composite
def recipes(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(
        st.sampled_from(
            [
                "valid",
                "bitflip",
                "truncate",
                "tail",
                "empty",
                "not_image",
                "nonfinite",
                "bands",
                "dtype",
                "lying_tag",
                "description",
                "hostile_meta",
                "photo_mask",
                "photo_bytes",
                "scale",
                "bomb",
            ]
        )
    )
    recipe: dict[str, Any] = {"kind": kind}
    recipe["shape"] = (
        (draw(st.integers(1, 12)), draw(st.integers(1, 24)), draw(st.integers(1, 24)))
        if kind in ("bands", "dtype")
        else (len(WAVELENGTHS), 12, 16)
    )
    if kind == "bitflip":
        recipe["flips"] = draw(
            st.lists(
                st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 7)),
                min_size=1,
                max_size=16,
            )
        )
    elif kind == "truncate":
        recipe["keep"] = draw(st.floats(0, 1, exclude_max=True))
    elif kind == "tail":
        recipe["tail"] = draw(st.binary(min_size=1, max_size=200))
    elif kind == "not_image":
        recipe["data"] = draw(
            st.one_of(
                st.binary(min_size=1, max_size=300),
                st.text(min_size=1, max_size=100).map(str.encode),
                st.sampled_from(
                    [b"II*\x00", b"MM\x00*junk", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff"]
                ),
            )
        )
    elif kind == "nonfinite":
        recipe["value"] = draw(st.sampled_from(["nan", "inf", "-inf"]))
        recipe["fraction"] = draw(st.floats(0.0, 1.0))
    elif kind == "bands":
        recipe["n_wavelengths"] = draw(st.integers(0, 14))
    elif kind == "dtype":
        recipe["dtype"] = draw(
            st.sampled_from(["u1", "u2", "i1", "i2", "i4", "u4", "f2", "f8", "c8", "?", "i8"])
        )
        recipe["scale"] = draw(st.one_of(st.none(), st.sampled_from([255, 65535, 1, "4095"])))
    elif kind == "lying_tag":
        recipe["tag"] = draw(
            st.sampled_from(
                [
                    "ImageWidth",
                    "ImageLength",
                    "BitsPerSample",
                    "SamplesPerPixel",
                    "StripByteCounts",
                    "StripOffsets",
                    "Compression",
                    "RowsPerStrip",
                    "PhotometricInterpretation",
                    "SampleFormat",
                ]
            )
        )
        recipe["value"] = draw(st.one_of(st.integers(0, 70_000), st.just(2**32 - 1)))
    elif kind == "description":
        recipe["description"] = draw(
            st.one_of(
                st.text(max_size=80),
                st.sampled_from(
                    [
                        "[1, 2, 3]",
                        '"text"',
                        "null",
                        "{",
                        '{"wavelengths_nm": "x"}',
                        '{"metadata": [1], "wavelengths_nm": []}',
                        "<?xml?><OME/>",
                        '{"wound_capture": 1, "header": 5}',
                    ]
                ),
            )
        )
    elif kind == "hostile_meta":
        recipe["field"] = draw(st.sampled_from(META_FIELDS))
        recipe["value"] = draw(NASTY_VALUE)
        recipe["metadata_not_object"] = draw(st.booleans()) and draw(st.booleans())
    elif kind == "photo_mask":
        recipe["mask"] = draw(st.sampled_from(["ok", "size", "values", "rgb", "corrupt", "16bit"]))
    elif kind == "photo_bytes":
        recipe["format"] = draw(st.sampled_from(["png", "jpeg"]))
        recipe["flips"] = draw(
            st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 7)), max_size=8)
        )
        recipe["keep"] = draw(st.floats(0.0, 1.0))
    elif kind == "scale":
        recipe["scale"] = draw(NASTY_VALUE)
    elif kind == "bomb":
        recipe["bands"] = draw(st.integers(1, 64))
        recipe["side"] = draw(st.integers(1, 200_000))
    return recipe


def _flip(data: bytes, flips: list[tuple[float, int]]) -> bytes:
    out = bytearray(data)
    for where, bit in flips:
        if out:
            out[int(where * len(out))] ^= 1 << bit
    return bytes(out)


def _photo(index: int, fmt: str) -> bytes:
    rgb = np.random.default_rng(index).integers(0, 255, (12, 16, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG" if fmt == "png" else "JPEG")
    return buffer.getvalue()


def build(recipe: dict[str, Any], index: int, folder: Path) -> Case:
    """Write the input the recipe describes; returns the case (file, options)."""
    kind = recipe["kind"]
    shape = tuple(recipe["shape"])
    meta = _base_meta(index)
    cube = _base_cube(index, shape)
    masks_dir: Path | None = None
    metadata: dict[str, Any] | None = None
    suffix = ".tif"
    data: bytes
    if kind == "valid":
        data = _tiff_bytes(cube, meta)
    elif kind in ("bitflip", "truncate", "tail"):
        valid = _tiff_bytes(cube, meta, compression="zlib" if index % 2 else None)
        if kind == "bitflip":
            data = _flip(valid, recipe["flips"])
        elif kind == "truncate":
            data = valid[: int(recipe["keep"] * len(valid))]
        else:
            data = valid + recipe["tail"]
    elif kind == "empty":
        data = b""
    elif kind == "not_image":
        data = recipe["data"]
    elif kind == "nonfinite":
        mask = np.random.default_rng(index).random(shape) < recipe["fraction"]
        cube[mask] = float(recipe["value"])
        cube.flat[0] = float(recipe["value"])
        data = _tiff_bytes(cube, meta)
    elif kind == "bands":
        meta["wavelengths_nm"] = [400.0 + 30 * i for i in range(recipe["n_wavelengths"])]
        data = _tiff_bytes(cube, meta)
    elif kind == "dtype":
        meta["wavelengths_nm"] = [400.0 + 30 * i for i in range(shape[0])]
        if recipe["scale"] is not None:
            meta["reflectance_scale"] = recipe["scale"]
        values = cube * (200 if recipe["dtype"][-1] in "1248" else 1)
        data = _tiff_bytes(values.astype(recipe["dtype"]), meta)
    elif kind == "lying_tag":
        data = _patch_tag(_tiff_bytes(cube, meta), recipe["tag"], recipe["value"])
    elif kind == "description":
        data = _tiff_bytes(cube, recipe["description"])
    elif kind == "hostile_meta":
        if recipe["metadata_not_object"]:
            meta["metadata"] = recipe["value"]
        else:
            meta["metadata"][recipe["field"]] = recipe["value"]
        data = _tiff_bytes(cube, json.dumps(meta, ensure_ascii=index % 2 == 0))
    elif kind == "photo_mask":
        suffix = ".png"
        data = _photo(index, "png")
        masks_dir = folder / "masks"
        masks_dir.mkdir(exist_ok=True)
        mask = (np.random.default_rng(index).random((12, 16)) > 0.5).astype(np.uint8) * 255
        choice = recipe["mask"]
        mask_path = masks_dir / f"in{index:05d}.png"
        if choice == "size":
            Image.fromarray(mask[:5]).save(mask_path)
        elif choice == "values":
            Image.fromarray(np.arange(192, dtype=np.uint8).reshape(12, 16)).save(mask_path)
        elif choice == "rgb":
            Image.fromarray(np.dstack([mask] * 3)).save(mask_path)
        elif choice == "corrupt":
            mask_path.write_bytes(b"\x89PNG\r\n\x1a\nbroken")
        elif choice == "16bit":
            Image.fromarray(mask.astype(np.uint16) * 257).save(mask_path)
        else:
            Image.fromarray(mask).save(mask_path)
        metadata = {"subject": f"P-{index % 5}", "wound_type": "dfu"}
    elif kind == "photo_bytes":
        fmt = recipe["format"]
        suffix = ".png" if fmt == "png" else ".jpg"
        photo = _flip(_photo(index, fmt), recipe["flips"])
        data = photo[: max(1, int(recipe["keep"] * len(photo)))]
        metadata = {"subject": f"P-{index % 5}", "wound_type": "dfu"}
    elif kind == "scale":
        meta["reflectance_scale"] = recipe["scale"]
        data = _tiff_bytes((cube * 1000).astype("u2"), json.dumps(meta, ensure_ascii=False))
    elif kind == "bomb":
        small = _tiff_bytes(np.zeros((recipe["bands"], 2, 2), np.float32), meta, compression="zlib")
        data = _patch_tag(
            _patch_tag(small, "ImageWidth", recipe["side"]), "ImageLength", recipe["side"]
        )
    else:  # pragma: no cover - the strategy draws only the kinds above
        raise ValueError(kind)
    path = folder / f"in{index:05d}{suffix}"
    path.write_bytes(data)
    return Case(index, recipe, path, masks_dir, metadata)


# --- running -------------------------------------------------------------------------------
def ingest_case(case: Case, store: CaptureStore) -> Result:
    """The ingest's own steps (``read_file`` then ``store_capture``), exceptions classified."""
    options = IngestOptions(KEY, LIMITS, case.metadata, None, case.masks_dir)
    start = time.perf_counter()
    try:
        capture = read_file(case.path, options)
        capture_id, status = store_capture(store, capture)
    except CaptureError as exc:
        ok = exc.source is not None and str(case.path) in str(exc)
        detail = "" if ok else f"CaptureError not naming the file: {exc}"
        return Result(case, "refused" if ok else "other", time.perf_counter() - start, detail)
    except CaptureConflictError as exc:
        return Result(case, "conflict", time.perf_counter() - start, str(exc)[:200])
    except Exception as exc:
        detail = f"{type(exc).__name__}: {str(exc)[:300]}"
        return Result(case, "other", time.perf_counter() - start, detail)
    return Result(case, status, time.perf_counter() - start, capture_id)


def predict_case(case: Case, store: CaptureStore, predictor: Any) -> Result:
    """``wound predict FILE``'s own function (:func:`wound.pipeline.score_file`)."""
    from wound.pipeline import score_file

    start = time.perf_counter()
    try:
        outcome = score_file(
            store,
            predictor,
            case.path,
            pseudonym_key=KEY,
            read_limits=LIMITS,
            metadata=case.metadata,
            masks_dir=case.masks_dir,
        )
    except Exception as exc:
        return Result(case, "other", time.perf_counter() - start, f"{type(exc).__name__}: {exc}")
    seconds = time.perf_counter() - start
    if outcome.status in ("scored", "refused", "skipped"):
        return Result(case, "created", seconds, outcome.capture_id)
    named = outcome.message.startswith(str(case.path))
    unexpected = "could not be ingested (" in outcome.message
    if named and not unexpected:
        return Result(case, "refused", seconds)
    return Result(case, "other", seconds, outcome.message[:300])


def generate(n: int, folder: Path, *, seed_value: int = SEED) -> list[Case]:
    """``n`` inputs from Hypothesis (fixed seed: the same ``n`` and seed give the same files)."""
    folder.mkdir(parents=True, exist_ok=True)
    cases: list[Case] = []

    @seed(seed_value)
    @settings(
        max_examples=n,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(recipe=recipes())
    def draw(recipe: dict[str, Any]) -> None:
        cases.append(build(recipe, len(cases), folder))

    draw()
    return cases


def stored_ids(store: CaptureStore) -> set[str]:
    return {r.capture_id for r in store.iter_captures(limit=1000)}


def run(
    *,
    n: int,
    workdir: Path,
    store_spec: StoreSpec,
    predict_every: int = 4,
    cli_sample: int = 60,
    predictor: Any = None,
) -> tuple[list[Figure], list[Result]]:
    """Generate ``n`` inputs; ingest each; ``wound predict FILE`` on every ``predict_every``-th
    (into a second store); the first ``cli_sample`` through the real commands; figures."""
    logging.getLogger("tifffile").setLevel(logging.CRITICAL)  # its own notes on broken files
    cases = generate(n, workdir / "inputs")
    store_spec.init()
    results: list[Result] = []
    with store_spec.open() as store:
        for case in cases:
            results.append(ingest_case(case, store))
        findings = store.check()
        left = stored_ids(store)
    reported = {r.detail for r in results if r.status in ("created", "exists")}
    predict_results: list[Result] = []
    if predict_every:
        from wound.predict import Predictor

        predict_spec = StoreSpec.local(workdir / "predict-store")
        predict_spec.init()
        with predict_spec.open() as pstore:
            predictor = Predictor.from_store(pstore, register_tiny_model(pstore), device="cpu")
            for case in cases[::predict_every]:
                predict_results.append(predict_case(case, pstore, predictor))
            pfindings = pstore.check()
        findings = {k: findings[k] + pfindings[k] for k in findings}
    every = results + predict_results
    other = [r for r in every if r.status == "other"]
    slow = [r for r in every if r.seconds > HANG_S]
    cli_bad = cli_check(cases[:cli_sample], workdir) if cli_sample else 0
    concern = "bad input"
    figures = [
        Figure(
            concern,
            "inputs generated (ingest + predict FILE)",
            f"{len(results)} + {len(predict_results)}",
            ">= 2000 full / 300 CI",
            True,
        ),
        Figure(
            concern,
            "valid captures stored / refused by name",
            f"{sum(r.status in ('created', 'exists') for r in results)} / "
            f"{sum(r.status in ('refused', 'conflict') for r in results)}",
            "-",
            True,
        ),
        exactly(concern, "other exceptions", len(other), 0),
        exactly(concern, f"inputs over {HANG_S:g} s", len(slow), 0),
        exactly(
            concern,
            "objects left behind (orphans + missing + mismatched)",
            sum(len(findings[k]) for k in ("orphans", "missing", "mismatched")),
            0,
        ),
        exactly(concern, "records not reported as stored", len(left - reported), 0),
        exactly(concern, "CLI lines wrong (traceback, file without its line)", cli_bad, 0),
        at_most(concern, "slowest input (s)", max((r.seconds for r in every), default=0.0), HANG_S),
    ]
    return figures, other + slow


def cli_check(cases: list[Case], workdir: Path) -> int:
    """The same inputs through ``wound ingest`` (TIFFs; photos with --subject and --masks):
    no traceback, one line per file, exit 1 when any failed. Returns the count of problems."""
    spec = StoreSpec.local(workdir / "cli-store")
    spec.home.mkdir(parents=True, exist_ok=True)
    problems = 0
    tiffs = [c for c in cases if c.path.suffix == ".tif"]
    photos = [c for c in cases if c.path.suffix != ".tif" and c.masks_dir is None]
    masked = [c for c in cases if c.masks_dir is not None]
    groups: list[tuple[list[Case], list[str]]] = [
        (tiffs, []),
        (photos, ["--subject", "P-1", "--wound-type", "dfu"]),
    ]
    if masked:
        groups.append((masked, ["--subject", "P-1", "--masks", str(masked[0].masks_dir)]))
    for group, options in groups:
        if not group:
            continue
        done = wound_cli(["ingest", *(str(c.path) for c in group), *options], spec, timeout=600)
        text = done.stdout + done.stderr
        if "Traceback" in text or done.returncode not in (0, 1):
            problems += 1
        for case in group:
            if case.path.name not in text:
                problems += 1
    return problems
