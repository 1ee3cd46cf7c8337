"""The policy's part of a step, as pure logic: the fleet's state -> each robot's ranking.

One batched policy call for the robots a planner drives, on the whole fleet's state (every
planner sees every robot), through the encoder of the current map with lost robots' cells
closed. Python >= 3.8, numpy; unit-tested in tests/test_decisions.py.
"""
from typing import Iterable, List, Optional, Sequence, Tuple

import numpy as np

from marlgpt_planner.encoder import Encoder, GridState
from marlgpt_planner.goals import goal_problem
from marlgpt_planner.grid import neighbour_distances
from marlgpt_planner.lockstep import LockStep
from marlgpt_planner.policy import ModelError, RuntimePolicy, encoder_expectation

Cell = Tuple[int, int]


class Decider:
    """Rankings of actions for a planner's robots (see the module doc)."""

    def __init__(self, policy: RuntimePolicy) -> None:
        self.policy = policy
        self.encoder: Optional[Encoder] = None
        self._obstacles: Optional[np.ndarray] = None

    def check(self, shape: Tuple[int, int]) -> None:
        """Refuse a model that cannot read what this encoder writes (ModelError), at start."""
        try:
            encoder = Encoder.from_layout(np.zeros(shape, bool), self.policy.metadata)
        except ValueError as exc:
            raise ModelError(str(exc)) from None
        self.policy.check(encoder_expectation(encoder))

    def encoder_for(self, obstacles: np.ndarray, closed: Iterable[Cell],
                    occupied: Iterable[Cell]) -> Encoder:
        """The encoder of ``obstacles`` with ``closed`` cells (lost robots) shut and the
        ``occupied`` cells (live robots: a noisy map may mark them) open; rebuilt only when
        that grid changes."""
        grid = obstacles.copy()
        rows, cols = grid.shape
        for cell in closed:
            if 0 <= cell[0] < rows and 0 <= cell[1] < cols:
                grid[tuple(cell)] = True
        for cell in occupied:
            grid[tuple(cell)] = False
        if self.encoder is None or not np.array_equal(grid, self._obstacles):
            self.encoder = Encoder.from_layout(grid, self.policy.metadata)
            self._obstacles = grid
        return self.encoder

    def rankings(self, fleet: LockStep, obstacles: np.ndarray, robot_ids: Sequence[str]
                 ) -> List[List[int]]:
        """Each of ``robot_ids``' actions, best first (under a rule that does not rank: just
        the chosen action), for the step ``fleet`` has started, by the fleet's step rule."""
        positions, goals, history, ages = fleet.grid_state()
        encoder = self.encoder_for(obstacles, fleet.lost_cells,
                                   [fleet.positions[r] for r in fleet.live])
        # A goal this planner's map cannot hold (another robot's, on a cell the map has just
        # closed) is encoded as that robot's own cell rather than failing the whole step.
        for i, goal in enumerate(goals):
            if goal_problem(goal, encoder.fields.obstacles) is not None:
                goals[i] = positions[i]
        order = {robot: i for i, robot in enumerate(fleet.live)}
        rows = [order[r] for r in robot_ids]
        observation = encoder.encode(GridState(positions, goals, history, ages))
        values, mask = observation.values[rows], observation.action_mask[rows]
        rule = fleet.rule
        path_left = neighbour_distances(encoder.fields, positions[rows], goals[rows]) \
            if rule.path_weight else None
        return rule.choose(self.policy.logits(values), mask, self.policy.sample,
                           self.policy.rng, path_left)
