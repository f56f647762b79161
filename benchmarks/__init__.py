"""Scripts that produce the figures in docs/: run each as `python -m benchmarks.NAME`."""
