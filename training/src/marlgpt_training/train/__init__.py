"""Training: configuration and the training loop (checkpoints: ``marlgpt_training.model``)."""
