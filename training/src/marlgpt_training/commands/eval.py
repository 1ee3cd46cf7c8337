"""``marlgpt eval``: score a policy on a POGEMA lifelong benchmark map set."""
import argparse
import json
import multiprocessing
import sys
from pathlib import Path
from typing import List

from marlgpt_training.benchmark.evaluate import evaluate
from marlgpt_training.benchmark.mapset import MapSet

DEFAULT_MAP_SET = "../shared/benchmarks/pogema-lmapf/02-mazes"


def add_parser(sub: "argparse._SubParsersAction") -> None:
    parser = sub.add_parser(
        "eval",
        help="score a policy on a POGEMA lifelong benchmark map set",
        description="Run a policy on every instance and agent count of a map set in the POGEMA "
        "benchmark's format, with the benchmark's settings (seed, on_target restart, soft "
        "collisions, its episode length), and print its throughput beside the set's published "
        "reference results on the same instances. Score = mean over agent counts of the mean "
        "throughput over instances (the benchmark's aggregate).",
        epilog="example: marlgpt eval --policy bfs --map-set "
        "../shared/benchmarks/pogema-lmapf/02-mazes --agents 8,32 --max-instances 8 "
        "--json out.json",
    )
    parser.add_argument("--policy", required=True,
                        help="a built-in policy: random (uniform actions), bfs (follow the "
                        "shortest path, wait when blocked), greedy (shortest path with "
                        "sidesteps and random deadlock escapes), pibt and expert (centralized "
                        "PIBT, without and with search); or a trained checkpoint (a run "
                        "directory, a checkpoints/step-N directory or its model.safetensors); "
                        "see docs/benchmark.md")
    parser.add_argument("--sample", action="store_true",
                        help="trained models: sample actions from the policy (seeded per "
                        "episode) instead of taking the most likely one")
    parser.add_argument("--map-set", required=True, type=Path, metavar="DIR",
                        help="map set directory (maps.yaml + *-lmapf.yaml), e.g. "
                        + DEFAULT_MAP_SET)
    parser.add_argument("--agents", type=_int_list, default=None, metavar="N,N,...",
                        help="agent counts to run (default: the set's own)")
    parser.add_argument("--max-instances", type=int, default=None, metavar="N",
                        help="run only the first N instances of the set (default: all)")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="parallel worker processes (default: the number of CPUs)")
    parser.add_argument("--json", type=Path, default=None, metavar="PATH",
                        help="write the results (per agent count and per instance) as JSON")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def _int_list(text: str) -> List[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        message = f"expected comma-separated integers, got {text!r}"
        raise argparse.ArgumentTypeError(message) from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"agent counts must be positive integers, got {text!r}")
    return values


def run(args: argparse.Namespace) -> int:
    try:
        map_set = MapSet.load(args.map_set)
    except (OSError, ValueError) as exc:
        print(f"marlgpt eval: {exc}", file=sys.stderr)
        return 2
    if args.max_instances is not None and args.max_instances < 1:
        print("marlgpt eval: --max-instances must be at least 1", file=sys.stderr)
        return 2
    workers = args.workers or multiprocessing.cpu_count()
    try:
        report = evaluate(map_set, args.policy, agent_counts=args.agents,
                          max_instances=args.max_instances, workers=workers,
                          progress=not args.no_progress, sample=args.sample)
    except ValueError as exc:
        print(f"marlgpt eval: {exc}", file=sys.stderr)
        return 2
    print(report.table())
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report.to_json(), indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0

