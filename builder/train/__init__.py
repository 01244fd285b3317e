"""One training run: trainer, callbacks, trackers."""
