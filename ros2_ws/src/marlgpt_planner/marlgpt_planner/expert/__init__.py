"""The lifelong MAPF expert: PIBT with a rollout search and windowed LNS, in C++ through ctypes.

One implementation serves both sides: the training data's expert (``marlgpt generate``,
``marlgpt eval --policy expert``, delta labels) and the fleet coordinator, which plans a
whole fleet's step on a fleet computer (``fleet_protocol.resolution: central``,
:mod:`marlgpt_planner.ros.coordinator`). :class:`PibtExpert` is its face
(:mod:`~marlgpt_planner.expert.pibt`); :mod:`~marlgpt_planner.expert.native` compiles
``pibt.cpp`` with the system's g++ on first use. Python >= 3.8, numpy.
"""
from marlgpt_planner.expert.pibt import PibtExpert

__all__ = ["PibtExpert"]
