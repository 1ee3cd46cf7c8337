"""The experts whose actions the datasets record, one module per environment.

- :class:`PibtExpert`: the lifelong MAPF expert (PIBT with rollout search and windowed LNS,
  in C++ through ctypes). It lives with the robot runtime, :mod:`marlgpt_planner.expert`,
  because the fleet coordinator plans with it too; it is re-exported here;
- :mod:`~marlgpt_training.expert.foraging`: the Level-Based Foraging team heuristic;
- :mod:`~marlgpt_training.expert.football`: the scripted Google Research Football expert.
"""
from marlgpt_planner.expert import PibtExpert, pibt

__all__ = ["PibtExpert", "pibt"]
