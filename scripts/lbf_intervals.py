"""Level-Based Foraging scores of checkpoints with 95 % intervals, and their paired
differences, on `marlgpt eval --env lbf`'s episodes (the same seeds and tasks in turn: each
mean is that command's).

    scripts/run python scripts/lbf_intervals.py runs/ft-lbf-pre runs/ft-lbf --episodes 200 \
        [--sample] [--tasks training/configs/tasks/zero-shot.yaml]

Per checkpoint: the mean normalised team return +- 1.96 standard errors over the episodes;
with two or more, each one's paired difference from the first (the same episodes). With
``--tasks``, on that task file's held-out test tasks (``marlgpt eval --tasks``).
"""
import argparse
from typing import List

from marlgpt_training import tasks as task_lists
from marlgpt_training.envs import lbf
from marlgpt_training.envs.common import interval


def returns(path: str, episodes: int, sample: bool, tasks=lbf.TASKS) -> List[float]:
    from marlgpt_training.policies.model import VectorModel

    return lbf.evaluate(VectorModel(path, lbf.NAME, lbf.ENCODER, sample=sample),
                        episodes, tasks=tasks)["returns"]


def shown(values: List[float]) -> str:
    mean, half = interval(values)
    return f"{mean:+.3f} [{mean - half:+.3f}, {mean + half:+.3f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="runs or checkpoints trained on lbf")
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--sample", action="store_true",
                        help="sampled actions (marlgpt eval --sample) instead of greedy")
    parser.add_argument("--tasks", default=None, metavar="YAML",
                        help="score on this task file's test tasks (default: lbf's own mix)")
    args = parser.parse_args()
    tasks = task_lists.load(args.tasks, lbf.NAME)["test"] if args.tasks else lbf.TASKS
    results = {run: returns(run, args.episodes, args.sample, tasks) for run in args.runs}
    first = results[args.runs[0]]
    mode = "sampled" if args.sample else "greedy"
    for run, values in results.items():
        line = f"{run} ({mode}, {args.episodes} episodes): {shown(values)}"
        if run != args.runs[0]:
            line += f"; paired difference {shown([b - a for a, b in zip(first, values)])}"
        print(line)


if __name__ == "__main__":
    main()
