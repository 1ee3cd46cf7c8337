"""Rotations: three or more agents each moving into the cell the next one leaves, in a ring.

POGEMA allows them, and so does every resolution by default. On real robots a follower waits
until the robot ahead has arrived (:func:`marlgpt_planner.lockstep.followed`), which a ring
cannot do: every robot of it moves at once, and their bodies meet where the cells' corners
do. A fleet of real robots therefore settles steps without them (``fleet_protocol.rotations:
false``, ``marlgpt eval --no-rotations``):

* PIBT (the shield, the sequential resolution and their search) treats a move that would
  close a ring as taken (:func:`closes_rotation`): the agent tries its next action, as for
  any other taken cell, so the step it picks is the best one without a ring;
* the soft rule cancels each ring's moves (:func:`without_rotations`);
* the last check of a sequential step refuses any ring that is left (:func:`rings`).

Pure Python + numpy, Python >= 3.8.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

Cell = Tuple[int, int]


def closes_rotation(mover: int, cell: Cell, occupant: Dict[Cell, int],
                    nxt: Sequence[Optional[Cell]]) -> bool:
    """Whether ``mover`` entering ``cell`` closes a ring, given the moves chosen so far.

    Args:
        mover: the agent choosing its move.
        cell: the cell it would enter.
        occupant: each agent's cell at the start of the step -> the agent.
        nxt: per agent, its chosen next cell (None while not chosen).

    Follows the chain of agents ahead: the one standing on ``cell``, the one standing on the
    cell that one moves into, and so on, until the chain ends (an empty cell, an agent that
    stays or has not chosen yet) or comes back to ``mover``. A swap is a ring of two, which
    PIBT refuses anyway.
    """
    ahead = occupant.get(cell)
    if ahead is None or ahead == mover:  # an empty cell, or a wait
        return False
    for _ in range(len(nxt)):
        target = nxt[ahead]
        if target is None:  # not chosen yet: its own choice is checked when it comes
            return False
        further = occupant.get(target)
        if further is None or further == ahead:  # into an empty cell, or it stays
            return False
        if further == mover:
            return True
        ahead = further
    return False


def rings(positions: np.ndarray, next_cells: np.ndarray) -> List[List[int]]:
    """The rings of a joint step (each a list of agents, three or more, in ring order): agents
    each moving into the start cell of the next, the last into the first's."""
    pos = [(int(r), int(c)) for r, c in np.asarray(positions).reshape(-1, 2).tolist()]
    nxt = [(int(r), int(c)) for r, c in np.asarray(next_cells).reshape(-1, 2).tolist()]
    occupant = {cell: i for i, cell in enumerate(pos)}
    state = [0] * len(pos)  # 0: not visited, 1: on the current path, 2: done
    found: List[List[int]] = []
    for start in range(len(pos)):
        path: List[int] = []
        i: Optional[int] = start
        while i is not None and state[i] == 0:
            state[i] = 1
            path.append(i)
            i = occupant.get(nxt[i]) if nxt[i] != pos[i] else None
        if i is not None and state[i] == 1:
            ring = path[path.index(i):]
            if len(ring) >= 3:
                found.append(ring)
        for k in path:
            state[k] = 2
    return found


def without_rotations(positions: np.ndarray, next_cells: np.ndarray) -> np.ndarray:
    """``next_cells`` with every ring's agents staying. In a step without shared cells nobody
    else enters a ring's cells (each is entered by the ring member behind it), so the step
    stays without shared cells."""
    after = np.asarray(next_cells, dtype=np.int64).reshape(-1, 2).copy()
    for ring in rings(positions, after):
        after[ring] = np.asarray(positions, dtype=np.int64).reshape(-1, 2)[ring]
    return after
