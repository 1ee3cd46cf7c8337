"""The MARL-GPT model (PyTorch), its losses and its checkpoints."""
