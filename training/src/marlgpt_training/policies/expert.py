"""``expert``: the centralized lifelong PIBT expert as an evaluation policy."""
import numpy as np

from marlgpt_planner.encoder import GridState
from marlgpt_training.expert import PibtExpert
from marlgpt_training.policies.base import Policy


class ExpertPolicy(Policy):
    """Centralized: plans every agent's move jointly from the full state (PIBT)."""

    name = "expert"

    def reset(self, obstacles, num_agents, seed=0, fields=None) -> None:
        super().reset(obstacles, num_agents, seed, fields)
        self.expert = PibtExpert(obstacles, seed=seed)

    def act(self, state: GridState) -> np.ndarray:
        return self.expert.step(np.asarray(state.positions), np.asarray(state.goals))
