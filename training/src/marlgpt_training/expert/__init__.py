"""The centralized lifelong MAPF expert (PIBT in C++, loaded through ctypes)."""
from marlgpt_training.expert.pibt import PibtExpert

__all__ = ["PibtExpert"]
