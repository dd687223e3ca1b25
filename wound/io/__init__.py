"""Reading and writing captures: canonical TIFF, foreign TIFF/OME-TIFF, photos, previews."""

from wound.io.limits import ReadLimits
from wound.io.photo import PHOTO_WAVELENGTHS
from wound.io.preview import render_band_png, render_preview
from wound.io.read import read_capture, sniff_format
from wound.io.tiff import decode_capture_tiff, encode_capture_tiff, write_capture

__all__ = [
    "PHOTO_WAVELENGTHS",
    "ReadLimits",
    "decode_capture_tiff",
    "encode_capture_tiff",
    "read_capture",
    "render_band_png",
    "render_preview",
    "sniff_format",
    "write_capture",
]
