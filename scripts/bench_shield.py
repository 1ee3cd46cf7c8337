"""What the collision shield costs a fleet per step: bytes on the wire and milliseconds.

Usage: scripts/run python scripts/bench_shield.py [--robots 8,32,64] [--repeats 200]
                                                  [--candidates 16]

For each fleet size: the serialized size of one RobotState proposal with and without its
ranking (every robot sends one per step, so the fleet's extra traffic per step is robots x the
difference), and the time one planner needs to resolve a whole step with the soft rule and
with the shield (``lockstep.LockStep.resolve`` on crowded random states of a 33 x 33 grid with
every robot ranking all five actions), as p50 / p99 over ``--repeats`` steps. Then the rollout
search (``lookahead.search_step``, 16 candidates x 6 steps, or each ``--candidates`` count)
over the same kind of step on a 33 x 33 grid with a fifth of its cells walls, each robot with
its own goal.
"""
import argparse
import time

import numpy as np

from marlgpt_planner.lockstep import ARRIVED, PROPOSING, LockStep, Report
from marlgpt_planner.step_rule import StepRule


def message_bytes(ranking) -> int:
    from rclpy.serialization import serialize_message

    from marlgpt_msgs.msg import RobotState

    msg = RobotState()
    msg.robot_id, msg.step, msg.status = "robot12", 1234, PROPOSING
    msg.header.frame_id = "map"
    msg.ranking = list(ranking)
    msg.map_digest, msg.step_rule = "0123456789abcdef", "shield/search=16"
    return len(serialize_message(msg))


def resolve_ms(robots: int, resolution: str, repeats: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ids = [f"robot{i}" for i in range(robots)]
    out = []
    for _ in range(repeats):
        fleet = LockStep(ids, rule=StepRule(resolution))
        cells = rng.choice(33 * 33, size=robots, replace=False)
        cells = [(int(c) // 33, int(c) % 33) for c in cells]
        for robot, cell in zip(ids, cells):
            fleet.receive(Report(robot, 0, ARRIVED, cell, cell, (16, 16)), 0.0)
        fleet.start()
        for robot, cell in zip(ids, cells):
            ranking = tuple(int(a) for a in rng.permutation(5))
            target = cell if ranking[0] == 0 else (cell[0] + (-1, 1, 0, 0)[ranking[0] - 1],
                                                   cell[1] + (0, 0, -1, 1)[ranking[0] - 1])
            fleet.receive(Report(robot, 1, PROPOSING, cell, target, (16, 16), ranking=ranking),
                          0.0)
        started = time.perf_counter()
        fleet.resolve()
        out.append((time.perf_counter() - started) * 1e3)
    return np.array(out)


def search_ms(robots: int, repeats: int, candidates: int = 16, seed: int = 0) -> np.ndarray:
    from marlgpt_planner.grid import DistanceFields
    from marlgpt_planner.lookahead import Search, search_step

    rng = np.random.default_rng(seed)
    obstacles = rng.random((33, 33)) < 0.2
    free = np.argwhere(~obstacles)
    fields = DistanceFields(obstacles, pad=1)
    out = []
    for step in range(repeats):
        picks = rng.permutation(len(free))
        positions, goals = free[picks[:robots]], free[picks[robots:2 * robots]]
        for goal in goals:  # the planner's fields are cached per goal across steps
            fields.padded(tuple(goal))
        rankings = [list(rng.permutation(5)) for _ in range(robots)]  # illegal moves dropped
        ages = rng.integers(0, 50, robots)
        started = time.perf_counter()
        search_step(fields, positions, goals, rankings, ages, step, Search(candidates))
        out.append((time.perf_counter() - started) * 1e3)
    return np.array(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--robots", default="8,32,64")
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--candidates", default="16",
                        help="search candidate counts to time, comma-separated (default: 16)")
    args = parser.parse_args()
    counts = [int(c) for c in args.candidates.split(",")]
    plain, ranked = message_bytes([]), message_bytes(range(5))
    print(f"RobotState proposal: {plain} bytes soft, {ranked} bytes with a 5-action ranking "
          f"(+{ranked - plain} per robot per step)")
    print("robots  extra bytes/step  soft p50/p99 ms  shield p50/p99 ms  "
          + "  ".join(f"search {c} p50/p99 ms" for c in counts))
    for robots in [int(r) for r in args.robots.split(",")]:
        soft = resolve_ms(robots, "soft", args.repeats)
        shielded = resolve_ms(robots, "shield", args.repeats)
        searched = [search_ms(robots, max(1, args.repeats // 10), c) for c in counts]
        print(f"{robots:>6}  {robots * (ranked - plain):>16}  "
              f"{np.percentile(soft, 50):6.3f} / {np.percentile(soft, 99):6.3f}  "
              f"{np.percentile(shielded, 50):8.3f} / {np.percentile(shielded, 99):6.3f}  "
              + "  ".join(f"{np.percentile(ms, 50):11.1f} / {np.percentile(ms, 99):6.1f}"
                          for ms in searched))


if __name__ == "__main__":
    main()
