"""Centralized expert policies: the lifelong PIBT expert, with and without its search."""
import numpy as np

from marlgpt_planner.encoder import GridState
from marlgpt_training.expert import PibtExpert, pibt
from marlgpt_training.policies.base import GridPolicy


class ExpertPolicy(GridPolicy):
    """``expert``: PIBT with rollout search (see :class:`PibtExpert`), all agents jointly."""

    name = "expert"
    candidates, horizon, noise = pibt.CANDIDATES, pibt.HORIZON, pibt.NOISE

    def reset(self, obstacles, num_agents, seed=0, fields=None) -> None:
        super().reset(obstacles, num_agents, seed, fields)
        self.expert = PibtExpert(obstacles, seed=seed, candidates=self.candidates,
                                 horizon=self.horizon, noise=self.noise)

    def act(self, state: GridState) -> np.ndarray:
        return self.expert.step(np.asarray(state.positions), np.asarray(state.goals))


class PibtPolicy(ExpertPolicy):
    """``pibt``: plain lifelong PIBT (one pass per step, no search)."""

    name = "pibt"
    candidates, horizon = 1, 1
