"""Dictionary transforms over ``{"image": C x H x W reflectance, "label": L x H x W uint8}``.

Deterministic part (cached by ``CacheDataset``): load (tifffile, memory-mapped when possible),
per-band normalisation, to tensors. Random part (per patch, after the crop so the work is done on
small arrays): random crops, flips, rot90, illumination + per-band gain, Gaussian noise; for
photographs also zoom (scale) and gamma (contrast) when the config asks. With
``inference.input_size`` the deterministic part resizes each capture to that longer side first
(:class:`ResizeLongestd`, the function the predictor resizes with).

Labels: ``burn-depth`` -> 2 channels [depth class id, healing 0/1]; ``wound-mask`` -> 1 channel.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import tifffile
import torch
from monai.config import KeysCollection
from monai.transforms import (
    Compose,
    EnsureTyped,
    MapTransform,
    RandAdjustContrastd,
    RandCropByPosNegLabeld,
    RandFlipd,
    RandGaussianNoised,
    RandomizableTransform,
    RandRotate90d,
    RandSpatialCropSamplesd,
    RandZoomd,
    SpatialPadd,
)

from training.config import AugmentConfig, RunConfig
from wound.errors import UnreadableFileError
from wound.postprocess import resize_images, scaled_size


def read_array(path: str | Path, *, memmap: bool = True) -> np.ndarray:
    """A TIFF's first series as an array: memory-mapped (read-only) when ``memmap`` and the
    data are uncompressed and contiguous, else decoded into memory."""
    if memmap:
        try:
            return np.asarray(tifffile.memmap(path, mode="r"))
        except Exception:  # compressed, tiled, or broken: decode (and report what is wrong)
            pass
    try:
        array = tifffile.imread(path)
    except (OSError, ValueError, IndexError, tifffile.TiffFileError) as exc:
        raise UnreadableFileError(path, f"cannot read TIFF ({exc})") from None
    if not isinstance(array, np.ndarray) or array.ndim < 2 or array.dtype == object:
        raise UnreadableFileError(path, "no image data in this TIFF")
    return array


class LoadArrayd(MapTransform):
    """Load ``keys`` from TIFF paths (tifffile); arrays pass through untouched.

    ``memmap``: map the file read-only (for cubes that the next transform reads once anyway);
    otherwise decode into a writable array.
    """

    def __init__(
        self, keys: KeysCollection, *, memmap: bool = True, allow_missing_keys: bool = False
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.memmap = memmap

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            value = d[key]
            if isinstance(value, str | Path):
                value = read_array(value, memmap=self.memmap)
            d[key] = value
        return d


def normalise_bands(cube: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """``(cube - mean) / std`` per band, float32 (``cube`` is C x H x W)."""
    out = np.asarray(cube, dtype=np.float32) - mean.astype(np.float32)[:, None, None]
    out /= std.astype(np.float32)[:, None, None]
    return out


class NormaliseBandsd(MapTransform):
    """Per-band normalisation with statistics of the training split."""

    def __init__(self, keys: KeysCollection, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__(keys)
        self.mean = np.asarray(mean, dtype=np.float64)
        self.std = np.asarray(std, dtype=np.float64)

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = normalise_bands(d[key], self.mean, self.std)
        return d


#: Melanin absorption falls as lambda^-3.33 (Jacques 1998, see docs/references.md).
MELANIN_EXPONENT = 3.33


class RandReflectanceGaind(RandomizableTransform, MapTransform):
    """Multiply the *reflectance* by an illumination gain, a per-band gain and, optionally, a
    skin-tone change: ``exp(-k (lambda / 500 nm)^-3.33)``, the epidermal transmission change of
    a different melanin content (``k`` uniform in ``±melanin``, optical depth at 500 nm).

    Applied to normalised data ``z = (x - m) / s``: gain ``g`` on ``x`` gives
    ``g * z + (g - 1) * m / s``, so the augmentation stays physical after caching.
    """

    def __init__(
        self,
        keys: KeysCollection,
        mean: Sequence[float],
        std: Sequence[float],
        *,
        prob: float = 0.8,
        global_gain: float = 0.15,
        band_gain: float = 0.05,
        melanin: float = 0.0,
        wavelengths: Sequence[float] | None = None,
    ) -> None:
        MapTransform.__init__(self, keys)
        RandomizableTransform.__init__(self, prob)
        self.offset = torch.as_tensor(np.asarray(mean) / np.asarray(std), dtype=torch.float32)
        self.global_gain = global_gain
        self.band_gain = band_gain
        self.melanin = melanin
        if melanin and (wavelengths is None or len(wavelengths) != len(mean)):
            raise ValueError("melanin augmentation needs one wavelength per band")
        waves = np.asarray(wavelengths if wavelengths is not None else [500.0] * len(mean))
        self._melanin_shape = (waves / 500.0) ** -MELANIN_EXPONENT
        self._gain = np.ones(len(mean), dtype=np.float32)

    def randomize(self, data: Any = None) -> None:
        super().randomize(None)
        if not self._do_transform:
            return
        g = 1.0 + self.R.uniform(-self.global_gain, self.global_gain)
        bands = 1.0 + self.R.uniform(-self.band_gain, self.band_gain, size=self._gain.shape)
        k = self.R.uniform(-self.melanin, self.melanin) if self.melanin else 0.0
        self._gain = (g * bands * np.exp(-k * self._melanin_shape)).astype(np.float32)

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        self.randomize()
        if not self._do_transform:
            return d
        gain = torch.from_numpy(self._gain)[:, None, None]
        offset = self.offset[:, None, None]
        for key in self.key_iterator(d):
            img = torch.as_tensor(d[key])
            d[key] = img * gain + (gain - 1.0) * offset
        return d


class ResizeLongestd(MapTransform):
    """Image and label resized so the longer side is ``size`` (aspect kept): the image with
    :func:`wound.postprocess.resize_images` as the predictor does, the label nearest."""

    def __init__(self, size: int) -> None:
        super().__init__(keys=["image", "label"])
        self.size = size

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        image = torch.from_numpy(np.array(d["image"], dtype=np.float32))  # a copy: memmaps
        target = scaled_size((int(image.shape[-2]), int(image.shape[-1])), self.size)
        d["image"] = resize_images(image[None], target)[0].numpy()
        label = torch.from_numpy(np.array(d["label"]))
        d["label"] = resize_images(label[None], target, labels=True)[0].numpy()
        return d


def deterministic_transforms(
    mean: Sequence[float], std: Sequence[float], *, input_size: int | None = None
) -> Compose:
    """Load (+ resize to ``input_size``) + normalise + to tensors: what ``CacheDataset`` caches."""
    resize = [ResizeLongestd(input_size)] if input_size else []
    return Compose(
        [
            LoadArrayd(keys="image", memmap=True),
            LoadArrayd(keys="label", memmap=False),
            *resize,
            NormaliseBandsd(keys="image", mean=mean, std=std),
            EnsureTyped(keys=["image", "label"], data_type="tensor", track_meta=False),
        ]
    )


def random_transforms(
    config: RunConfig,
    mean: Sequence[float],
    std: Sequence[float],
    wavelengths: Sequence[float] | None = None,
) -> Compose:
    """Crops first (``crops_per_capture`` patches per capture), then augmentation per patch."""
    aug: AugmentConfig = config.augment
    keys = ["image", "label"]
    crop: MapTransform
    if config.crop == "pos_neg":
        crop = RandCropByPosNegLabeld(
            keys=keys,
            label_key="label",
            spatial_size=config.patch_size,
            pos=1.0,
            neg=1.0,
            num_samples=config.crops_per_capture,
            allow_smaller=False,
        )
    else:
        crop = RandSpatialCropSamplesd(
            keys=keys,
            roi_size=config.patch_size,
            num_samples=config.crops_per_capture,
            random_size=False,
        )
    pad = [SpatialPadd(keys=keys, spatial_size=config.patch_size)] if aug.pad_to_patch else []
    photo: list[MapTransform] = []
    if aug.zoom is not None:  # > 1: the wound fills more of the frame
        photo.append(
            RandZoomd(
                keys=keys,
                prob=aug.zoom_prob,
                min_zoom=aug.zoom[0],
                max_zoom=aug.zoom[1],
                mode=("bilinear", "nearest"),
                padding_mode="constant",
                keep_size=True,
            )
        )
    if aug.gamma is not None:
        photo.append(RandAdjustContrastd(keys="image", prob=aug.gain_prob, gamma=aug.gamma))
    return Compose(
        [
            *pad,
            crop,
            *photo,
            RandFlipd(keys=keys, prob=aug.flip_prob, spatial_axis=0),
            RandFlipd(keys=keys, prob=aug.flip_prob, spatial_axis=1),
            RandRotate90d(keys=keys, prob=aug.rot90_prob, max_k=3, spatial_axes=(0, 1)),
            RandReflectanceGaind(
                keys="image",
                mean=mean,
                std=std,
                prob=aug.gain_prob,
                global_gain=aug.global_gain,
                band_gain=aug.band_gain,
                melanin=aug.melanin,
                wavelengths=wavelengths,
            ),
            RandGaussianNoised(keys="image", prob=aug.noise_prob, std=aug.noise_std),
            EnsureTyped(
                keys=keys, data_type="tensor", dtype=(torch.float32, torch.uint8), track_meta=False
            ),
        ]
    )


def train_transforms(
    config: RunConfig,
    mean: Sequence[float],
    std: Sequence[float],
    wavelengths: Sequence[float] | None = None,
) -> Compose:
    """The whole training chain (uncached use, e.g. the plain-loop benchmark)."""
    return Compose(
        [
            *deterministic_transforms(mean, std, input_size=config.inference.input_size).transforms,
            *random_transforms(config, mean, std, wavelengths).transforms,
        ]
    )
