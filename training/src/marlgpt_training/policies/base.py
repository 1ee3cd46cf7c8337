"""The interface every evaluated policy implements."""
from typing import Optional

import numpy as np

from marlgpt_planner.actions import NUM_ACTIONS, WAIT
from marlgpt_planner.encoder import GridState
from marlgpt_planner.grid import DistanceFields


class GridPolicy:
    """Chooses every agent's POGEMA action from the full grid state, once per step.

    Decentralized policies use only what each agent could observe (its own goal, cells and
    agents within ``radius``); centralized ones (an expert) may use everything.
    """

    name = "policy"
    #: Observation radius the policy needs distance fields padded by.
    radius = 1

    def reset(self, obstacles: np.ndarray, num_agents: int, seed: int = 0,
              fields: Optional[DistanceFields] = None) -> None:
        """Start an episode on a map; ``fields`` is a distance-field cache to share."""
        self.obstacles = obstacles
        self.fields = fields if fields is not None else DistanceFields(obstacles, pad=self.radius)
        self.rng = np.random.default_rng(seed)

    def act(self, state: GridState) -> np.ndarray:
        """(N,) int actions in POGEMA's order: 0 wait, 1 up, 2 down, 3 left, 4 right."""
        raise NotImplementedError

    def preferences(self, state: GridState) -> np.ndarray:
        """(N, 5) scores whose descending order is each agent's ranking of its actions, read
        by the collision shield (``marlgpt eval --resolution shield``); ``-inf`` never.

        By default: the action :meth:`act` chooses, then wait, then the other moves.
        """
        actions = np.asarray(self.act(state), dtype=np.int64)
        scores = np.zeros((len(actions), NUM_ACTIONS))
        scores[:, WAIT] = 0.5
        scores[np.arange(len(actions)), actions] = 1.0
        return scores
