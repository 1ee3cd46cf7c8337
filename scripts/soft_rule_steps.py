"""Where a pure policy's agent-steps go under POGEMA's soft rule: moves that happen, waits,
and moves the rule cancels (and why).

Usage: scripts/run python scripts/soft_rule_steps.py MODEL.onnx [--map-set DIR] [--agents 32]
                                                     [--max-instances 4] [--greedy]

Runs the model as ``marlgpt eval --policy MODEL.onnx --sample`` does (POGEMA is the referee)
and sorts every agent-step by the action chosen and what the soft rule made of it:

- moved, and the move shortened the agent's path / did not (a sidestep or a step back);
- waited although a move would have shortened its path / with nothing better to do;
- cancelled: a swap (two agents trading cells), a move into a cell whose occupant stayed,
  or a cell another agent won.

A policy that coordinates well moves often and is rarely cancelled; the expert, planning
centrally, is never cancelled.
"""
import argparse
import collections
from typing import Counter

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", help="an exported model (.onnx)")
    parser.add_argument("--map-set", default="../shared/benchmarks/pogema-lmapf/02-mazes")
    parser.add_argument("--agents", type=int, default=32)
    parser.add_argument("--max-instances", type=int, default=4)
    parser.add_argument("--greedy", action="store_true", help="take the most likely action "
                        "instead of sampling")
    args = parser.parse_args()
    map_set = MapSet.load(args.map_set)
    counts: Counter = collections.Counter()
    throughput = [run_episode(instance, CountingPolicy(args.model, not args.greedy, counts),
                              StepRule("soft")).avg_throughput
                  for instance in map_set.instances(args.agents, args.max_instances)]
    total = sum(counts.values())
    print(f"{map_set.name}, {args.agents} agents, {len(throughput)} instances, "
          f"{'greedy' if args.greedy else 'sampled'}: throughput {np.mean(throughput):.3f}, "
          f"{total} agent-steps")
    for kind in KINDS:
        print(f"  {kind:40s} {100 * counts[kind] / max(total, 1):5.1f} %")


if __name__ == "__main__":
    main()
