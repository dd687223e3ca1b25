"""Read limits: the decompression-bomb guard, checked on header dimensions before decoding."""

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

    @classmethod
    def from_settings(cls, settings: Settings) -> ReadLimits:
        return cls(
            max_pixels=settings.max_pixels,
            max_bands=settings.max_bands,
            max_file_bytes=settings.max_file_bytes,
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

    def check_dimensions(self, source: str | Path, bands: int, height: int, width: int) -> None:
        """Raise :class:`DimensionLimitError` for absurd or too-large dimensions."""
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
