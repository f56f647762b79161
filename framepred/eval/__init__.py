"""Evaluation: on footage, on Moving MNIST, the metrics, plots and comparison strips."""
