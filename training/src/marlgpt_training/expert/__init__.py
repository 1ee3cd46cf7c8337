"""The experts whose actions the datasets record, one module per environment.

- :mod:`~marlgpt_training.expert.pibt`: the centralized lifelong MAPF expert (PIBT with
  rollout search, in C++ loaded through ctypes: :mod:`~marlgpt_training.expert.native`);
- :mod:`~marlgpt_training.expert.foraging`: the Level-Based Foraging team heuristic;
- :mod:`~marlgpt_training.expert.football`: the scripted Google Research Football expert.
"""
from marlgpt_training.expert.pibt import PibtExpert

__all__ = ["PibtExpert"]
