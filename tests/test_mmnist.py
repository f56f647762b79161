"""Moving MNIST generation."""

import numpy as np
import torch

from framepred.data.mmnist import DIGIT_SIZE, IMAGE_SIZE, MovingMNIST, load_digits, trajectories


def test_digit_splits_are_disjoint():
    train, val, test = load_digits("train"), load_digits("val"), load_digits("test")
    assert train.shape[1:] == (28, 28) and len(train) + len(val) == 4000 and len(test) == 1000
    seen = {d.tobytes() for d in np.concatenate([train, val])}
    assert not any(d.tobytes() in seen for d in test)


def test_trajectories_stay_inside_and_bounce():
    rng = np.random.default_rng(0)
    corners = trajectories(rng, 200, 40)
    assert corners.min() >= 0 and corners.max() <= IMAGE_SIZE - DIGIT_SIZE
    step = np.abs(np.diff(corners, axis=0)).max()
    assert step <= int(0.1 * (IMAGE_SIZE - DIGIT_SIZE)) + 1
    # Over 40 frames most digits hit a wall and reverse direction at least once.
    direction = np.sign(np.diff(corners[:, :, 1], axis=0))
    flips = (direction[1:] * direction[:-1] < 0).any(axis=0)
    assert flips.mean() > 0.3


def test_sequences_are_seeded_for_eval_and_fresh_for_training():
    val = MovingMNIST("val", length=4, seed=1)
    a, b = val[2], val[2]
    assert a.shape == (20, 1, 64, 64) and a.dtype == torch.float32
    assert torch.equal(a, b) and not torch.equal(val[2], val[3])
    assert 0 <= a.min() and a.max() <= 1 and a.max() > 0.5
    train = MovingMNIST("train", length=4)
    torch.manual_seed(0)
    x = train[0]
    torch.manual_seed(0)
    assert torch.equal(x, train[0])  # repeatable from torch's seed
    assert not torch.equal(train[0], train[0])  # but fresh on every call
