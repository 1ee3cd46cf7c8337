"""Where a pure policy's agent-steps go under POGEMA's soft rule: moves that happen, waits,
and moves the rule cancels (and why).

:func:`count_outcomes` runs an exported model as ``marlgpt eval --policy MODEL.onnx
--sample`` does (POGEMA is the referee) and sorts every agent-step (:func:`classify`) by the
action chosen and what the soft rule made of it:

- moved, and the move shortened the agent's path / did not (a sidestep or a step back);
- waited although a move would have shortened its path / with nothing better to do;
- cancelled: a swap (two agents trading cells), a move into a cell whose occupant stayed,
  or a cell another agent won.

A policy that coordinates well moves often and is rarely cancelled; the expert, planning
centrally, is never cancelled. ``scripts/soft_rule_steps.py`` is the command line.
"""
import collections
from typing import Counter, List, Tuple

import numpy as np

from marlgpt_planner.actions import DELTAS
from marlgpt_planner.encoder import GridState
from marlgpt_planner.grid import neighbour_distances
from marlgpt_planner.soft_rule import resolve
from marlgpt_planner.step_rule import StepRule
from marlgpt_training.benchmark.episode import run_episode
from marlgpt_training.benchmark.mapset import MapSet
from marlgpt_training.policies.deployed import DeployedPolicy

KINDS = ("moved, shorter path", "moved, not shorter", "waited, a move was shorter",
         "waited, nothing shorter", "cancelled: swap", "cancelled: occupant stayed",
         "cancelled: cell went to another agent")


def classify(positions: np.ndarray, goals: np.ndarray, actions: np.ndarray, fields,
             obstacles: np.ndarray) -> Counter:
    """Counts of :data:`KINDS` for one step of the soft rule."""
    dist = neighbour_distances(fields, positions, goals)
    target = positions + np.asarray(DELTAS)[actions]
    _, moved = resolve(positions, target, obstacles)
    out: Counter = collections.Counter()
    for i, action in enumerate(actions):
        shorter = dist[i] < dist[i, 0]
        if action == 0:
            out[KINDS[2] if shorter.any() else KINDS[3]] += 1
        elif moved[i]:
            out[KINDS[0] if shorter[action] else KINDS[1]] += 1
        else:
            occupant = np.flatnonzero((positions == target[i]).all(axis=1))
            if len(occupant) and (target[occupant[0]] == positions[i]).all():
                out[KINDS[4]] += 1
            elif len(occupant) and not moved[occupant[0]]:
                out[KINDS[5]] += 1
            else:
                out[KINDS[6]] += 1
    return out


class CountingPolicy(DeployedPolicy):
    """The deployed model, counting what the soft rule makes of each of its steps."""

    def __init__(self, path: str, sample: bool, counts: Counter) -> None:
        super().__init__(path, sample=sample)
        self.counts = counts

    def reset(self, obstacles, num_agents, seed=0, fields=None) -> None:
        super().reset(obstacles, num_agents, seed, fields)
        self._fields, self._obstacles = fields, obstacles

    def act(self, state: GridState) -> np.ndarray:
        actions = np.asarray(super().act(state), dtype=np.int64)
        self.counts.update(classify(state.positions, state.goals, actions, self._fields,
                                    self._obstacles))
        return actions


def count_outcomes(model: str, map_set: MapSet, agents: int, max_instances: int,
                   sample: bool = True) -> Tuple[Counter, List[float]]:
    """The counts of :data:`KINDS` over the first ``max_instances`` instances of ``map_set``
    with ``agents`` agents, and each episode's throughput."""
    counts: Counter = collections.Counter()
    throughput = [run_episode(instance, CountingPolicy(model, sample, counts),
                              StepRule("soft")).avg_throughput
                  for instance in map_set.instances(agents, max_instances)]
    return counts, throughput
