"""POGEMA's action set, the one contract every part of the fleet speaks.

POGEMA steps all agents at once with actions ``0 wait, 1 up (row-1), 2 down (row+1),
3 left (col-1), 4 right (col+1)``; the planner, the encoder, the simulator and the fleet
protocol (``marlgpt_msgs/RobotState.action``) all use these indices.
"""
from typing import Tuple

import numpy as np

WAIT, UP, DOWN, LEFT, RIGHT = 0, 1, 2, 3, 4
NAMES = ("wait", "up", "down", "left", "right")
NUM_ACTIONS = len(NAMES)

#: (d_row, d_col) per action index, as an int array of shape (5, 2).
DELTAS = np.array([(0, 0), (-1, 0), (1, 0), (0, -1), (0, 1)], dtype=np.int64)


def apply(cell: Tuple[int, int], action: int) -> Tuple[int, int]:
    """The cell reached from ``cell`` by ``action``, ignoring obstacles and other agents."""
    if not 0 <= action < NUM_ACTIONS:
        raise ValueError(f"action must be in 0..{NUM_ACTIONS - 1}, got {action!r}")
    d_row, d_col = DELTAS[action]
    return int(cell[0] + d_row), int(cell[1] + d_col)


def between(src: Tuple[int, int], dst: Tuple[int, int]) -> int:
    """The action that moves from ``src`` to the 4-neighbour or identical cell ``dst``."""
    delta = (dst[0] - src[0], dst[1] - src[1])
    for action, (d_row, d_col) in enumerate(DELTAS.tolist()):
        if (d_row, d_col) == delta:
            return action
    raise ValueError(f"cells {src!r} and {dst!r} are not 4-neighbours")


def moves(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """(N,) the action each agent's change of cell amounts to (wait where it did not move).

    ``before`` and ``after`` are (N, 2) cells; every change must be one 4-neighbour step.
    """
    delta = np.asarray(after) - np.asarray(before)
    out = np.full(len(delta), WAIT, dtype=np.int64)
    matched = (delta == 0).all(axis=1)
    for action in range(1, NUM_ACTIONS):
        hit = (delta == DELTAS[action]).all(axis=1)
        out[hit] = action
        matched |= hit
    if not matched.all():
        raise ValueError(f"agents {np.flatnonzero(~matched).tolist()} moved more than one cell")
    return out
