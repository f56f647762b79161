"""Prediction on arrays: the .npy contract's shapes and dtypes, and bad input."""

import numpy as np
import pytest
import torch

from framepred.errors import InputShapeError
from framepred.models import EncoderForecaster, ModelConfig
from framepred.predict.predictor import FramePredictor, predict_array


@pytest.fixture(scope="module")
def gray_predictor():
    torch.manual_seed(0)
    return FramePredictor(EncoderForecaster(ModelConfig(in_chs=1, stem_chs=4, stage_chs=(4, 4))))


@pytest.mark.parametrize(
    "shape, expected",
    [
        ((6, 20, 24), (3, 20, 24)),
        ((6, 20, 24, 1), (3, 20, 24, 1)),
        ((6, 20, 24, 3), (3, 20, 24, 3)),
        ((6, 20, 24, 4), (3, 20, 24, 4)),
        ((2, 6, 20, 24), (2, 3, 20, 24)),
        ((2, 6, 20, 24, 3), (2, 3, 20, 24, 3)),
    ],
)
@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
def test_npy_contract_shapes_and_dtypes(gray_predictor, shape, expected, dtype):
    rng = np.random.default_rng(0)
    x = rng.random(shape)
    x = (x * 255).astype(np.uint8) if dtype == np.uint8 else x.astype(dtype)
    y = predict_array(x, 3, gray_predictor)
    assert y.shape == expected and y.dtype == dtype
    if dtype != np.uint8:
        assert 0 <= y.min() and y.max() <= 1


def test_uint8_and_float_inputs_agree(gray_predictor):
    x = (np.random.default_rng(1).random((2, 5, 16, 16)) * 255).astype(np.uint8)
    a = predict_array(x, 2, gray_predictor).astype(np.float32) / 255
    b = predict_array(x.astype(np.float32) / 255, 2, gray_predictor)
    assert np.abs(a - b).max() <= 1 / 255 + 1e-6


def test_sequences_in_a_batch_are_independent(gray_predictor):
    x = np.random.default_rng(2).random((3, 5, 16, 16)).astype(np.float32)
    together = predict_array(x, 2, gray_predictor)
    alone = predict_array(x[1], 2, gray_predictor, channels_last=False)
    np.testing.assert_allclose(together[1], alone, atol=1e-5)


def test_rgb_model_accepts_gray_frames():
    torch.manual_seed(0)
    p = FramePredictor(EncoderForecaster(ModelConfig(in_chs=3, stem_chs=4, stage_chs=(4, 4))))
    assert predict_array(np.zeros((4, 8, 8), np.uint8), 2, p).shape == (2, 8, 8)
    assert predict_array(np.zeros((4, 8, 8, 3), np.uint8), 2, p).shape == (2, 8, 8, 3)


@pytest.mark.parametrize(
    "array, message",
    [
        (np.zeros((5, 8), np.uint8), "rank 3 to 5"),
        (np.zeros((1, 2, 3, 4, 5, 6), np.uint8), "rank 3 to 5"),
        (np.zeros((5, 8, 8), np.int32), "uint8 or float"),
        (np.full((5, 8, 8), 2.0), r"\[0, 1\]"),
        (np.full((5, 8, 8), np.nan), "NaN"),
        (np.zeros((0, 8, 8), np.uint8), "empty"),
    ],
)
def test_bad_arrays_are_clear_errors(gray_predictor, array, message):
    with pytest.raises(InputShapeError, match=message):
        predict_array(array, 2, gray_predictor)


def test_horizon_must_be_positive(gray_predictor):
    with pytest.raises(InputShapeError, match="horizon"):
        predict_array(np.zeros((3, 8, 8), np.uint8), 0, gray_predictor)
