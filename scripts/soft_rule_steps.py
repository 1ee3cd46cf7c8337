"""Where a pure policy's agent-steps go under POGEMA's soft rule: moves that happen, waits,
and moves the rule cancels (and why).

Usage: scripts/run python scripts/soft_rule_steps.py MODEL.onnx [--map-set DIR] [--agents 32]
                                                     [--max-instances 4] [--greedy]

Runs the model as ``marlgpt eval --policy MODEL.onnx --sample`` does (POGEMA is the referee)
and prints the share of every kind of agent-step; the sorting is
``marlgpt_training.benchmark.step_outcomes`` (the kinds are told apart there).
"""
import argparse

import numpy as np

from marlgpt_training.benchmark.mapset import MapSet
from marlgpt_training.benchmark.step_outcomes import KINDS, count_outcomes


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
    counts, throughput = count_outcomes(args.model, map_set, args.agents, args.max_instances,
                                        sample=not args.greedy)
    total = sum(counts.values())
    print(f"{map_set.name}, {args.agents} agents, {len(throughput)} instances, "
          f"{'greedy' if args.greedy else 'sampled'}: throughput {np.mean(throughput):.3f}, "
          f"{total} agent-steps")
    for kind in KINDS:
        print(f"  {kind:40s} {100 * counts[kind] / max(total, 1):5.1f} %")


if __name__ == "__main__":
    main()
