"""The collision shield: one synchronous step chosen by PIBT over each agent's ranked actions.

Under POGEMA's soft rule (:mod:`marlgpt_planner.soft_rule`) an agent whose move conflicts simply
waits, so in a dense fleet two robots facing each other wait forever. The shield instead takes
every agent's *ranking* of its actions (best first, from the policy's probabilities) and picks
the joint step with Priority Inheritance with Backtracking (PIBT, Okumura et al. 2019):

* agents are served by priority: the one whose current goal is oldest (most steps since its
  goal last changed) first, ties by agent number (lower first);
* an agent takes the first action of its ranking whose cell nobody has reserved and that is
  not a swap with the agent standing there;
* if that cell's occupant has not been served yet, it inherits the priority and must step
  aside (it tries its own ranking, minus its current cell); if it cannot, the mover tries
  its next action, and an agent with no action left stays where it is.

No two agents end in one cell and no two swap; rotations and following (entering a cell its
occupant leaves in the same step) happen, as POGEMA's soft rule allows them, so POGEMA applies
a shielded step unchanged. With ``rotations=False`` a move that would close a ring of agents
is treated as taken (:mod:`marlgpt_planner.rotations`: what real robots need). The outcome
depends only on the positions, the rankings and the goal ages, so every robot of a fleet
computes the same step from the same broadcast inputs. Moves onto obstacles are the rankings'
business: drop them from a ranking (the encoder's action mask does).
Pure Python + numpy, Python >= 3.8.
"""
from typing import Dict, Hashable, List, Optional, Sequence, Tuple

import numpy as np

from marlgpt_planner.actions import DELTAS
from marlgpt_planner.rankings import clean_ranking
from marlgpt_planner.rotations import closes_rotation

Cell = Tuple[int, int]


class GoalAges:
    """Steps since each agent's goal last changed: PIBT's priority (oldest goal first).

    Call :meth:`update` once per step with every agent's current goal; agents are any
    hashable keys (indices in ``marlgpt eval``, robot ids in the fleet).
    """

    def __init__(self) -> None:
        self._goal: Dict[Hashable, Cell] = {}
        self._age: Dict[Hashable, int] = {}

    def update(self, keys: Sequence[Hashable], goals: Sequence[Sequence[int]]) -> List[int]:
        """Record this step's goals; returns the ages of ``keys`` in order."""
        for key, goal in zip(keys, goals):
            goal = (int(goal[0]), int(goal[1]))
            same = self._goal.get(key) == goal
            self._age[key] = self._age.get(key, 0) + 1 if same else 0
            self._goal[key] = goal
        return [self._age[key] for key in keys]


def shield(positions: np.ndarray, rankings: Sequence[Sequence[int]],
           ages: Sequence[int], rotations: bool = True) -> np.ndarray:
    """Next cells (N, 2) of one shielded step.

    Args:
        positions: (N, 2) distinct int cells (row, col); row i is agent i.
        rankings: per agent, its actions best first (see
            :func:`marlgpt_planner.rankings.rank`); actions left out are never taken. An empty
            ranking means the agent can only stay.
        ages: per agent, steps since its goal changed (:class:`GoalAges`); higher goes first
            (any real numbers: the search jitters them).
        rotations: whether three or more agents may move round a ring in one step.
    """
    pos = [(int(r), int(c)) for r, c in np.asarray(positions).reshape(-1, 2).tolist()]
    n = len(pos)
    if len(rankings) != n or len(ages) != n:
        raise ValueError(f"{n} positions, {len(rankings)} rankings and {len(ages)} ages")
    occupant: Dict[Cell, int] = {cell: i for i, cell in enumerate(pos)}
    if len(occupant) != n:
        raise ValueError("two agents start on the same cell")
    deltas = DELTAS.tolist()
    candidates = [[(pos[i][0] + deltas[a][0], pos[i][1] + deltas[a][1])
                   for a in clean_ranking(rankings[i])] for i in range(n)]
    nxt: List[Optional[Cell]] = [None] * n
    reserved: Dict[Cell, int] = {}

    def serve(i: int) -> bool:
        for cell in candidates[i]:
            if cell in reserved:
                continue
            j = occupant.get(cell)
            if j is not None and j != i and nxt[j] == pos[i]:
                continue  # j is moving into i's cell: this would be a swap
            if not rotations and closes_rotation(i, cell, occupant, nxt):
                continue
            nxt[i] = cell
            reserved[cell] = i
            if j is not None and j != i and nxt[j] is None and not serve(j):
                continue  # j could not step aside (it now stays in ``cell``)
            return True
        nxt[i] = pos[i]
        reserved[pos[i]] = i
        return False

    for i in sorted(range(n), key=lambda k: (-float(ages[k]), k)):
        if nxt[i] is None:
            serve(i)
    return np.array(nxt, dtype=np.int64).reshape(-1, 2)

