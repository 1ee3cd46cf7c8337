"""The ``marlgpt`` command: one entry point with a subcommand per task.

Each subcommand lives in its own module and registers itself through ``add_parser``; the
heavy imports (torch, pogema) happen only inside the subcommand that needs them, so
``marlgpt --help`` is instant and works without the ROS workspace sourced.
"""
import argparse
import sys
from typing import List, Optional

from marlgpt_training import __version__
from marlgpt_training.commands import (
    bench_latency,
    compare,
    export,
    finetune,
    generate,
    info,
    pipeline,
    train,
)
from marlgpt_training.commands import eval as eval_command

COMMANDS = (bench_latency, compare, eval_command, export, finetune, generate, info, pipeline,
            train)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="marlgpt",
        description="MARL-GPT for multi-robot path finding: expert data, benchmark evaluation, "
        "training and export of the model the marlgpt_planner ROS 2 node runs.",
        epilog="Run 'marlgpt COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version="marlgpt " + __version__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMANDS:
        module.add_parser(sub)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Parse ``argv`` and run the chosen subcommand; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    return int(args.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
