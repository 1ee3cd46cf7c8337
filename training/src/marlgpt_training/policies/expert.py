"""Centralized expert policies: the lifelong PIBT expert with its search and windowed LNS.

``--policy expert`` runs the expert with its defaults; ``--policy expert:window=16,
iterations=200`` changes settings (:data:`SETTINGS`); ``--policy pibt`` is plain PIBT.
"""
from typing import Dict, Union

import numpy as np

from marlgpt_planner.encoder import GridState
from marlgpt_planner.expert import PibtExpert, pibt
from marlgpt_training.policies.base import GridPolicy

#: The expert's settings a policy spec may change, with their type and least value.
SETTINGS: Dict[str, tuple] = {
    "candidates": (int, 1), "horizon": (int, 1), "noise": (float, 0.0),
    "window": (int, 0), "iterations": (int, 0), "group": (int, 1),
}


def parse_settings(text: str) -> Dict[str, Union[int, float]]:
    """``"window=16,iterations=200"`` as settings; a ValueError naming what is wrong."""
    settings: Dict[str, Union[int, float]] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, equals, value = item.partition("=")
        if key not in SETTINGS or not equals:
            raise ValueError(f"expert setting {item!r}: expected NAME=VALUE with NAME one of "
                             f"{', '.join(SETTINGS)}")
        kind, least = SETTINGS[key]
        try:
            settings[key] = kind(value)
        except ValueError:
            raise ValueError(f"expert setting {key}: {value!r} is not "
                             f"{'an integer' if kind is int else 'a number'}") from None
        if settings[key] < least:
            raise ValueError(f"expert setting {key}: {value} is below {least}")
    return settings


class ExpertPolicy(GridPolicy):
    """``expert``: PIBT with rollout search and windowed LNS (see :class:`PibtExpert`), all
    agents jointly; keyword settings override the defaults."""

    name = "expert"
    candidates, horizon, noise = pibt.CANDIDATES, pibt.HORIZON, pibt.NOISE
    window, iterations, group = pibt.WINDOW, pibt.ITERATIONS, pibt.GROUP

    def __init__(self, **settings: Union[int, float]) -> None:
        for key, value in settings.items():
            if key not in SETTINGS:
                raise ValueError(f"unknown expert setting {key!r}")
            setattr(self, key, value)

    def reset(self, obstacles, num_agents, seed=0, fields=None) -> None:
        super().reset(obstacles, num_agents, seed, fields)
        self.expert = PibtExpert(obstacles, seed=seed, candidates=self.candidates,
                                 horizon=self.horizon, noise=self.noise, window=self.window,
                                 iterations=self.iterations, group=self.group)

    def act(self, state: GridState) -> np.ndarray:
        return self.expert.step(np.asarray(state.positions), np.asarray(state.goals))


class PibtPolicy(ExpertPolicy):
    """``pibt``: plain lifelong PIBT (one pass per step, no search, no LNS)."""

    name = "pibt"
    candidates, horizon, iterations = 1, 1, 0
