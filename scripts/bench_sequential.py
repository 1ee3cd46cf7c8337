"""What the sequential resolution costs per step on one core, beside the shield and its search.

Usage: scripts/run python scripts/bench_sequential.py --model MODEL.onnx
           [--robots 8,32,64] [--steps 64] [--map-kind mazes] [--size 33] [--json OUT.json]

For each fleet size, one generated lifelong episode (a ``--size`` square map of
``--map-kind``, the training generator's maps) is driven for ``--steps`` steps by the model
through the robots' runtime (ONNX Runtime, one thread) under the sequential resolution, and
the same states are also settled the shield's way. Per step it reports, as p50 / p99:

* ``sequential``: encoding the step once, the policy calls of every turn (claim tokens written
  per call) and the serving: what one computer deciding for the whole fleet spends, with the
  number of calls (turns, the fleet's extra message rounds) and rows per step;
* ``shield``: encoding, one batched policy call and PIBT;
* ``shield + search 16``: the same plus the rollout search (today's fleet default).

A fleet computes the sequential step spread over its robots: each robot's planner asks its
own model for its own robot, so a robot's share is about one row per step, and the wall time
of a step adds a message round per turn (docs/BENCHMARKS.md).
"""
import argparse
import json
import time
from pathlib import Path

import numpy as np

from marlgpt_planner.encoder import GridState
from marlgpt_planner.grid import UNREACHABLE, neighbour_distances
from marlgpt_planner.lookahead import Search, search_step
from marlgpt_planner.sequential import AskInTurn, sequential_step
from marlgpt_planner.shield import GoalAges, shield
from marlgpt_planner.step_rule import SEQUENTIAL, SHIELD, StepRule
from marlgpt_training.envs.pogema import (
    EpisodeSpec,
    GeneratorConfig,
    episode_start,
    make_encoder,
    make_expert,
    new_goals,
)
from marlgpt_training.policies.deployed import DeployedPolicy


def percentiles(values) -> dict:
    values = np.asarray(values, dtype=np.float64)
    return {"p50": round(float(np.percentile(values, 50)), 2),
            "p99": round(float(np.percentile(values, 99)), 2)}


def bench(model: str, robots: int, steps: int, map_kind: str, size: int, seed: int = 0) -> dict:
    policy = DeployedPolicy(model)
    spec = EpisodeSpec(0, seed, map_kind, size, size, 0.2, robots, steps)
    config = GeneratorConfig(radius=policy.radius, claims=True)
    obstacles, free, positions, goals, rng = episode_start(spec)
    encoder = make_encoder(obstacles, config, make_expert(obstacles, seed, config))
    policy.reset(obstacles, robots, seed, encoder.fields)
    policy.encoder = encoder
    rule = StepRule(SEQUENTIAL)
    ages = GoalAges()
    history = np.zeros((robots, config.history), dtype=np.int64)
    times = {"sequential": [], "shield": [], "shield + search 16": []}
    calls, rows = [], []
    for _ in range(steps):
        age = np.array(ages.update(range(robots), goals))
        state = GridState(positions, goals, history, age)
        # The sequential step, as one computer deciding for the whole fleet.
        started = time.perf_counter()
        observation = encoder.encode(state)
        allowed = neighbour_distances(encoder.fields, positions, goals) < UNREACHABLE
        ask = AskInTurn(encoder, observation._replace(
            action_mask=observation.action_mask & allowed), positions, policy.logits,
            rule.choose)
        after, ledger = sequential_step(positions, age.tolist(), ask, encoder.radius)
        times["sequential"].append((time.perf_counter() - started) * 1e3)
        calls.append(ledger.calls)
        rows.append(ledger.rows)
        # The shield on the same state: one call, rankings, PIBT; then with the search.
        started = time.perf_counter()
        observation = encoder.encode(state)
        rankings = StepRule(SHIELD).choose(policy.logits(observation.values),
                                           observation.action_mask, False, None)
        shield(positions, rankings, age)
        shielded = (time.perf_counter() - started) * 1e3
        times["shield"].append(shielded)
        started = time.perf_counter()
        search_step(encoder.fields, positions, goals, rankings, age, len(calls), Search(16))
        times["shield + search 16"].append(shielded + (time.perf_counter() - started) * 1e3)
        positions = after
        at_goal = (positions == goals).all(axis=1)
        if at_goal.any():
            goals = goals.copy()
            goals[at_goal] = new_goals(free, positions[at_goal], rng)
    return {"robots": robots, "calls": percentiles(calls), "mean_calls": float(np.mean(calls)),
            "rows": float(np.mean(rows)),
            "ms": {name: percentiles(values) for name, values in times.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="an exported encoder-v3 model (.onnx)")
    parser.add_argument("--robots", default="8,32,64")
    parser.add_argument("--steps", type=int, default=64)
    parser.add_argument("--map-kind", default="mazes")
    parser.add_argument("--size", type=int, default=33)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    results = []
    print("robots  calls/step p50 (mean)  rows/step  ms/step p50 / p99: sequential | shield | "
          "shield + search 16")
    for robots in (int(r) for r in args.robots.split(",")):
        result = bench(args.model, robots, args.steps, args.map_kind, args.size)
        results.append(result)
        ms = result["ms"]
        print(f"{robots:6d}  {result['calls']['p50']:>8g} ({result['mean_calls']:.1f})"
              f"  {result['rows']:9.0f}  "
              + " | ".join(f"{ms[k]['p50']:.1f} / {ms[k]['p99']:.1f}" for k in ms))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
