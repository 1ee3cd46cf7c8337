"""Choose the shield's path weight on generated maps (never the benchmark's).

Usage: scripts/run python scripts/shield_weight.py MODEL.onnx [--weights 0,0.5,1,2]
       [--episodes 24] [--seed 2] [--agents 32,64] [--steps 128] [--workers 2]

Rolls the exported model out under the collision shield, as the fleet runs it, on
``--episodes`` generated episodes (mazes and random maps, sizes 17-33, the given agent counts)
for every weight, and prints the mean throughput (goals per step) per weight and map kind.
Weight 0 is the model's ranking alone; a large weight is PIBT's cost-to-go order with the model
breaking ties. The seed keeps these maps apart from training data (seed 0) and delta data
(seed 1).
"""
import argparse
import multiprocessing
from collections import defaultdict

import numpy as np

from marlgpt_planner.encoder import Encoder
from marlgpt_planner.grid import DistanceFields
from marlgpt_planner.policy import RuntimePolicy
from marlgpt_training.data.delta import DeltaConfig, model_rollout
from marlgpt_training.envs.pogema import GeneratorConfig, episode_start


def score(task) -> tuple:
    model, weight, config, index = task
    spec = config.spec(index)
    obstacles, free, positions, goals, rng = episode_start(spec)
    encoder = Encoder.from_layout(obstacles, RuntimePolicy(model).metadata,
                                  fields=DistanceFields(obstacles, pad=config.radius))
    delta = DeltaConfig(model, path_weight=weight)
    trajectory = model_rollout(spec, config, delta, RuntimePolicy(model), obstacles, free,
                               positions, goals, rng, encoder)
    return weight, spec.map_kind, trajectory.goals_reached / spec.steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model")
    parser.add_argument("--weights", default="0,0.5,1,2")
    parser.add_argument("--episodes", type=int, default=24)
    parser.add_argument("--seed", type=int, default=2)
    parser.add_argument("--agents", default="32,64")
    parser.add_argument("--steps", type=int, default=128)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    config = GeneratorConfig(seed=args.seed, steps=args.steps,
                             agents=tuple(int(a) for a in args.agents.split(",")))
    weights = [float(w) for w in args.weights.split(",")]
    tasks = [(args.model, w, config, i) for w in weights for i in range(args.episodes)]
    results = defaultdict(list)
    with multiprocessing.get_context("fork").Pool(args.workers) as pool:
        for weight, kind, throughput in pool.imap_unordered(score, tasks):
            results[weight, kind].append(throughput)
            results[weight, "all"].append(throughput)
    print(f"{args.model}: mean throughput under the shield, {args.episodes} generated episodes "
          f"(seed {args.seed}, agents {args.agents}, {args.steps} steps)")
    print("weight   mazes  random     all")
    for w in weights:
        row = [np.mean(results[w, k]) if results[w, k] else float("nan")
               for k in ("mazes", "random", "all")]
        print(f"{w:6g}  " + "  ".join(f"{v:6.3f}" for v in row))


if __name__ == "__main__":
    main()
