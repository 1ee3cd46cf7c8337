"""Milliseconds per step of expert settings on one core, on the first maps of a shared set.

    scripts/run python scripts/bench_expert.py \
        --map-set ../shared/benchmarks/pogema-lmapf/02-mazes --agents 64 --maps 4 \
        expert:iterations=0 expert

Each POLICY (an expert spec as `marlgpt eval --policy` takes it) plays the same episodes in
this process, one after another; a step's time includes POGEMA's own step, as in the benchmark.
Prints ms per step, agent-steps per second and the mean throughput.
"""
import argparse
import time
from pathlib import Path

from marlgpt_training.benchmark.episode import run_episode
from marlgpt_training.benchmark.mapset import MapSet
from marlgpt_training.policies import make_policy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("policies", nargs="+", metavar="POLICY",
                        help="expert specs, e.g. expert, expert:iterations=0")
    parser.add_argument("--map-set", type=Path, required=True)
    parser.add_argument("--agents", type=int, default=64)
    parser.add_argument("--maps", type=int, default=4, help="the set's first N instances")
    args = parser.parse_args()
    instances = MapSet.load(args.map_set).instances(args.agents, args.maps)
    for spec in args.policies:
        seconds, steps, throughput = 0.0, 0, []
        for instance in instances:
            policy = make_policy(spec)
            start = time.perf_counter()
            result = run_episode(instance, policy)
            seconds += time.perf_counter() - start
            steps += instance.max_episode_steps
            throughput.append(result.avg_throughput)
        print(f"{spec}: {1000 * seconds / steps:.1f} ms per step at {args.agents} agents, "
              f"{args.agents * steps / seconds:,.0f} agent-steps/s, throughput "
              f"{sum(throughput) / len(throughput):.3f} ({len(instances)} maps)", flush=True)


if __name__ == "__main__":
    main()
