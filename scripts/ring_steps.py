"""How often a policy's steps move agents round a ring (what ``fleet_protocol.rotations: false``
bans, docs/planner.md): steps with a ring and the moves in rings, per agent count.

    scripts/run python scripts/ring_steps.py --map-set ../shared/benchmarks/pogema-lmapf/02-mazes \\
        --agents 8,32,64 --maps 8 [--policy bfs] [--resolution shield] [--search 1]

Each episode is played by ``marlgpt eval``'s harness (POGEMA the referee) with rotations
allowed, and the rings of every step after the first are counted
(:func:`marlgpt_planner.rotations.rings`; the harness does not trace the start cells).
"""
import argparse
import sys
from pathlib import Path
from typing import List

from marlgpt_planner.rotations import rings
from marlgpt_planner.step_rule import StepRule, names
from marlgpt_training.benchmark.episode import run_episode
from marlgpt_training.benchmark.mapset import MapSet
from marlgpt_training.policies import make_policy


def count(map_set: MapSet, agents: int, maps: int, policy: str, rule: StepRule) -> dict:
    """Steps, steps with a ring, rings and agent moves in rings over the first ``maps``."""
    steps = ring_steps = ring_count = moves = 0
    for instance in map_set.instances(agents, maps):
        trace: List = []
        run_episode(instance, make_policy(policy), rule, trace=trace)
        for before, after in zip(trace, trace[1:]):  # the start is not traced
            found = rings(before, after)
            steps += 1
            ring_steps += bool(found)
            ring_count += len(found)
            moves += sum(len(ring) for ring in found)
    return {"agents": agents, "steps": steps, "steps_with_a_ring": ring_steps,
            "rings": ring_count, "moves_in_rings": moves}


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--map-set", type=Path, required=True, metavar="DIR")
    parser.add_argument("--agents", default="8,32,64", metavar="N,N")
    parser.add_argument("--maps", type=int, default=8, metavar="N")
    parser.add_argument("--policy", default="bfs", help="as marlgpt eval --policy")
    parser.add_argument("--resolution", choices=names(fleet=False)[1:], default="shield")
    parser.add_argument("--search", type=int, default=1, metavar="N")
    args = parser.parse_args(argv)
    try:
        map_set = MapSet.load(args.map_set)
        rule = StepRule(args.resolution, search=args.search)
        rows = [count(map_set, int(n), args.maps, args.policy, rule)
                for n in args.agents.split(",")]
    except (OSError, ValueError) as exc:
        print(f"ring_steps: {exc}", file=sys.stderr)
        return 2
    print("| agents | steps (after each episode's first) | steps with a ring | rings | "
          "moves in rings |")
    print("| --- | --- | --- | --- | --- |")
    for r in rows:
        share = 100.0 * r["steps_with_a_ring"] / max(r["steps"], 1)
        print(f"| {r['agents']} | {r['steps']} | {r['steps_with_a_ring']} ({share:.1f} %) | "
              f"{r['rings']} | {r['moves_in_rings']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
