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
