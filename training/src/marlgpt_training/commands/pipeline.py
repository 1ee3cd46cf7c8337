"""``marlgpt pipeline``: a time budget in, a trained, exported and evaluated model out."""
import argparse
from pathlib import Path

from marlgpt_planner import step_rule
from marlgpt_training.commands.eval import _int_list as _agents  # the --agents parser of eval


def add_parser(sub: "argparse._SubParsersAction") -> None:
    from marlgpt_training.model.gpt import SIZES

    parser = sub.add_parser(
        "pipeline",
        help="generate, train, export and evaluate within a time budget (a GPU window)",
        description="Turn a time budget into a better model, with nothing to hand-write: "
        "probe the generation and training speed, plan data and steps so the cosine schedule "
        "ends on time, generate, train (resuming the probe's steps; --init continues an "
        "earlier run or released checkpoint), export the ONNX file, measure its agreement "
        "with the expert on held-out rows, evaluate it on the shared benchmark subsets (the "
        "collision shield, greedy) while time is left, and write OUT/summary.json (seconds "
        "per stage, samples/s, samples, episodes, agreement, scores per set and agent "
        "count) with OUT/model.onnx and a weights-only OUT/checkpoint. The run ends within "
        "the budget plus about 10 %. docs/training.md, 'A GPU window'.",
        epilog="examples: marlgpt pipeline --size tiny --budget-s 150 --workers 2 --out "
        "runs/pipe (a 2-core CPU);  marlgpt pipeline --size 2m --budget-s 540 --workers 16 "
        "--init shared-model/checkpoint --set optim.batch_size=2048 --set optim.lr=1e-3 --out "
        "runs/gpu (one GPU window)")
    parser.add_argument("--size", required=True, choices=sorted(SIZES),
                        help="model size (training/configs/SIZE.yaml gives the rest)")
    parser.add_argument("--budget-s", required=True, type=float, metavar="S",
                        help="seconds the whole run may take (at least 30)")
    parser.add_argument("--out", required=True, type=Path, metavar="DIR",
                        help="output directory: data, run, model.onnx, checkpoint, summary.json")
    parser.add_argument("--workers", type=int, default=1, metavar="N",
                        help="processes for generation and evaluation (default: %(default)s)")
    parser.add_argument("--init", default=None, metavar="RUN",
                        help="start from this run's, checkpoint's or released checkpoint's "
                        "weights (same size and token layout)")
    parser.add_argument("--eval-instances", type=int, default=2, metavar="N",
                        help="at most N instances per set and agent count, in whole rounds "
                        "while time is left (default: %(default)s)")
    parser.add_argument("--eval-agents", type=_agents, default=[8, 32], metavar="N,N",
                        help="agent counts to evaluate (default: 8,32)")
    parser.add_argument("--map-set", action="append", type=Path, default=None, metavar="DIR",
                        help="benchmark map set (repeatable; default: the shared 01-random and "
                        "02-mazes)")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override the size's training config, e.g. --set "
                        "optim.batch_size=2048 (repeatable)")
    parser.add_argument("--probe-steps", type=int, default=20, metavar="N",
                        help="training steps of the speed probe (default: %(default)s)")
    parser.add_argument("--resolution", choices=step_rule.names(fleet=False),
                        default=step_rule.SHIELD,
                        help="how the evaluation settles steps; sequential trains a model for "
                        "the sequential resolution: its data records the claims each robot "
                        "sees in turn (encoder v3), and --init may be a model of an older "
                        "layout (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="data and training seed")
    parser.add_argument("--progress", action="store_true", help="progress bars per stage")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from marlgpt_training.data.records import DatasetError
    from marlgpt_training.pipeline import PipelineOptions, default_map_sets, main_cli

    options = PipelineOptions(
        size=args.size, budget_s=args.budget_s, out=args.out, workers=args.workers,
        init=args.init, eval_instances=args.eval_instances, eval_agents=args.eval_agents,
        map_sets=args.map_set or default_map_sets(), overrides=args.set,
        probe_steps=max(2, args.probe_steps), seed=args.seed, progress=args.progress,
        resolution=args.resolution)
    try:
        return main_cli(options)
    except (DatasetError, FileNotFoundError, ValueError) as exc:
        print(f"marlgpt pipeline: {exc}", file=sys.stderr)
        return 2
