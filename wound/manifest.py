"""A CSV manifest of an image import: subject, wound and site per image file.

Columns (header row, case-insensitive): ``image`` (or ``file``; the file name, e.g. ``0001.jpg``)
and any of ``subject``, ``wound_id`` (or ``wound``), ``anatomical_site`` (or ``site``),
``wound_type``, ``captured_at``. Empty cells are left out (the command's options, or one subject
per image, fill them). Subjects and wounds are pseudonymised on read like every other subject
(docs/storage.md); the manifest itself stays with the user.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from wound.errors import MetadataError

_ALIASES = {
    "image": "image",
    "file": "image",
    "filename": "image",
    "subject": "subject",
    "wound_id": "wound_id",
    "wound": "wound_id",
    "anatomical_site": "anatomical_site",
    "site": "anatomical_site",
    "wound_type": "wound_type",
    "captured_at": "captured_at",
}


def read_manifest(path: Path) -> dict[str, dict[str, Any]]:
    """``{file name: {field: value}}`` from a CSV manifest; MetadataError naming the file and
    the row for an unknown column, a missing ``image`` column or a file listed twice."""
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise MetadataError(source, f"cannot read the manifest ({exc})") from None
    reader = csv.DictReader(text.splitlines())
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    unknown = [h for h in header if h not in _ALIASES]
    if unknown:
        raise MetadataError(
            source,
            f"unknown manifest column(s) {', '.join(unknown)}; known: {', '.join(_ALIASES)}",
        )
    if "image" not in {_ALIASES[h] for h in header}:
        raise MetadataError(source, "the manifest needs an 'image' column (the file name)")
    rows: dict[str, dict[str, Any]] = {}
    for line, row in enumerate(reader, start=2):
        fields = {
            _ALIASES[k.strip().lower()]: (v or "").strip() for k, v in row.items() if k is not None
        }
        name = Path(fields.pop("image", "")).name
        if not name:
            raise MetadataError(source, f"line {line}: no image file name")
        if name in rows:
            raise MetadataError(source, f"line {line}: {name} is listed twice")
        rows[name] = {k: v for k, v in fields.items() if v}
    return rows
