"""Baseline policies: honest reference points for the benchmark, all decentralized.

* ``random``: every agent picks one of the 5 actions uniformly (seeded per episode).
* ``bfs``: every agent steps along its BFS distance field toward its goal (the first of up,
  down, left, right that shortens its path) and waits when another agent stands on that cell.
  Its ranking (for ``--resolution shield``) orders moves by the distance they leave, free
  cells first, so under the shield it is plain PIBT.
* ``greedy``: like ``bfs``, but it ranks every move by the distance it leaves, prefers cells
  no other agent stands on, breaks ties at random, and after ``patience`` steps in a row
  without getting closer adds large random costs to get out of head-on deadlocks.
"""
import numpy as np

from marlgpt_planner.actions import NUM_ACTIONS, WAIT
from marlgpt_planner.encoder import GridState
from marlgpt_planner.grid import UNREACHABLE, neighbour_distances, occupied_targets
from marlgpt_planner.lookahead import pibt_scores
from marlgpt_training.policies.base import GridPolicy


class RandomPolicy(GridPolicy):
    name = "random"

    def act(self, state: GridState) -> np.ndarray:
        return self.rng.integers(0, NUM_ACTIONS, size=len(state.positions))


class BfsPolicy(GridPolicy):
    name = "bfs"

    def act(self, state: GridState) -> np.ndarray:
        dist = neighbour_distances(self.fields, state.positions, state.goals)
        blocked = occupied_targets(state.positions, self.obstacles.shape)
        shortens = dist[:, 1:] < dist[:, :1]
        has_move = shortens.any(axis=1)
        first = np.argmax(shortens, axis=1) + 1
        actions = np.where(has_move, first, WAIT)
        waits = blocked[np.arange(len(actions)), actions]
        actions[waits] = WAIT
        return actions

    def preferences(self, state: GridState) -> np.ndarray:
        """Moves that shorten the path first (free cells before occupied ones), then wait,
        then moves away: under the collision shield this is plain PIBT."""
        return pibt_scores(self.fields, state.positions, state.goals)


class GreedyPolicy(GridPolicy):
    name = "greedy"
    #: Steps without getting closer before random escape costs are added.
    patience = 2
    #: Cost of waiting, in units of path length (a sideways move costs 0, a step back 1).
    wait_cost = 0.9
    #: Extra cost of a move into a cell another agent stands on now.
    occ = 2.0
    #: Upper bound of the uniform random cost added to every move of a stuck agent.
    escape = 3.0

    def reset(self, obstacles, num_agents, seed=0, fields=None) -> None:
        super().reset(obstacles, num_agents, seed, fields)
        self.waited = np.zeros(num_agents, dtype=np.int64)

    def act(self, state: GridState) -> np.ndarray:
        n = len(state.positions)
        dist = neighbour_distances(self.fields, state.positions, state.goals).astype(np.float64)
        cost = dist - dist[:, :1]  # -1 closer, 0 sideways/wait, +1 away
        cost[:, WAIT] = self.wait_cost
        cost[dist >= UNREACHABLE] = np.inf
        cost += self.occ * occupied_targets(state.positions, self.obstacles.shape)
        cost += self.rng.uniform(0.0, 0.1, size=cost.shape)  # random tie-breaks
        stuck = self.waited >= self.patience
        if stuck.any():
            escape = self.rng.uniform(0.0, self.escape, size=(int(stuck.sum()), NUM_ACTIONS))
            cost[stuck] += escape
        actions = np.argmin(cost, axis=1)
        progressed = dist[np.arange(n), actions] < dist[:, 0]
        self.waited = np.where(progressed, 0, self.waited + 1)
        return actions
