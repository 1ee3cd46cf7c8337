"""The MARL-GPT model (PyTorch) and its losses."""
