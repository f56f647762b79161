"""Tools that make samples or fetch clips: run each as `python -m scripts.NAME`."""
