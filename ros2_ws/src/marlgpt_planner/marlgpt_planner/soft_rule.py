"""POGEMA's ``soft`` collision rule: which intended moves of one synchronous step happen.

All agents act at once; agents are numbered, and the numbering matters. In POGEMA 1.4.0:

1. Swaps: when two agents try to trade cells, the lower-numbered one is cancelled (it waits),
   which then cancels the other in step 2.
2. Cells claimed by more than one agent are settled from the highest-numbered agent down:
   while a cell has more than one claimant, the agent being looked at gives up its move and
   returns to its own cell. So among movers into a free cell the lowest-numbered one gets it,
   and nobody enters a cell whose occupant stays. A returning agent cancels, in turn, the first
   agent that tried to move into its cell, and so on down the chain. Moves onto obstacles or
   off the map are cancelled the same way.
3. Following (moving into a cell its occupant leaves in the same step) and rotations are allowed.

This module reproduces that outcome exactly (a test compares it with POGEMA on random crowded
steps). Every robot of a fleet runs it on the same inputs, numbered in the same order, and so
reaches the same outcome; the simulator and the data generator use it too.
Pure numpy/stdlib, Python >= 3.8.
"""
from typing import Dict, List, Optional, Tuple

import numpy as np

Cell = Tuple[int, int]


def resolve(positions: np.ndarray, intended: np.ndarray,
            obstacles: Optional[np.ndarray] = None) -> Tuple[np.ndarray, np.ndarray]:
    """Apply the soft rule to one step.

    Args:
        positions: (N, 2) int cells (row, col) at the start of the step, all distinct; row i
            is agent i.
        intended: (N, 2) int cells each agent tries to reach (its own cell for a wait).
        obstacles: optional (H, W) bool map; moves onto obstacles or off it are cancelled.

    Returns:
        (next_positions (N, 2), moved (N,) bool): where every agent ends the step, and whether
        it changed cell.
    """
    pos = [(int(r), int(c)) for r, c in np.asarray(positions).reshape(-1, 2).tolist()]
    target = [(int(r), int(c)) for r, c in np.asarray(intended).reshape(-1, 2).tolist()]
    n = len(pos)
    if n != len(target):
        raise ValueError(f"{n} positions but {len(target)} intended cells")
    if len(set(pos)) != n:
        raise ValueError("two agents start on the same cell")

    def blocked(cell: Cell) -> bool:
        if obstacles is None:
            return False
        r, c = cell
        return not (0 <= r < obstacles.shape[0] and 0 <= c < obstacles.shape[1]) \
            or bool(obstacles[r, c])

    claims: Dict[Cell, List[int]] = {}
    for i in range(n):
        claims.setdefault(target[i], []).append(i)

    def stay(i: int) -> None:
        claims[target[i]].remove(i)
        target[i] = pos[i]

    # 1. Swaps. POGEMA marks each directed edge with the agent that last set it; a mover also
    # marks the reverse edge. An agent whose own edge carries two marks is cancelled.
    edges: Dict[Tuple[Cell, Cell], List[int]] = {}
    for i in range(n):
        edges[pos[i], target[i]] = [i]
        if target[i] != pos[i]:
            edges.setdefault((target[i], pos[i]), []).append(i)
    for i in range(n):
        if len(edges[pos[i], target[i]]) > 1:
            stay(i)
            claims.setdefault(pos[i], []).append(i)

    # 2. Shared or blocked cells, from the highest-numbered agent down, with cascades.
    for i in reversed(range(n)):
        cell = target[i]
        if len(claims[cell]) <= 1 and not blocked(cell):
            continue
        while True:
            stay(i)
            waiting = claims.setdefault(pos[i], [])
            waiting.append(i)
            if len(waiting) == 1:
                break
            i = waiting[0]  # the first agent that tried to enter this cell goes back too

    next_positions = np.array(target, dtype=np.int64).reshape(-1, 2)
    moved = np.array([t != p for t, p in zip(target, pos)], dtype=bool)
    return next_positions, moved
