"""Prediction: predictors that run a network on arrays, the video forecasters, the .npy contract, the video job."""
