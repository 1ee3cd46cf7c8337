"""``marlgpt eval``: score a policy on a POGEMA lifelong benchmark map set, in Level-Based
Foraging, in Google Research Football or in the multi-robot warehouse."""
import argparse
import json
import sys
from pathlib import Path
from typing import List

from marlgpt_planner import step_rule
from marlgpt_training import envs
from marlgpt_training import tasks as task_lists
from marlgpt_training.commands.generate import _str_list  # generate's --scenarios parser

DEFAULT_MAP_SET = "../shared/benchmarks/pogema-lmapf/02-mazes"


def add_parser(sub: "argparse._SubParsersAction") -> None:
    parser = sub.add_parser(
        "eval",
        help="score a policy on a POGEMA benchmark map set (or in LBF, Football or RWARE: "
        "--env)",
        description="Run a policy on every instance and agent count of a map set in the POGEMA "
        "benchmark's format, with the benchmark's settings (seed, on_target restart, soft "
        "collisions, its episode length), and print its throughput beside the set's published "
        "reference results on the same instances. Score = mean over agent counts of the mean "
        "throughput over instances (the benchmark's aggregate). With --env lbf, grf or rware: "
        "seeded episodes of Level-Based Foraging, Google Research Football or the multi-robot "
        "warehouse, scored by the team return, by win rate and goal difference per scenario, "
        "or by deliveries per step.",
        epilog="example: marlgpt eval --policy bfs --map-set "
        "../shared/benchmarks/pogema-lmapf/02-mazes --agents 8,32 --max-instances 8 "
        "--json out.json;  marlgpt eval --env grf --policy expert --episodes 48;  marlgpt eval "
        "--env rware --rware-size tiny --agents 2,4 --policy greedy --episodes 40",
    )
    parser.add_argument("--policy", required=True,
                        help="a built-in policy: random (uniform actions), bfs (follow the "
                        "shortest path, wait when blocked), greedy (shortest path with "
                        "sidesteps and random deadlock escapes), pibt and expert (centralized "
                        "PIBT, without and with search and windowed LNS; settings as "
                        "expert:window=16,iterations=200,group=16, docs/expert.md); a trained "
                        "checkpoint (a run "
                        "directory, a checkpoints/step-N directory or its model.safetensors); "
                        "or an exported model file (.onnx, or a TensorRT .engine/.plan), run "
                        "through the robots' runtime; see docs/benchmark.md, docs/export.md")
    parser.add_argument("--sample", action="store_true",
                        help="trained models: sample actions from the policy (seeded per "
                        "episode) instead of taking the most likely one")
    parser.add_argument("--resolution", choices=step_rule.names(fleet=False),
                        default=step_rule.SOFT,
                        help="how conflicting moves of one step are settled (the fleet's step "
                        "rule, docs/planner.md): "
                        + "; ".join(f"{r.name}: {r.summary}"
                                    for r in step_rule.RESOLUTIONS.values() if not r.planned)
                        + ". POGEMA referees the settled step. With shield, --policy bfs is "
                        "plain PIBT (default: %(default)s)")
    parser.add_argument("--path-weight", type=float, default=0.0, metavar="W",
                        help="with --resolution shield or sequential: rank each agent's "
                        "actions by the "
                        "policy's log-probability minus W times the path length the action "
                        "leaves, so the model guides PIBT's cost-to-go order (0: the policy "
                        "alone; default: %(default)s)")
    parser.add_argument("--search", type=int, default=1, metavar="N",
                        help="with --resolution shield or sequential: choose each step among "
                        "N candidate steps (the plain one first, then shielded steps with "
                        "priorities jittered) by a 6-step PIBT rollout, as the expert does "
                        "(docs/planner.md; 1: the plain step; default: %(default)s)")
    parser.add_argument("--no-rotations", action="store_true",
                        help="settle steps as a fleet of real robots does "
                        "(fleet_protocol.rotations: false): no three or more agents moving "
                        "round a ring in one step, which POGEMA allows (docs/planner.md)")
    parser.add_argument("--env", choices=envs.names(), default=envs.POGEMA,
                        help="pogema-lmapf: the POGEMA benchmark on --map-set; lbf: Level-Based "
                        "Foraging, --episodes seeded episodes over its task mix, scored by the "
                        "normalised team return (policies: expert, random or a checkpoint); "
                        "grf: Google Research Football, --episodes episodes over --scenarios "
                        "in turn, win rate and goal difference per scenario (policies: expert, "
                        "the scripted expert; builtin, the game's own AI; random; or a "
                        "checkpoint); rware: the multi-robot warehouse, --episodes seeded "
                        "episodes over every --rware-size and --agents pair in turn, deliveries "
                        "per step (policies: expert, greedy, random or a checkpoint) "
                        "(default: %(default)s)")
    parser.add_argument("--episodes", type=int, default=100, metavar="N",
                        help="lbf, grf, rware: number of episodes (default: %(default)s)")
    parser.add_argument("--tasks", type=Path, default=None, metavar="YAML",
                        help="lbf, rware: score on this task file's test list (tasks held out of "
                        "training: zero-shot), e.g. training/configs/tasks/zero-shot.yaml")
    parser.add_argument("--scenarios", type=_str_list, default=None, metavar="NAME,NAME",
                        help="grf: scenarios, played in turn (default: the paper's four: "
                        "academy_pass_and_shoot_with_keeper, academy_corner, "
                        "academy_counterattack_easy, 11_vs_11_easy_stochastic)")
    parser.add_argument("--rware-size", type=_str_list, default=None, metavar="SIZE,SIZE",
                        help="rware: warehouse sizes from tiny, small, medium, large "
                        "(default: tiny)")
    parser.add_argument("--map-set", type=Path, metavar="DIR",
                        help="map set directory (maps.yaml + *-lmapf.yaml), e.g. "
                        + DEFAULT_MAP_SET)
    parser.add_argument("--agents", type=_int_list, default=None, metavar="N,N,...",
                        help="agent counts to run (default: the set's own; rware: 2,4)")
    parser.add_argument("--max-instances", type=int, default=None, metavar="N",
                        help="run only the first N instances of the set (default: all)")
    parser.add_argument("--first-instance", type=int, default=1, metavar="N",
                        help="start at the set's Nth instance (numbered from 1), e.g. to "
                        "finish a run of the first N-1 and join the two with "
                        "scripts/merge_results.py (default: 1)")
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
    """The environment's own evaluation (``marlgpt_training.envs``), after its option checks;
    ``--json`` gets what it returns."""
    environment = envs.get(args.env)
    problems = environment.check_eval(args)
    problems += task_lists.refused(args)
    for problem in problems:
        print(f"marlgpt eval: {problem}", file=sys.stderr)
    if problems:
        return 2
    try:
        results = environment.run_eval(args)
    except ValueError as exc:
        print(f"marlgpt eval: {exc}", file=sys.stderr)
        return 2
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0
