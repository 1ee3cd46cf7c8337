"""Rollout search over shielded steps: the expert's lookahead, run the same way by every robot.

The collision shield (:mod:`marlgpt_planner.shield`) turns the policy's rankings into one
joint step. With search, the step is chosen among ``candidates`` joint steps: the plain
shielded step first, then shielded steps with every agent's priority jittered by up to
``jitter`` (PIBT then serves the agents in another order), every other one over the policy's
rankings and the rest over plain PIBT's (moves by the path length they leave, free cells
first; only moves the policy's ranking allows), so the search weighs the policy's ideas
against PIBT's own. Each candidate is rolled out ``horizon - 1`` more steps of plain PIBT and
scored as the expert scores its candidates: the path length every agent gains at best within
the window, plus ``horizon - t`` for an agent that arrives at step t (after which it yields).
The best candidate wins, the plain step on ties, so the search changes the policy's step only
when its rollout says the change pays.

Everything is a function of the map, the positions, goals, rankings, goal ages and a seed (the
step number), so every planner of a fleet that has the same map and receives the same
proposals computes the same step (:meth:`marlgpt_planner.lockstep.LockStep.resolve` checks the
map).
Pure Python + numpy, Python >= 3.8.
"""
from typing import List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from marlgpt_planner.actions import DELTAS
from marlgpt_planner.grid import (
    UNREACHABLE,
    DistanceFields,
    neighbour_distances,
    occupied_targets,
)
from marlgpt_planner.rankings import rank
from marlgpt_planner.shield import shield

#: The expert's search settings (docs/expert.md): candidates, rollout length, priority jitter.
CANDIDATES, HORIZON, JITTER = 16, 6, 8.0


class Search(NamedTuple):
    """How many candidate steps to try and how far to roll each out (1 candidate: no search),
    and whether the candidates and rollouts may move agents round a ring
    (:mod:`marlgpt_planner.rotations`)."""

    candidates: int = CANDIDATES
    horizon: int = HORIZON
    jitter: float = JITTER
    rotations: bool = True

    def check(self) -> "Search":
        if self.candidates < 1 or self.horizon < 1 or self.jitter < 0:
            raise ValueError(f"search needs candidates >= 1, horizon >= 1 and jitter >= 0, "
                             f"got {tuple(self)}")
        return self


def pibt_scores(fields: DistanceFields, positions: np.ndarray, goals: np.ndarray,
                dist: Optional[np.ndarray] = None) -> np.ndarray:
    """(N, 5) scores whose :func:`marlgpt_planner.rankings.rank` is plain PIBT's order: moves by
    the path length they leave, a cell another agent stands on after a free one of the same
    length, then action order; moves onto obstacles or off the map score ``-inf``. ``dist``:
    the positions' :func:`~marlgpt_planner.grid.neighbour_distances`, if already known."""
    if dist is None:
        dist = neighbour_distances(fields, positions, goals)
    dist = np.asarray(dist, dtype=np.float64)
    scores = -dist - 0.25 * occupied_targets(positions, fields.shape)
    scores[dist >= UNREACHABLE] = -np.inf
    return scores


def pibt_rankings(fields: DistanceFields, positions: np.ndarray, goals: np.ndarray,
                  dist: Optional[np.ndarray] = None) -> List[List[int]]:
    """Plain PIBT's rankings (:func:`pibt_scores`)."""
    return rank(pibt_scores(fields, positions, goals, dist))


def rollout_score(fields: DistanceFields, start: np.ndarray, first: np.ndarray,
                  goals: np.ndarray, priorities: np.ndarray, horizon: int,
                  rotations: bool = True) -> float:
    """Progress of the joint step ``start -> first`` followed by ``horizon - 1`` PIBT steps."""
    d_start = neighbour_distances(fields, start, goals)[:, 0].astype(np.int64)
    around = neighbour_distances(fields, first, goals)  # read for the ranking and the score
    best = around[:, 0].astype(np.int64)
    prio = np.asarray(priorities, dtype=np.float64).copy()
    arrived = best == 0
    bonus = float(horizon * arrived.sum())
    prio[arrived] = -1.0
    positions = first
    for t in range(1, horizon):
        prio += 1.0
        positions = shield(positions, pibt_rankings(fields, positions, goals, around), prio,
                           rotations)
        around = neighbour_distances(fields, positions, goals)
        dist = around[:, 0].astype(np.int64)
        newly = (dist == 0) & (best > 0)
        bonus += (horizon - t) * float(newly.sum())
        prio[newly] = -1.0 - t
        best = np.minimum(best, dist)
    reachable = d_start < UNREACHABLE
    return bonus + float((d_start - best)[reachable].sum())


def candidate_steps(positions: np.ndarray, rankings: Sequence[Sequence[int]],
                    ages: Sequence[float], seed: int, search: Search,
                    alternative: Optional[Sequence[Sequence[int]]] = None,
                    first: Optional[np.ndarray] = None
                    ) -> List[Tuple[np.ndarray, np.ndarray]]:
    """The search's candidates as (next cells (N, 2), priorities (N,)) pairs: ``first`` or
    the plain shielded step first, then ``candidates - 1`` with priorities jittered by a
    generator seeded by ``seed`` and the agent count, the odd ones over the ``alternative``
    rankings if given (the search passes plain PIBT's)."""
    priorities = np.asarray(ages, dtype=np.float64).reshape(-1)
    if first is None:
        first = shield(positions, rankings, priorities, search.rotations)
    out = [(np.asarray(first, dtype=np.int64).reshape(-1, 2), priorities)]
    rng = np.random.default_rng([abs(int(seed)), len(priorities)])
    for k in range(1, search.candidates):
        noisy = priorities + rng.uniform(0.0, search.jitter, len(priorities))
        ranked = alternative if alternative is not None and k % 2 else rankings
        out.append((shield(positions, ranked, noisy, search.rotations), noisy))
    return out


def search_step(fields: DistanceFields, positions: np.ndarray, goals: np.ndarray,
                rankings: Sequence[Sequence[int]], ages: Sequence[float], seed: int,
                search: Optional[Search] = None, first: Optional[np.ndarray] = None
                ) -> np.ndarray:
    """Next cells (N, 2) of one shielded step chosen by rollout search (see the module doc);
    with one candidate or a horizon of 1, exactly :func:`marlgpt_planner.shield.shield`.
    ``first``: the step that stands first among the candidates instead of the plain
    shielded one (the sequential resolution's own step)."""
    search = (search or Search()).check()
    positions = np.asarray(positions, dtype=np.int64).reshape(-1, 2)
    goals = np.asarray(goals, dtype=np.int64).reshape(-1, 2)
    if search.candidates == 1 or search.horizon == 1 or len(positions) == 0:
        return shield(positions, rankings, ages, search.rotations) if first is None else first
    # Rankings come over the network: moves onto obstacles or off the map are dropped.
    legal = fields.free_moves(positions)
    rankings = [[a for a in ranking if 0 <= a < len(DELTAS) and legal[i, a]]
                for i, ranking in enumerate(rankings)]
    # PIBT's order over the moves each agent's ranking allows (one that must hold stays put).
    allowed = [set(own) for own in rankings]
    alternative = [[a for a in pibt if a in ok] for pibt, ok in
                   zip(pibt_rankings(fields, positions, goals), allowed)]
    best_step, best = None, -np.inf
    for step, priorities in candidate_steps(positions, rankings, ages, seed, search,
                                            alternative, first):
        score = rollout_score(fields, positions, step, goals, priorities, search.horizon,
                              search.rotations)
        if score > best:  # the first of equals: the plain step wins ties
            best_step, best = step, score
    return best_step
