"""Python face of the C++ PIBT expert: (row, col) arrays in, POGEMA actions out."""
from typing import Tuple

import numpy as np

from marlgpt_planner.actions import DELTAS, WAIT
from marlgpt_planner.expert import native

#: The expert's search by default: candidate first steps per step, rollout length, priority
#: jitter (chosen on the first 8 instances of both benchmark sets; docs/expert.md).
CANDIDATES, HORIZON, NOISE = 16, 6, 8.0
#: Its windowed LNS by default: steps planned jointly, improvement rounds per step, agents
#: replanned per round (docs/expert.md; iterations 0: no LNS, the search's step as it is).
WINDOW, ITERATIONS, GROUP = 16, 200, 16

_ERRORS = {1: "an agent position is off the map or on an obstacle",
           2: "a goal is off the map or on an obstacle",
           3: "two agents occupy the same cell"}


class PibtExpert:
    """Lifelong PIBT on one map. Call :meth:`step` once per time step, in order.

    With ``candidates`` > 1 and ``horizon`` > 1 every step is a small search: the plain PIBT
    step and ``candidates - 1`` PIBT steps with priorities jittered by up to ``noise`` are each
    rolled out ``horizon`` steps with PIBT, and the first step whose rollout brings the agents
    closest to their goals (sum over agents of the best distance reached) is taken.
    ``candidates=1, horizon=1`` is plain PIBT.

    Then windowed LNS (``iterations`` > 0): the step chosen, rolled out with PIBT, is the
    first step of a joint plan of every agent's next ``window`` steps; ``iterations`` times,
    ``group`` agents (an agent that loses much against its free path and its neighbours, or
    a random set) are replanned one by one by space-time A* around the others' plans, and the
    new plan is kept if its cost falls (each agent: the step it arrives, or ``window`` plus its
    distance left). The plan's first step is taken.

    Priorities persist between calls: an agent's priority grows every step until its goal
    changes, so the expert must see one episode's steps in sequence.
    """

    def __init__(self, obstacles: np.ndarray, seed: int = 0, candidates: int = CANDIDATES,
                 horizon: int = HORIZON, noise: float = NOISE, max_fields: int = 4096,
                 window: int = WINDOW, iterations: int = ITERATIONS, group: int = GROUP) -> None:
        self._lib = native.load()
        obstacles = np.ascontiguousarray(obstacles, dtype=np.uint8)
        self.shape: Tuple[int, int] = obstacles.shape  # type: ignore[assignment]
        self._handle = self._lib.mg_expert_new(obstacles.shape[0], obstacles.shape[1],
                                               obstacles.ctypes.data, seed, max_fields)
        self._lib.mg_expert_set_search(self._handle, candidates, horizon, noise)
        self._lib.mg_expert_set_lns(self._handle, window, iterations, group)

    def __del__(self) -> None:
        handle = getattr(self, "_handle", None)
        if handle:
            self._lib.mg_expert_free(handle)
            self._handle = None

    def resume(self, goals: np.ndarray, ages: np.ndarray) -> None:
        """Take over an episode under way: agent i has held ``goals[i]`` for ``ages[i]``
        steps (:class:`marlgpt_planner.shield.GoalAges`), so the next :meth:`step` ranks the
        agents by those ages, as if this expert had run the episode from its start."""
        goals = np.asarray(goals).reshape(-1, 2)
        flat = np.ascontiguousarray(goals[:, 0] * self.shape[1] + goals[:, 1], dtype=np.int32)
        age = np.ascontiguousarray(ages, dtype=np.int32).reshape(-1)
        if len(age) != len(flat):
            raise ValueError(f"{len(flat)} goals but {len(age)} ages")
        self._lib.mg_expert_resume(self._handle, len(flat), flat.ctypes.data, age.ctypes.data)

    def next_cells(self, positions: np.ndarray, goals: np.ndarray) -> np.ndarray:
        """(N, 2) next cells: no shared cells, no swaps."""
        width = self.shape[1]
        pos = np.ascontiguousarray(positions[:, 0] * width + positions[:, 1], dtype=np.int32)
        goal = np.ascontiguousarray(goals[:, 0] * width + goals[:, 1], dtype=np.int32)
        out = np.empty(len(pos), dtype=np.int32)
        code = self._lib.mg_expert_step(self._handle, len(pos), pos.ctypes.data, goal.ctypes.data,
                                        out.ctypes.data)
        if code:
            raise ValueError(f"expert refused the state: {_ERRORS.get(code, code)}")
        return np.stack([out // width, out % width], axis=1).astype(np.int64)

    def step(self, positions: np.ndarray, goals: np.ndarray) -> np.ndarray:
        """(N,) POGEMA actions that take each agent to its next cell."""
        delta = self.next_cells(positions, goals) - positions
        actions = np.full(len(delta), WAIT, dtype=np.int64)
        for action in range(1, len(DELTAS)):
            actions[(delta == DELTAS[action]).all(axis=1)] = action
        return actions

    def distances(self, goal: Tuple[int, int]) -> np.ndarray:
        """The expert's BFS distance field of ``goal`` (for tests and the encoder's cache)."""
        out = np.empty(self.shape[0] * self.shape[1], dtype=np.int32)
        self._lib.mg_expert_distances(self._handle, goal[0] * self.shape[1] + goal[1],
                                      out.ctypes.data)
        return out.reshape(self.shape)
