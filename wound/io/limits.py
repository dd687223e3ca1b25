"""Read limits: the decompression-bomb guard, checked on header dimensions before decoding.

Besides pixels per band and bands, the decoded size (bands x height x width x bytes per value,
at least 4: the float32 cube) is bounded, so a 64-band 8000 x 8000 file whose pixels compress
to almost nothing is refused from its tags, before any decoding.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from wound.errors import DimensionLimitError, UnreadableFileError

if TYPE_CHECKING:
    from wound.settings import Settings


@dataclass(frozen=True)
class ReadLimits:
    """Largest capture a reader accepts: pixels per band (H x W), bands, file size in bytes."""

    max_pixels: int = 64_000_000
    max_bands: int = 64
    max_file_bytes: int = 4_000_000_000
    max_cube_bytes: int = 2**31

    @classmethod
    def from_settings(cls, settings: Settings) -> ReadLimits:
        return cls(
            max_pixels=settings.max_pixels,
            max_bands=settings.max_bands,
            max_file_bytes=settings.max_file_bytes,
            max_cube_bytes=settings.max_cube_bytes,
        )

    def check_file(self, path: Path) -> int:
        """The file's size, after checking it exists, is not empty and is within the limit."""
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise UnreadableFileError(path, f"cannot open: {exc.strerror or exc}") from None
        if not path.is_file():
            raise UnreadableFileError(path, "not a regular file")
        if size == 0:
            raise UnreadableFileError(path, "empty file")
        if size > self.max_file_bytes:
            raise DimensionLimitError(
                path, f"file is {size} bytes, above the limit of {self.max_file_bytes} bytes"
            )
        return size

    def check_dimensions(
        self, source: str | Path, bands: int, height: int, width: int, itemsize: int = 4
    ) -> None:
        """Raise :class:`DimensionLimitError` for absurd or too-large dimensions
        (``itemsize``: bytes per stored value; the decoded cube takes at least 4)."""
        if min(bands, height, width) < 1:
            raise DimensionLimitError(source, f"empty image ({bands} x {height} x {width})")
        if height * width > self.max_pixels:
            raise DimensionLimitError(
                source,
                f"{height} x {width} = {height * width} pixels per band, "
                f"above the limit of {self.max_pixels}",
            )
        if bands > self.max_bands:
            raise DimensionLimitError(source, f"{bands} bands, above the limit of {self.max_bands}")
        decoded = bands * height * width * max(int(itemsize), 4)
        if decoded > self.max_cube_bytes:
            raise DimensionLimitError(
                source,
                f"{bands} bands x {height} x {width} pixels decode to {decoded} bytes, above "
                f"the limit of {self.max_cube_bytes} bytes (refused before decoding)",
            )
