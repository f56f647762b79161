"""Synthetic real-looking motion: still photos moved by a camera, with patches on top.

Each clip is rendered from still photos. A crop of one photo is the background; a smooth
random camera moves over it (pan, zoom, rotation; per-frame velocities that are nearly
constant, with a mild acceleration). Zero to four patches cut from other photos, shaped by
soft-edged ellipse or polygon masks, move over it with motions of their own, so they
occlude the background and each other (the FlyingChairs recipe, Dosovitskiy et al., 2015).
A slow brightness drift, a mild colour cast and, now and then, a little sensor noise finish
the clip.

Every frame is warped straight from the source photo (`cv2.warpAffine` with the frame's
whole transform), never from the previous frame, so resampling blur does not build up.
Large reductions read from an image pyramid of the photo, so fine texture does not alias.
Motion sizes are in output pixels for a 128-pixel frame and scale with the frame's short
side; most motions are small (speeds are `max_speed * u**2` for a uniform `u`).

The photos shipped in `photos/` come from the scikit-image wheel; see `photos/README.md`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset, get_worker_info

from framepred.errors import VideoOpenError
from framepred.io.reader import IMAGE_EXTS, to_rgb8

log = logging.getLogger(__name__)

REFERENCE_SIZE = 128  # motion magnitudes in `SyntheticConfig` are for this frame size
MAX_PHOTO_SIDE = 1024  # a user's photos are shrunk to this long side when loaded


@dataclass(frozen=True)
class SyntheticConfig:
    """How much and what kind of motion the generator draws (sizes at 128 px)."""

    max_speed: float = 12.0  # px/frame of a pan or a patch's translation
    speed_power: float = 2.0  # speed = max_speed * u**power: a heavy share of small motions
    still_camera: float = 0.1  # probability that the camera does not move at all
    still_patch: float = 0.1  # probability that a patch does not move on its own
    max_accel: float = 0.15  # acceleration per frame, as a fraction of the speed
    max_zoom: float = 0.03  # zoom per frame (log scale): 2 px at 64 px from the centre
    max_rotation: float = 2.0  # degrees per frame: 2.2 px at 64 px from the centre
    max_patches: int = 4  # foreground patches: 0 to this many
    patch_size: tuple[float, float] = (0.15, 0.5)  # patch diameter, fraction of short side
    view: tuple[float, float] = (0.25, 0.8)  # share of the photo's short side in view
    brightness: float = 0.01  # brightness drift per frame (fraction)
    color_cast: float = 0.06  # per-channel gain of a clip: 1 +- this
    noise: float = 0.01  # largest noise std (in [0, 1] units)
    noise_prob: float = 0.3  # probability that a clip has noise


@dataclass(frozen=True)
class Trajectory:
    """A similarity motion per frame in output pixels: shift (T, 2), log zoom and angle (T,)."""

    shift: np.ndarray
    log_zoom: np.ndarray
    angle: np.ndarray  # radians

    def matrix(self, t: int) -> np.ndarray:
        """3x3 matrix of frame t, acting on points relative to the motion's centre."""
        return _similarity(math.exp(self.log_zoom[t]), self.angle[t], self.shift[t])

    def inverse_extent(self, half: np.ndarray) -> np.ndarray:
        """Largest |x|, |y| of the frame corners (at +-half) mapped back to time 0's frame."""
        corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * half
        extent = np.zeros(2)
        for t in range(len(self.angle)):
            inv = np.linalg.inv(self.matrix(t))
            pts = corners @ inv[:2, :2].T + inv[:2, 2]
            extent = np.maximum(extent, np.abs(pts).max(axis=0))
        return extent


def _similarity(zoom: float, angle: float, shift: Sequence[float]) -> np.ndarray:
    c, s = zoom * math.cos(angle), zoom * math.sin(angle)
    return np.array([[c, -s, shift[0]], [s, c, shift[1]], [0.0, 0.0, 1.0]])


def _translate(x: float, y: float) -> np.ndarray:
    return np.array([[1.0, 0.0, x], [0.0, 1.0, y], [0.0, 0.0, 1.0]])


def _scale(sx: float, sy: float) -> np.ndarray:
    return np.diag([sx, sy, 1.0])


def _signed_small(rng: np.random.Generator, limit: float, power: float) -> float:
    """A value in [-limit, limit] whose size is `limit * u**power`: mostly small."""
    return float(limit * rng.random() ** power * rng.choice((-1.0, 1.0)))


def sample_trajectory(
    rng: np.random.Generator, length: int, cfg: SyntheticConfig, unit: float, still: float
) -> Trajectory:
    """A smooth random motion over `length` frames, centred on the middle frame.

    Args:
        unit: output pixels per pixel at 128 px (the frame's short side / 128).
        still: probability of no motion at all.
    """
    t = np.arange(length) - (length - 1) / 2
    if rng.random() < still:
        zeros = np.zeros(length)
        return Trajectory(np.zeros((length, 2)), zeros, zeros.copy())
    speed = cfg.max_speed * unit * rng.random() ** cfg.speed_power
    direction = rng.uniform(0, 2 * np.pi)
    velocity = speed * np.array([math.cos(direction), math.sin(direction)])
    accel = cfg.max_accel * max(speed, unit) * _unit_disc(rng)
    shift = velocity * t[:, None] + 0.5 * accel * t[:, None] ** 2  # (T, 2)
    zoom_rate = _signed_small(rng, cfg.max_zoom, cfg.speed_power)
    spin = _signed_small(rng, math.radians(cfg.max_rotation), cfg.speed_power)
    return Trajectory(shift, zoom_rate * t, spin * t)


def _unit_disc(rng: np.random.Generator) -> np.ndarray:
    angle = rng.uniform(0, 2 * np.pi)
    return math.sqrt(rng.random()) * np.array([math.cos(angle), math.sin(angle)])


class Photo:
    """An RGB uint8 photo and its image pyramid (each level half the size of the last)."""

    def __init__(self, image: np.ndarray, min_side: int = 32) -> None:
        self.levels = [np.ascontiguousarray(image)]
        while min(self.levels[-1].shape[:2]) >= 2 * min_side:
            self.levels.append(cv2.pyrDown(self.levels[-1]))

    @property
    def width(self) -> int:
        return self.levels[0].shape[1]

    @property
    def height(self) -> int:
        return self.levels[0].shape[0]

    def level_for(self, scale: float) -> tuple[np.ndarray, np.ndarray]:
        """The level to read for a photo->output `scale`, and the matrix level->photo."""
        level = min(max(math.floor(math.log2(1.0 / scale)), 0), len(self.levels) - 1)
        return self.levels[level], _scale(2.0**level, 2.0**level)


def _warp(
    photo: Photo, matrix: np.ndarray, scale: float, box: tuple[int, int, int, int]
) -> np.ndarray:
    """Photo -> output `matrix` (3x3) rendered into the output box (x0, y0, x1, y1)."""
    image, from_level = photo.level_for(scale)
    x0, y0, x1, y1 = box
    m = _translate(-x0, -y0) @ matrix @ from_level
    return cv2.warpAffine(
        image, m[:2], (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101
    )


def _view_scale(rng: np.random.Generator, photo: Photo, short: int, cfg: SyntheticConfig) -> float:
    """Output pixels per photo pixel for a view showing a random share of the photo."""
    share = math.exp(rng.uniform(math.log(cfg.view[0]), math.log(cfg.view[1])))
    return short / (share * min(photo.width, photo.height))


def _background(
    rng: np.random.Generator, photo: Photo, size: tuple[int, int], length: int, cfg: SyntheticConfig
) -> np.ndarray:
    """Frames (T, H, W, 3) uint8 of a camera moving over `photo`, never past its edges."""
    h, w = size
    unit = min(size) / REFERENCE_SIZE
    motion = sample_trajectory(rng, length, cfg, unit, cfg.still_camera)
    extent = motion.inverse_extent(np.array([w / 2, h / 2]))  # output px around the centre
    # The photo must cover every frame: zoom in until the whole path fits.
    needed = max(2 * extent[0] / (photo.width - 1), 2 * extent[1] / (photo.height - 1))
    scale = max(_view_scale(rng, photo, min(size), cfg), needed)
    margin = extent / scale
    cx = rng.uniform(margin[0], max(margin[0], photo.width - 1 - margin[0]))
    cy = rng.uniform(margin[1], max(margin[1], photo.height - 1 - margin[1]))
    flip = rng.choice((-1.0, 1.0))
    to_view = _scale(flip * scale, scale) @ _translate(-cx, -cy)
    frames = np.empty((length, h, w, 3), np.uint8)
    for t in range(length):
        m = _translate((w - 1) / 2, (h - 1) / 2) @ motion.matrix(t) @ to_view
        frames[t] = _warp(photo, m, scale * math.exp(motion.log_zoom[t]), (0, 0, w, h))
    return frames


def patch_mask(rng: np.random.Generator, diameter: int) -> np.ndarray:
    """A soft-edged ellipse or star-shaped polygon filling a (d, d) float32 canvas in [0, 1]."""
    canvas = np.zeros((diameter, diameter), np.uint8)
    centre = (diameter - 1) / 2
    radius = diameter / 2 - 1
    if rng.random() < 0.5:
        axes = (radius * rng.uniform(0.5, 1.0), radius * rng.uniform(0.5, 1.0))
        box = ((centre, centre), (2 * axes[0], 2 * axes[1]), rng.uniform(0, 180))
        cv2.ellipse(canvas, box, 255, -1, cv2.LINE_AA)
    else:
        n = int(rng.integers(3, 10))
        # Jittered, evenly spread angles: gaps stay under 180 degrees, so the centre is inside.
        angles = (np.arange(n) + rng.uniform(-0.2, 0.2, n)) * (2 * np.pi / n) + rng.uniform(0, 7)
        radii = radius * rng.uniform(0.5, 1.0, n)
        pts = np.stack([centre + radii * np.cos(angles), centre + radii * np.sin(angles)], 1)
        shift = 4  # fixed-point bits: sub-pixel vertices
        cv2.fillPoly(canvas, [np.round(pts * 2**shift).astype(np.int32)], 255, cv2.LINE_AA, shift)
    sharp = canvas.astype(np.float32) / 255.0
    mask = cv2.GaussianBlur(sharp, (0, 0), rng.uniform(0.3, 1.5))
    return np.minimum(mask, 1.0, out=mask)  # the blur's rounding may pass 1


def _box(matrix: np.ndarray, side: int, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """Integer output box (x0, y0, x1, y1) that holds a (side, side) canvas after `matrix`."""
    corners = np.array([[0, 0, 1], [side, 0, 1], [side, side, 1], [0, side, 1]], float)
    pts = corners @ matrix[:2].T
    x0, y0 = np.floor(pts.min(axis=0)).astype(int) - 1
    x1, y1 = np.ceil(pts.max(axis=0)).astype(int) + 2
    return max(x0, 0), max(y0, 0), min(x1, size[1]), min(y1, size[0])


def _add_patch(
    rng: np.random.Generator, frames: np.ndarray, photo: Photo, cfg: SyntheticConfig
) -> None:
    """Composite one moving, masked patch of `photo` over uint8 `frames` (T, H, W, 3)."""
    length, h, w = frames.shape[:3]
    short = min(h, w)
    diameter = max(4, round(rng.uniform(*cfg.patch_size) * short))
    mask = patch_mask(rng, diameter)
    scale = _view_scale(rng, photo, short, cfg)
    # A texture centre whose patch-sized neighbourhood lies inside the photo where possible.
    reach = min(diameter / scale / 2, photo.width / 2, photo.height / 2)
    tx, ty = rng.uniform(reach, photo.width - reach), rng.uniform(reach, photo.height - reach)
    motion = sample_trajectory(rng, length, cfg, short / REFERENCE_SIZE, cfg.still_patch)
    start = _translate(rng.uniform(-0.1, 1.1) * w, rng.uniform(-0.1, 1.1) * h)
    pose0 = start @ _similarity(1.0, rng.uniform(0, 2 * np.pi), (0.0, 0.0))
    texture_to_patch = _scale(scale * rng.choice((-1.0, 1.0)), scale) @ _translate(-tx, -ty)
    mask_to_patch = _translate(-(diameter - 1) / 2, -(diameter - 1) / 2)
    for t in range(length):
        pose = pose0 @ motion.matrix(t)  # patch coordinates -> output
        box = _box(pose @ mask_to_patch, diameter, (h, w))
        x0, y0, x1, y1 = box
        if x1 <= x0 or y1 <= y0:
            continue  # outside the frame
        m = _translate(-x0, -y0) @ pose @ mask_to_patch
        alpha = cv2.warpAffine(mask, m[:2], (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR)
        zoom = scale * math.exp(motion.log_zoom[t])
        texture = _warp(photo, pose @ texture_to_patch, zoom, box)
        region = frames[t, y0:y1, x0:x1]
        region[...] = cv2.blendLinear(texture, region, alpha, 1.0 - alpha)


_NOISE_BANK: torch.Tensor | None = None


def _noise_bank(min_size: int) -> torch.Tensor:
    """Gaussian noise drawn once per process (from a fixed seed); clips read slices of it."""
    global _NOISE_BANK
    if _NOISE_BANK is None or len(_NOISE_BANK) < 2 * min_size:
        size = max(1 << 20, 2 * min_size)
        _NOISE_BANK = torch.randn(size, generator=torch.Generator().manual_seed(0))
    return _NOISE_BANK


def _finish(rng: np.random.Generator, frames: np.ndarray, cfg: SyntheticConfig) -> torch.Tensor:
    """Brightness drift, colour cast and noise: uint8 (T, H, W, 3) -> float (T, 3, H, W)."""
    length = frames.shape[0]
    t = np.arange(length) - (length - 1) / 2
    drift = 1.0 + rng.uniform(-cfg.brightness, cfg.brightness) * t  # (T,)
    cast = 1.0 + rng.uniform(-cfg.color_cast, cfg.color_cast, 3)  # (3,)
    gain = torch.from_numpy(drift[:, None] * cast[None, :] / 255.0).float()  # (T, 3)
    clip = torch.from_numpy(frames).permute(0, 3, 1, 2)  # (T, 3, H, W), a strided view
    clip = clip.to(torch.float32, memory_format=torch.contiguous_format)
    clip.mul_(gain[:, :, None, None])
    if rng.random() < cfg.noise_prob:
        sigma = float(rng.uniform(0, cfg.noise))
        n = clip[0].numel()
        bank = _noise_bank(n)
        for t in range(length):
            start = int(rng.integers(0, len(bank) - n))
            clip[t].view(-1).add_(bank[start : start + n], alpha=sigma)
    return clip.clamp_(0.0, 1.0)


def render_clip(
    rng: np.random.Generator,
    photos: Sequence[Photo],
    length: int = 7,
    size: tuple[int, int] = (128, 128),
    cfg: SyntheticConfig | None = None,
) -> torch.Tensor:
    """One synthetic clip: float32 (T, 3, H, W) in [0, 1]. `size` is (height, width)."""
    cfg = cfg or SyntheticConfig()
    first = int(rng.integers(len(photos)))
    frames = _background(rng, photos[first], size, length, cfg)  # (T, H, W, 3) uint8
    for _ in range(int(rng.integers(0, cfg.max_patches + 1))):
        other = int(rng.integers(len(photos)))
        if len(photos) > 1 and other == first:
            other = (other + 1) % len(photos)
        _add_patch(rng, frames, photos[other], cfg)
    return _finish(rng, frames, cfg)


def load_photos(
    folder: str | Path | None = None, max_side: int = MAX_PHOTO_SIDE
) -> list[np.ndarray]:
    """RGB uint8 photos: the shipped ones (`folder=None`) or every image in a user's folder.

    A user's photos (searched recursively) are shrunk so their long side is at most
    `max_side`, which keeps memory and rendering time bounded.
    """
    if folder is None:
        root = resources.files("framepred.data").joinpath("photos")
        files: list = [p for p in root.iterdir() if p.name.endswith(".jpg")]
    else:
        folder = Path(folder)
        if not folder.is_dir():
            raise VideoOpenError(f"photo folder not found: {folder}")
        files = [p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTS]
    decoded = [_decode(str(p), p.read_bytes(), max_side) for p in sorted(files, key=str)]
    photos = [p for p in decoded if p is not None]
    if not photos:
        raise VideoOpenError(f"no readable photos (png/jpg/tif/bmp) in folder: {folder}")
    return photos


def _decode(name: str, blob: bytes, max_side: int) -> np.ndarray | None:
    image = cv2.imdecode(np.frombuffer(blob, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None or min(image.shape[:2]) < 16:
        log.warning("skipping unreadable or tiny photo: %s", name)
        return None
    image = to_rgb8(image)
    h, w = image.shape[:2]
    if max(h, w) > max_side:
        f = max_side / max(h, w)
        image = cv2.resize(image, (round(w * f), round(h * f)), interpolation=cv2.INTER_AREA)
    return image


def _as_rgb(image: np.ndarray) -> np.ndarray:
    """An RGB uint8 (H, W, 3) view of a gray, RGB or RGBA uint8 photo (alpha dropped)."""
    if image.dtype != np.uint8 or image.ndim not in (2, 3):
        raise ValueError(
            f"photos must be uint8 (H, W[, C]) arrays, got {image.dtype} {image.shape}"
        )
    if image.ndim == 2:
        image = image[:, :, None]
    return np.ascontiguousarray(np.broadcast_to(image[:, :, :3], (*image.shape[:2], 3)))


def single_thread_in_workers() -> None:
    """One OpenCV thread inside a DataLoader worker: the workers already fill the cores."""
    if get_worker_info() is not None and cv2.getNumThreads() != 1:
        cv2.setNumThreads(1)


class SyntheticMotion(Dataset):
    """Clips of photos moved by a random camera, with moving patches: float32 (T, 3, H, W).

    Args:
        photos: RGB uint8 images (H, W, 3); None uses the shipped photos.
        length: frames per clip (T).
        size: (height, width) of the frames.
        epoch_size: items per epoch (`len`).
        seed: None draws a fresh clip on every access (training; from torch's RNG, so each
            DataLoader worker draws its own and `seed_everything(..., workers=True)` makes runs
            repeatable); an int makes item i the same clip on every call (validation).
        config: motion magnitudes and effects; see `SyntheticConfig`.
    """

    def __init__(
        self,
        photos: Sequence[np.ndarray] | None = None,
        length: int = 7,
        size: tuple[int, int] = (128, 128),
        epoch_size: int = 10_000,
        seed: int | None = None,
        config: SyntheticConfig | None = None,
    ) -> None:
        images = load_photos() if photos is None else photos
        if not images:
            raise ValueError("SyntheticMotion needs at least one photo")
        self.photos = [Photo(_as_rgb(np.asarray(p))) for p in images]
        self.length, self.epoch_size, self.seed = length, epoch_size, seed
        self.size = (int(size[0]), int(size[1]))
        self.config = config or SyntheticConfig()

    def __len__(self) -> int:
        return self.epoch_size

    def __getitem__(self, index: int) -> torch.Tensor:
        single_thread_in_workers()
        if self.seed is None:
            rng = np.random.default_rng(int(torch.randint(0, 2**62, (1,)).item()))
        else:
            rng = np.random.default_rng([self.seed, index])
        return render_clip(rng, self.photos, self.length, self.size, self.config)
