"""Networks: recurrent cells, the encoder-forecaster, and its heads."""

from framepred.models.cells import ConvLSTM, ConvLSTMCell, ConvRNNCell
from framepred.models.encoder_forecaster import EncoderForecaster, ModelConfig

__all__ = ["ConvLSTM", "ConvLSTMCell", "ConvRNNCell", "EncoderForecaster", "ModelConfig"]
