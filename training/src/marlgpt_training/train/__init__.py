"""Training: configuration, checkpoints and the training loop."""
