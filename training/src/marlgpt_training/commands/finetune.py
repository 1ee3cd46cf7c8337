"""``marlgpt finetune``: online PPO from a pretrained checkpoint (one process, or under
torchrun)."""
import argparse
import json
import os
import sys
from pathlib import Path


def add_parser(sub: "argparse._SubParsersAction") -> None:
    from marlgpt_training.finetune.worlds import names

    parser = sub.add_parser(
        "finetune",
        help="fine-tune a pretrained checkpoint online with PPO",
        description="Online fine-tuning (docs/training.md, the paper's sections 4.3 and "
        "5.2.4): start from a pretrained checkpoint, re-initialise its critic, and step "
        "several instances of the environment together. For the first ppo.warmup_updates "
        "updates the actor (embeddings, trunk, actor branch) is frozen, with no gradient, "
        "while the fresh critic learns V(s) = sum_a pi(a|s) Q(s,a) from the rollouts; then "
        "actor and critic are fine-tuned jointly with PPO (clipped surrogate, HL-Gauss value "
        "loss, entropy bonus, GAE). In pogema-lmapf every step is settled by the fleet's "
        "step rule (settings.resolution: shield or soft), so the policy learns what the "
        "fleet executes; in rware the evaluation samples (settings.eval_sample), in grf it "
        "scores wins. Checkpoints in OUT/checkpoints (the layout marlgpt eval and export "
        "read, plus the optimizer and the update counter), one JSON line per update in "
        "OUT/metrics.jsonl, TensorBoard scalars in OUT/tb; the policy is evaluated "
        "before the first update and at the end (run.eval_every: also in between), with a "
        "95 % interval; OUT/checkpoints/best.json names the checkpoint of the best one. "
        "DDP under torchrun (gloo on CPUs, NCCL on GPUs): every process runs "
        "its own instances.",
        epilog="examples: marlgpt finetune --config training/configs/finetune-tiny.yaml "
        "--init runs/lbf-bc --out runs/lbf-ft;  marlgpt finetune --resume runs/lbf-ft "
        "--set ppo.updates=400;  torchrun --nproc-per-node 2 -m marlgpt_training.cli "
        "finetune --config training/configs/finetune-tiny.yaml --init runs/lbf-bc --out "
        "runs/lbf-ft-ddp",
    )
    parser.add_argument("--config", type=Path, default=None,
                        help="YAML fine-tuning config (sections env, init, settings, rollout, "
                        "ppo, run; training/configs/finetune-tiny.yaml); not with --resume")
    parser.add_argument("--init", default=None, metavar="RUN",
                        help="the pretrained run, checkpoint directory or model.safetensors "
                        "(default: the config's init)")
    parser.add_argument("--env", choices=names(), default=None,
                        help="the environment (default: the config's env); the checkpoint "
                        "must have been trained on it, with its token layout")
    parser.add_argument("--out", type=Path, default=None, metavar="DIR",
                        help="run directory of a new run")
    parser.add_argument("--resume", type=Path, default=None, metavar="RUN_DIR",
                        help="continue this run from its latest checkpoint (weights, "
                        "optimizer, update counter; its saved config, with --set applied); "
                        "the episodes in progress when it stopped are not replayed")
    parser.add_argument("--updates", type=int, default=None, metavar="N",
                        help="stop after update N (ppo.updates stays the run's length)")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override a config value, e.g. --set ppo.lr=3e-5 --set "
                        "rollout.num_envs=16 --set settings.resolution=soft (repeatable)")
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress bar: one line per run.log_every updates")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    def fail(message: str) -> int:
        print(f"marlgpt finetune: {message}", file=sys.stderr)
        return 2

    if args.resume is None and (args.config is None or args.out is None):
        return fail("give --config and --out for a new run, or --resume RUN_DIR")
    new_run_options = (args.config, args.init, args.env)
    if args.resume is not None and any(option is not None for option in new_run_options):
        return fail("--resume continues a run with its own config: --config, --init and "
                    "--env are for a new run (use --set to change a value)")
    target = args.resume if args.resume is not None else args.out
    if target.exists() and not target.is_dir():
        return fail(f"{target} is a file, not a run directory")
    if args.resume is None and (target / "checkpoints").is_dir():
        return fail(f"{target} already holds a run: continue it with --resume {target}, or "
                    "give another --out")
    if args.updates is not None and args.updates < 0:
        return fail(f"--updates must be at least 0, got {args.updates}")
    from marlgpt_training.finetune import config as config_module
    from marlgpt_training.finetune.loop import Run, finetune

    try:
        if args.resume is not None:
            start = Run.resume(args.resume, args.set)
        else:
            overrides = list(args.set) + ([f"env={args.env}"] if args.env else [])
            start = Run.start(config_module.load(args.config, overrides), args.init)
        result = finetune(start, target, progress=not args.no_progress,
                          stop_at=args.updates)
    except (OSError, ValueError) as exc:
        return fail(str(exc))
    if int(os.environ.get("RANK", "0")) == 0:
        print(json.dumps({k: round(v, 5) if isinstance(v, float) else v
                          for k, v in result.items() if k != "eval_scores"}))
    return 0
