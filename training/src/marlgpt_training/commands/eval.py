"""``marlgpt eval``: score a policy on a POGEMA lifelong benchmark map set, in Level-Based
Foraging or in Google Research Football."""
import argparse
import json
import multiprocessing
import sys
from pathlib import Path
from typing import List

from marlgpt_planner import step_rule
from marlgpt_training import environments
from marlgpt_training.benchmark.evaluate import evaluate
from marlgpt_training.benchmark.mapset import MapSet
from marlgpt_training.commands.generate import _str_list  # generate's --scenarios parser

DEFAULT_MAP_SET = "../shared/benchmarks/pogema-lmapf/02-mazes"


def add_parser(sub: "argparse._SubParsersAction") -> None:
    parser = sub.add_parser(
        "eval",
        help="score a policy on a POGEMA benchmark map set (or in LBF or Football: --env)",
        description="Run a policy on every instance and agent count of a map set in the POGEMA "
        "benchmark's format, with the benchmark's settings (seed, on_target restart, soft "
        "collisions, its episode length), and print its throughput beside the set's published "
        "reference results on the same instances. Score = mean over agent counts of the mean "
        "throughput over instances (the benchmark's aggregate). With --env lbf or grf: seeded "
        "episodes of Level-Based Foraging or Google Research Football, scored by the team "
        "return or by win rate and goal difference per scenario.",
        epilog="example: marlgpt eval --policy bfs --map-set "
        "../shared/benchmarks/pogema-lmapf/02-mazes --agents 8,32 --max-instances 8 "
        "--json out.json;  marlgpt eval --env grf --policy expert --episodes 48",
    )
    parser.add_argument("--policy", required=True,
                        help="a built-in policy: random (uniform actions), bfs (follow the "
                        "shortest path, wait when blocked), greedy (shortest path with "
                        "sidesteps and random deadlock escapes), pibt and expert (centralized "
                        "PIBT, without and with search); a trained checkpoint (a run "
                        "directory, a checkpoints/step-N directory or its model.safetensors); "
                        "or an exported model file (.onnx, or a TensorRT .engine/.plan), run "
                        "through the robots' runtime; see docs/benchmark.md, docs/export.md")
    parser.add_argument("--sample", action="store_true",
                        help="trained models: sample actions from the policy (seeded per "
                        "episode) instead of taking the most likely one")
    parser.add_argument("--resolution", choices=step_rule.names(), default=step_rule.SOFT,
                        help="how conflicting moves of one step are settled (the fleet's step "
                        "rule, docs/planner.md): "
                        + "; ".join(f"{r.name}: {r.summary}"
                                    for r in step_rule.RESOLUTIONS.values())
                        + ". POGEMA referees the settled step. With shield, --policy bfs is "
                        "plain PIBT (default: %(default)s)")
    parser.add_argument("--path-weight", type=float, default=0.0, metavar="W",
                        help="with --resolution shield: rank each agent's actions by the "
                        "policy's log-probability minus W times the path length the action "
                        "leaves, so the model guides PIBT's cost-to-go order (0: the policy "
                        "alone; default: %(default)s)")
    parser.add_argument("--search", type=int, default=1, metavar="N",
                        help="with --resolution shield: choose each step among N candidate "
                        "shielded steps (priorities jittered) by a 6-step PIBT rollout, as the "
                        "expert does (docs/planner.md; 1: the plain shielded step; "
                        "default: %(default)s)")
    parser.add_argument("--env", choices=environments.names(), default=environments.POGEMA,
                        help="pogema-lmapf: the POGEMA benchmark on --map-set; lbf: Level-Based "
                        "Foraging, --episodes seeded episodes over its task mix, scored by the "
                        "normalised team return (policies: expert, random or a checkpoint); "
                        "grf: Google Research Football, --episodes episodes over --scenarios "
                        "in turn, win rate and goal difference per scenario (policies: expert, "
                        "the scripted expert; builtin, the game's own AI; random; or a "
                        "checkpoint) (default: %(default)s)")
    parser.add_argument("--episodes", type=int, default=100, metavar="N",
                        help="lbf, grf: number of episodes (default: %(default)s)")
    parser.add_argument("--scenarios", type=_str_list, default=None, metavar="NAME,NAME",
                        help="grf: scenarios, played in turn (default: the paper's four: "
                        "academy_pass_and_shoot_with_keeper, academy_corner, "
                        "academy_counterattack_easy, 11_vs_11_easy_stochastic)")
    parser.add_argument("--map-set", type=Path, metavar="DIR",
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


def _random_act(rng):
    import numpy as np

    def act(state, tokens, mask):
        return np.array([rng.choice(np.flatnonzero(row)) for row in mask])
    return act


def _model_act(args: argparse.Namespace, encoder: str):
    from marlgpt_training.policies.model import VectorModel

    return VectorModel(args.policy, args.env, encoder, sample=args.sample)


def run_foraging(args: argparse.Namespace) -> dict:
    import numpy as np

    from marlgpt_training.data import foraging

    rng = np.random.default_rng(0)
    if args.policy == "expert":
        def act(env, tokens, mask):
            return foraging.expert_actions(env, rng)
    elif args.policy == "random":
        act = _random_act(rng)
    else:
        act = _model_act(args, "lbf-vector")
    scores = foraging.evaluate(act, args.episodes)
    print(f"lbf: normalised team return over {args.episodes} episodes ({args.policy})")
    for name, value in scores.items():
        print(f"  {name:<12} {value:.3f}")
    return scores


def run_football(args: argparse.Namespace) -> dict:
    import numpy as np
    from tqdm import tqdm

    from marlgpt_training.data import football
    from marlgpt_training.data.football_expert import BUILTIN_AI, ScriptedExpert

    scenarios = football.check_scenarios(args.scenarios or list(football.SCENARIOS),
                                         "--scenarios")
    rng = np.random.default_rng(0)
    if args.policy == "expert":
        policy = ScriptedExpert  # a new one per episode: it remembers its kicks
    elif args.policy == "builtin":
        def policy():
            return lambda observations, tokens, mask: np.full(len(observations),
                                                              BUILTIN_AI)
    elif args.policy == "random":
        act = _random_act(rng)

        def policy():
            return act
    else:
        model = _model_act(args, "grf-players")

        def policy():
            return model
    bar = tqdm(total=args.episodes, unit="episode", desc="grf", disable=args.no_progress,
               dynamic_ncols=True)
    try:
        report = football.evaluate(policy, args.episodes, scenarios,
                                   progress=lambda scenario, outcome: bar.update(1))
    finally:
        bar.close()
    print(f"grf: {args.policy} over {args.episodes} episodes (95 % intervals; paper: Table 1 of "
          "the MARL-GPT paper, IPPO expert and MARL-GPT)")
    print(f"  {'scenario':<36} {'episodes':>8} {'win rate':>20} {'goal diff':>14} "
          f"{'paper expert':>12} {'paper MARL-GPT':>14}")
    for scenario, row in report.items():
        low, high = row["win_rate_ci95"]
        win = f"{row['win_rate']:.2f} [{low:.2f}, {high:.2f}]"
        diff = f"{row['goal_difference']:+.2f} +- {row['goal_difference_ci95']:.2f}"
        print(f"  {scenario:<36} {row['episodes']:>8} {win:>20} {diff:>14} "
              f"{row['paper_expert_win_rate']:>12.2f} {row['paper_marl_gpt_win_rate']:>14.2f}")
    return {"scenarios": report}


def run_vector_env(args: argparse.Namespace) -> int:
    """``--env lbf`` or ``grf``: seeded episodes, scored by the environment's own measure."""
    problems = []
    if args.episodes < 1:
        problems.append(f"--episodes must be at least 1, got {args.episodes}")
    if args.sample and args.policy in ("expert", "random", "builtin"):
        problems.append(f"--sample needs a model; {args.policy!r} has no distribution to "
                        "sample")
    if args.policy == "builtin" and args.env != environments.GRF:
        problems.append("--policy builtin (the game's own AI) exists in grf only")
    if args.scenarios and args.env != environments.GRF:
        problems.append("--scenarios is for --env grf")
    if args.json is not None and args.json.is_dir():
        problems.append(f"--json {args.json} is a directory")
    for problem in problems:
        print(f"marlgpt eval: {problem}", file=sys.stderr)
    if problems:
        return 2
    try:
        scores = (run_football if args.env == environments.GRF else run_foraging)(args)
    except (OSError, ValueError) as exc:
        print(f"marlgpt eval: {exc}", file=sys.stderr)
        return 2
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"env": args.env, "policy": args.policy,
                                         "episodes": args.episodes, **scores}, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.env != environments.POGEMA:
        return run_vector_env(args)
    if args.map_set is None:
        print("marlgpt eval: --map-set DIR is required for pogema-lmapf", file=sys.stderr)
        return 2
    try:
        map_set = MapSet.load(args.map_set)
    except (OSError, ValueError) as exc:
        print(f"marlgpt eval: {exc}", file=sys.stderr)
        return 2
    if args.json is not None and args.json.is_dir():
        print(f"marlgpt eval: --json {args.json} is a directory", file=sys.stderr)
        return 2
    if args.max_instances is not None and args.max_instances < 1:
        print("marlgpt eval: --max-instances must be at least 1", file=sys.stderr)
        return 2
    workers = args.workers or multiprocessing.cpu_count()
    try:
        rule = step_rule.StepRule(args.resolution, args.path_weight, args.search)
        report = evaluate(map_set, args.policy, agent_counts=args.agents,
                          max_instances=args.max_instances, workers=workers,
                          progress=not args.no_progress, sample=args.sample, rule=rule)
    except ValueError as exc:
        print(f"marlgpt eval: {exc}", file=sys.stderr)
        return 2
    print(report.table())
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report.to_json(), indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0

