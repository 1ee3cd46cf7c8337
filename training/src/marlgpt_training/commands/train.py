"""``marlgpt train``: train MARL-GPT on expert datasets (one process, or under torchrun)."""
import argparse
import json
import os
import sys
import time
from pathlib import Path

from marlgpt_training.data.records import MANIFEST, DatasetError, read_manifest


def add_parser(sub: "argparse._SubParsersAction") -> None:
    parser = sub.add_parser(
        "train",
        help="train the model on expert datasets",
        description="Train MARL-GPT (docs/training.md): AdamW with warmup and cosine decay, "
        "gradient clipping and accumulation, task-balanced batches over environments, "
        "bf16 autocast on GPUs, DDP under torchrun (NCCL on GPUs, gloo on CPUs), checkpoints "
        "(safetensors + optimizer state + config) in OUT/checkpoints, TensorBoard scalars in "
        "OUT/tb, evaluation on the benchmark harness at checkpoints.",
        epilog="examples: marlgpt train --config training/configs/tiny.yaml --max-steps 100 "
        "--out runs/t;  torchrun --nproc-per-node 8 -m marlgpt_training.cli train --config "
        "training/configs/2m.yaml --out runs/2m",
    )
    parser.add_argument("--config", required=True, type=Path, help="YAML training config")
    parser.add_argument("--data", nargs="+", default=None, metavar="DIR",
                        help="dataset directories (default: the config's data.dirs)")
    parser.add_argument("--max-steps", type=int, default=None, metavar="N",
                        help="stop after N optimizer steps (the schedule still spans "
                        "optim.max_steps)")
    parser.add_argument("--out", type=Path, default=Path("runs/latest"), metavar="DIR",
                        help="run directory (default: %(default)s)")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override a config value, e.g. --set loss.mode=full "
                        "--set optim.lr=3e-4 (repeatable)")
    parser.add_argument("--resume", action="store_true",
                        help="continue from OUT's latest checkpoint")
    parser.add_argument("--init", default=None, metavar="RUN",
                        help="start from this run's (or checkpoint's) weights with a fresh "
                        "optimizer and schedule: fine-tuning, e.g. on old plus delta data "
                        "(the model size and token layout must match the config's)")
    parser.add_argument("--init-any-layout", action="store_true",
                        help="with --init: the run's token layout may differ from the data's "
                        "(a warm start for a new encoder version, e.g. v3 data for the "
                        "sequential resolution from a v1 model; new token kinds start "
                        "untrained)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def _ensure_data(directory: Path, spec: dict, main: bool) -> None:
    """Generate a missing dataset from the config's ``data.generate`` settings (rank 0)."""
    if (directory / MANIFEST).is_file() and not spec:
        return
    if not main:  # other ranks wait for rank 0's dataset
        deadline = time.time() + 3600
        while not (directory / MANIFEST).is_file() or read_manifest(directory).get(
                "episodes", 0) < int(spec.get("episodes", 0)):
            if time.time() > deadline:
                raise DatasetError(f"timed out waiting for {directory}")
            time.sleep(2)
        return
    from marlgpt_training import envs
    from marlgpt_training.data.generate import generate

    spec = dict(spec)
    name = spec.pop("env", envs.POGEMA)
    episodes = int(spec.pop("episodes", 64))
    try:
        env = envs.make_generator(name, spec)
    except ValueError as exc:
        raise DatasetError(f"data.generate: {exc}") from None
    if not (directory / MANIFEST).is_file() or read_manifest(directory).get(
            "episodes", 0) < episodes:
        print(f"generating training data into {directory} ({episodes} episodes of {name})")
        generate(directory, episodes, env, workers=os.cpu_count() or 1)


def run(args: argparse.Namespace) -> int:
    from marlgpt_training.train import config as config_module

    try:
        config = config_module.load(args.config, args.set)
    except (OSError, ValueError) as exc:
        print(f"marlgpt train: {exc}", file=sys.stderr)
        return 2
    main = int(os.environ.get("RANK", "0")) == 0
    if args.out.exists() and not args.out.is_dir():
        print(f"marlgpt train: --out {args.out} is a file, not a run directory",
              file=sys.stderr)
        return 2
    if args.data:
        config.data.dirs = list(args.data)
        config.data.generate = None
    if not config.data.dirs:
        print("marlgpt train: no data: give --data DIR or data.dirs in the config",
              file=sys.stderr)
        return 2
    try:
        specs = config.data.generate or {}
        per_directory = bool(specs) and set(specs) <= set(config.data.dirs)
        for directory in config.data.dirs:
            spec = specs.get(directory) if per_directory else specs
            if spec:
                _ensure_data(Path(directory), spec, main)
            else:
                read_manifest(Path(directory))
        from marlgpt_training.train.trainer import train

        metrics = train(config, args.out, resume=args.resume, progress=not args.no_progress,
                        max_steps=args.max_steps, init=args.init,
                        init_any_layout=args.init_any_layout)
    except (DatasetError, FileNotFoundError, ValueError) as exc:
        print(f"marlgpt train: {exc}", file=sys.stderr)
        return 2
    if main:
        print(json.dumps({k: round(v, 5) for k, v in metrics.items()}))
    return 0
