"""MONAI training, evaluation against a spectral baseline, registry write and export."""
