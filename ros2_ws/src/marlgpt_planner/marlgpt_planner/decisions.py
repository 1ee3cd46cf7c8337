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
from marlgpt_planner.lockstep import LockStep, Turn
from marlgpt_planner.policy import ModelError, RuntimePolicy, encoder_expectation
from marlgpt_planner.sequential import AskInTurn
from marlgpt_planner.step_rule import StepRule

Cell = Tuple[int, int]


class Decider:
    """Rankings of actions for a planner's robots (see the module doc)."""

    def __init__(self, policy: RuntimePolicy) -> None:
        self.policy = policy
        self.encoder: Optional[Encoder] = None
        self._obstacles: Optional[np.ndarray] = None
        self._observed: Optional[tuple] = None  # (key, what _observe gave): one per step

    def check(self, shape: Tuple[int, int], rule: Optional[StepRule] = None) -> None:
        """Refuse a model that cannot read what this encoder writes, or cannot act under
        ``rule`` (ModelError), at start."""
        try:
            encoder = Encoder.from_layout(np.zeros(shape, bool), self.policy.metadata)
            if rule is not None:
                rule.refuse_model(encoder.version, str(self.policy.path))
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
        encoder, state, observation, path_left = self._observe(fleet, obstacles)
        order = {robot: i for i, robot in enumerate(fleet.live)}
        rows = [order[r] for r in robot_ids]
        values, mask = observation.values[rows], observation.action_mask[rows]
        path_left = None if path_left is None else path_left[rows]
        return fleet.rule.choose(self.policy.logits(values), mask, self.policy.sample,
                                 self.policy.rng, path_left)

    def rankings_in_turn(self, fleet: LockStep, obstacles: np.ndarray, turn: Turn,
                         robot_ids: Sequence[str]) -> List[List[int]]:
        """The rankings of ``robot_ids`` (this planner's robots named by ``turn``) under the
        sequential resolution: knowing the claims ``turn`` says each of them sees."""
        encoder, state, observation, path_left = self._observe(fleet, obstacles)
        ask = AskInTurn(encoder, observation, state.positions, self.policy.logits,
                        fleet.rule.choose, self.policy.sample, self.policy.rng, path_left)
        wanted = set(robot_ids)
        picks = [k for k, robot in enumerate(turn.robot_ids) if robot in wanted]
        got = ask([turn.rows[k] for k in picks], turn.next_cells, turn.known[picks])
        by_robot = dict(zip([turn.robot_ids[k] for k in picks], got))
        return [by_robot[r] for r in robot_ids]

    def _observe(self, fleet: LockStep, obstacles: np.ndarray):
        """The step's encoder, state, encoding and (with a path weight) path lengths; encoded
        once per step and grid (the sequential resolution asks several times a step)."""
        positions, goals, history, ages = fleet.grid_state()
        encoder = self.encoder_for(obstacles, fleet.lost_cells,
                                   [fleet.positions[r] for r in fleet.live])
        key = (fleet.step, tuple(fleet.live), id(encoder))
        if self._observed is not None and self._observed[0] == key:
            return self._observed[1]
        # A goal this planner's map cannot hold (another robot's, on a cell the map has just
        # closed) is encoded as that robot's own cell rather than failing the whole step.
        for i, goal in enumerate(goals):
            if goal_problem(goal, encoder.fields.obstacles) is not None:
                goals[i] = positions[i]
        state = GridState(positions, goals, history, ages)
        path_left = neighbour_distances(encoder.fields, positions, goals) \
            if fleet.rule.path_weight else None
        observed = (encoder, state, encoder.encode(state), path_left)
        self._observed = (key, observed)
        return observed
