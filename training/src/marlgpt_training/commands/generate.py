"""``marlgpt generate``: expert rollouts on generated maps, written as a sharded dataset."""
import argparse
import json
import multiprocessing
import sys
from pathlib import Path
from typing import List

from marlgpt_planner import step_rule
from marlgpt_training import envs
from marlgpt_training import tasks as task_lists
from marlgpt_training.data.generate import generate
from marlgpt_training.data.maps import MAP_KINDS
from marlgpt_training.data.records import DatasetError
from marlgpt_training.envs.pogema import GeneratorConfig  # the map, agent and expert options

ENVIRONMENTS = tuple(envs.names())
#: The environments ``--from-model`` (delta data, ``data.delta``) works in.
DELTA_DATA = tuple(name for name in ENVIRONMENTS if envs.get(name).delta_data)


def add_parser(sub: "argparse._SubParsersAction") -> None:
    defaults = GeneratorConfig()
    parser = sub.add_parser(
        "generate",
        help="generate expert trajectories on training maps (sharded dataset)",
        description="Roll the lifelong MAPF expert (PIBT with rollout search) out on freshly "
        "generated, connected maps (mazes and random obstacle maps; never the benchmark's) and "
        "record, per agent and step, the encoder's tokens, the raw state, the expert's action, "
        "the action mask, a reward and done flags, in shards with a manifest (docs/data.md). "
        "Runs in parallel worker processes and resumes an interrupted run in the same --out.",
        epilog="examples: marlgpt generate --workers 2 --episodes 40 --out data/pogema "
        "--stats-json data/pogema-stats.json;  delta data for a trained model: marlgpt "
        "generate --from-model out/m.onnx --episodes 64 --out data/delta-1 (then marlgpt train "
        "--init RUN --data data/pogema data/delta-1 ...; docs/data.md)",
    )
    parser.add_argument("--out", required=True, type=Path, metavar="DIR",
                        help="dataset directory (created; an unfinished run there is resumed)")
    parser.add_argument("--episodes", type=int, default=64, metavar="N",
                        help="number of episodes (default: %(default)s)")
    parser.add_argument("--env", choices=ENVIRONMENTS, default=envs.POGEMA,
                        help="environment: pogema-lmapf (lifelong MAPF, the options below), "
                        "lbf (Level-Based Foraging, its own task mix; uses --seed only), grf "
                        "(Google Research Football, the scripted expert playing --scenarios in "
                        "turn; uses --seed) or rware (the multi-robot warehouse, the warehouse "
                        "expert; uses --seed, --rware-size and --agents) (default: %(default)s)")
    parser.add_argument("--tasks", type=Path, default=None, metavar="YAML",
                        help="lbf, rware: draw episodes from this task file's train list only (the "
                        "held-out test list never enters the data; e.g. "
                        "training/configs/tasks/zero-shot.yaml)")
    parser.add_argument("--scenarios", type=_str_list, default=None, metavar="NAME,NAME",
                        help="grf: scenarios, episode i plays scenario i mod their number "
                        "(default: the paper's four, see marlgpt eval --help)")
    parser.add_argument("--rware-size", type=_str_list, default=None, metavar="SIZE,SIZE",
                        help="rware: warehouse sizes from tiny, small, medium, large, drawn per "
                        "episode (default: tiny)")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="worker processes (default: the number of CPUs)")
    parser.add_argument("--map-kinds", type=_str_list, default=list(defaults.map_kinds),
                        metavar="K,K", help=f"map kinds from {', '.join(MAP_KINDS)} "
                        "(default: %(default)s)")
    parser.add_argument("--sizes", type=_int_list, default=list(defaults.sizes), metavar="N,N",
                        help="square map sizes, drawn per episode (default: %(default)s)")
    parser.add_argument("--densities", type=_float_list, default=list(defaults.densities),
                        metavar="D,D", help="obstacle densities of random maps "
                        "(default: %(default)s)")
    parser.add_argument("--agents", type=_int_list, default=None,
                        metavar="N,N", help="agent counts, drawn per episode (default: "
                        f"{','.join(map(str, defaults.agents))}; rware: 2,4)")
    parser.add_argument("--steps", type=int, default=defaults.steps,
                        help="steps per episode (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=None,
                        help="base seed; episode i is a pure function of (seed, i) "
                        f"(default: {defaults.seed}; with --from-model 1, so the model meets "
                        "maps it was not trained on)")
    parser.add_argument("--episodes-per-shard", type=int, default=8, metavar="N",
                        help="episodes per shard file (default: %(default)s)")
    parser.add_argument("--expert-candidates", type=int, default=defaults.expert_candidates,
                        metavar="N", help="expert search: first steps tried per step "
                        "(1: plain PIBT; default: %(default)s)")
    parser.add_argument("--expert-horizon", type=int, default=defaults.expert_horizon,
                        metavar="N", help="expert search: rollout length in steps "
                        "(default: %(default)s)")
    parser.add_argument("--expert-window", type=int, default=defaults.expert_window,
                        metavar="N", help="expert LNS: steps planned jointly (default: "
                        "%(default)s)")
    parser.add_argument("--expert-iterations", type=int, default=defaults.expert_iterations,
                        metavar="N", help="expert LNS: improvement rounds per step (0: no LNS, "
                        "the search's step; default: %(default)s; docs/expert.md)")
    parser.add_argument("--ages", action="store_true",
                        help="encode the goal ages PIBT ranks agents by (encoder pogema-ctg v2, "
                        "docs/encoder.md); with --from-model the model's layout decides")
    parser.add_argument("--claims", action="store_true",
                        help="record the sequential decisions (encoder pogema-ctg v3, with the "
                        "ages): each agent's tokens hold the cells claimed by the agents the "
                        "sequential resolution serves before it, the expert's step replayed "
                        "in PIBT's order with ties shuffled; the data for models that run "
                        "under --resolution sequential")
    delta = parser.add_argument_group(
        "delta data", "with --from-model, each episode is the exported model's own rollout; "
        "the expert labels the states the model visited in its worst windows, those where "
        "the expert, restarted there, covers the most more path than the model did "
        "(MAPF-GPT-DDG style; docs/data.md)")
    delta.add_argument("--from-model", type=Path, default=None, metavar="MODEL.onnx",
                       help="the exported model to roll out (pogema-lmapf only)")
    delta.add_argument("--resolution", choices=step_rule.names(fleet=False),
                       default=step_rule.SHIELD,
                       help="how the model's rollout settles conflicts (default: %(default)s)")
    delta.add_argument("--sample", action="store_true",
                       help="the model samples its actions (default: greedy)")
    delta.add_argument("--path-weight", type=float, default=0.0, metavar="W",
                       help="shield rankings blend in W x the path length each action leaves, "
                       "as the planner's model.path_weight (default: %(default)s)")
    delta.add_argument("--window", type=int, default=16, metavar="STEPS",
                       help="steps per compared window (default: %(default)s)")
    delta.add_argument("--keep", type=int, default=4, metavar="N",
                       help="worst windows labelled per episode (default: %(default)s)")
    delta.add_argument("--teacher", type=Path, default=None, metavar="SEQUENTIAL.onnx",
                       help="label the kept windows with this sequential model's joint step "
                       "(encoder v3, served in turn, greedy) instead of the expert's: a "
                       "sequential teacher for the decentralized learner --from-model "
                       "(MAGPO's guider -> learner; docs/data.md)")
    delta.add_argument("--closeness", type=float, default=0.0, metavar="W",
                       help="with --teacher, each agent's ranking is by log p_teacher + W x "
                       "log p_learner, a teacher kept near what the learner can represent "
                       "(default: %(default)s, the teacher's own)")
    parser.add_argument("--no-tokens", action="store_true",
                        help="store only the raw state, not the token values (smaller; for "
                        "analysis: marlgpt train refuses such datasets, it reads stored tokens)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a dataset made with other settings in --out")
    parser.add_argument("--stats-json", type=Path, default=None, metavar="PATH",
                        help="write the run's statistics (speed, expert throughput) as JSON")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def _parse_list(text: str, kind, name: str) -> List:
    try:
        values = [kind(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated {name}, got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError(f"expected at least one value, got {text!r}")
    return values


def _int_list(text: str) -> List[int]:
    return _parse_list(text, int, "integers")


def _float_list(text: str) -> List[float]:
    return _parse_list(text, float, "numbers")


def _str_list(text: str) -> List[str]:
    return _parse_list(text, str.strip, "names")


def run(args: argparse.Namespace) -> int:
    environment = envs.get(args.env)
    problems = []
    if args.out.exists() and not args.out.is_dir():
        problems.append(f"--out {args.out} is a file, not a dataset directory")
    if args.episodes < 1:
        problems.append("--episodes must be at least 1")
    if args.steps < 1:
        problems.append("--steps must be at least 1")
    if args.episodes_per_shard < 1:
        problems.append("--episodes-per-shard must be at least 1")
    if min(args.sizes) < 4:
        problems.append("--sizes must be at least 4")
    if args.agents is not None and min(args.agents) < 1:
        problems.append("--agents must be positive")
    if not all(0.0 <= d < 0.6 for d in args.densities):
        problems.append("--densities must lie in [0, 0.6)")
    unknown = sorted(set(args.map_kinds) - set(MAP_KINDS))
    if unknown:
        problems.append(f"unknown --map-kinds {unknown}: choose from {', '.join(MAP_KINDS)}")
    if args.from_model is not None:
        if not environment.delta_data:
            problems.append(f"--from-model works with --env {' or '.join(DELTA_DATA)} only")
        if not args.from_model.is_file():
            problems.append(f"--from-model {args.from_model}: no such file")
        if args.teacher is not None and not args.teacher.is_file():
            problems.append(f"--teacher {args.teacher}: no such file")
        if args.closeness < 0:
            problems.append("--closeness must be >= 0")
        elif args.closeness and args.teacher is None:
            problems.append("--closeness weighs a --teacher's rankings: give --teacher")
        if args.window < 1 or args.keep < 1:
            problems.append("--window and --keep must be at least 1")
        elif args.steps <= args.window:
            problems.append(f"--steps ({args.steps}) must exceed --window ({args.window})")
    elif args.teacher is not None:
        problems.append("--teacher labels a model's rollouts: give --from-model")
    problems += task_lists.refused(args)
    problems += environment.check_generate(args)
    if args.seed is None:
        args.seed = 1 if args.from_model is not None else GeneratorConfig().seed
    if problems:
        for problem in problems:
            print(f"marlgpt generate: {problem}", file=sys.stderr)
        return 2
    workers = args.workers or multiprocessing.cpu_count()
    try:
        env = envs.make_generator(args.env, environment.generator_settings(args))
        if args.from_model is not None:  # the model's own rollouts, labelled in its worst windows
            env = _delta_generator(env, args)
    except ValueError as exc:
        print(f"marlgpt generate: {exc}", file=sys.stderr)
        return 2
    try:
        stats = generate(args.out, args.episodes, env, workers=workers,
                         episodes_per_shard=args.episodes_per_shard, tokens=not args.no_tokens,
                         overwrite=args.overwrite, progress=not args.no_progress)
    except DatasetError as exc:
        print(f"marlgpt generate: {exc}", file=sys.stderr)
        return 2
    print(f"dataset {args.out}: {stats['episodes']} episodes, {stats['rows']} agent-steps")
    print(f"this run: {stats['agent_steps']} agent-steps in {stats['seconds']:.1f} s "
          f"= {stats['agent_steps_per_s']:.0f} agent-steps/s over {len(stats['per_worker'])} "
          "worker(s)")
    for pid, worker in sorted(stats["per_worker"].items()):
        print(f"  worker {pid}: {worker['agent_steps_per_s']:.0f} agent-steps/s")
    if stats["expert_throughput"] is not None:
        kinds = ", ".join(f"{k} {v:.3f}" for k, v in stats["expert_throughput_by_map_kind"].items())
        unit = environment.score_unit
        who = "model" if args.from_model is not None else "expert"
        print(f"{who} score: {stats['expert_throughput']:.3f} {unit} ({kinds})")
    if args.stats_json:
        args.stats_json.parent.mkdir(parents=True, exist_ok=True)
        args.stats_json.write_text(json.dumps(stats, indent=2) + "\n")
        print(f"wrote {args.stats_json}")
    return 0


def _delta_generator(generator, args: argparse.Namespace):
    """Delta data (``data.delta``) over ``generator``'s episodes: ``--from-model``'s rollouts;
    a ValueError for a model that does not fit."""
    from marlgpt_planner.policy import ModelError
    from marlgpt_training.data.delta import DeltaConfig, DeltaGenerator

    try:
        return DeltaGenerator(generator.config, DeltaConfig(
            str(args.from_model), args.resolution, args.sample, args.window, args.keep,
            args.path_weight, None if args.teacher is None else str(args.teacher),
            args.closeness))
    except ModelError as exc:
        raise ValueError(str(exc)) from None
