"""Scores of checkpoints with 95 % intervals, and their paired differences, on `marlgpt eval
--env lbf|rware`'s episodes (the same seeds and tasks in turn).

    scripts/run python scripts/paired_intervals.py runs/ft-lbf-pre runs/ft-lbf --episodes 200 \
        [--sample] [--tasks training/configs/tasks/zero-shot.yaml]
    scripts/run python scripts/paired_intervals.py --env rware runs/rware-v2 runs/ft-rware \
        --episodes 80 --sample [--rware-size tiny --agents 2,4]

Per checkpoint: the mean score (LBF: the normalised team return; RWARE: deliveries per step)
+- 1.96 standard errors over the episodes; with two or more, each one's paired difference from
the first (the same episodes). With ``--tasks``, on that task file's held-out test tasks
(``marlgpt eval --tasks``). Greedy means equal `marlgpt eval`'s; sampled ones equal them for
LBF (every checkpoint draws from its own stream seeded 0, as the command's does).
"""
import argparse
from typing import List

from marlgpt_training import tasks as task_lists
from marlgpt_training.envs import lbf, rware
from marlgpt_training.envs.common import interval


def scores(env: str, path: str, episodes: int, sample: bool, tasks, seed: int = 10_000
           ) -> List[float]:
    from marlgpt_training.policies.model import VectorModel

    if env == lbf.NAME:
        return lbf.evaluate(VectorModel(path, lbf.NAME, lbf.ENCODER, sample=sample),
                            episodes, seed=seed, tasks=tasks)["returns"]
    model = VectorModel(path, rware.NAME, rware.ENCODER, sample=sample,
                        version=rware.ENCODER_VERSION)
    return [value for _, value in rware.episode_scores(lambda rng: model, episodes, tasks,
                                                       seed)]


def shown(values: List[float]) -> str:
    mean, half = interval(values)
    return f"{mean:+.4f} [{mean - half:+.4f}, {mean + half:+.4f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="runs or checkpoints trained on the environment")
    parser.add_argument("--env", choices=[lbf.NAME, rware.NAME], default=lbf.NAME)
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--sample", action="store_true",
                        help="sampled actions (marlgpt eval --sample) instead of greedy")
    parser.add_argument("--tasks", default=None, metavar="YAML",
                        help="score on this task file's test tasks (default: the environment's "
                        "own mix; rware: --rware-size x --agents)")
    parser.add_argument("--rware-size", nargs="+", default=list(rware.DEFAULT_SIZES))
    parser.add_argument("--agents", type=lambda text: [int(n) for n in text.split(",")],
                        default=list(rware.DEFAULT_AGENTS), help="rware: e.g. 2,4")
    parser.add_argument("--seed", type=int, default=10_000,
                        help="the first episode's seed (default: marlgpt eval's); another "
                        "one scores on episodes no evaluation during training saw")
    args = parser.parse_args()
    if args.tasks:
        tasks = [tuple(t) for t in task_lists.load(args.tasks, args.env)["test"]]
    elif args.env == lbf.NAME:
        tasks = lbf.TASKS
    else:
        tasks = rware.check_tasks(args.rware_size, args.agents)
    results = {run: scores(args.env, run, args.episodes, args.sample, tasks, args.seed)
               for run in args.runs}
    first = results[args.runs[0]]
    mode = "sampled" if args.sample else "greedy"
    for run, values in results.items():
        line = f"{run} ({args.env}, {mode}, {args.episodes} episodes): {shown(values)}"
        if run != args.runs[0]:
            line += f"; paired difference {shown([b - a for a, b in zip(first, values)])}"
        print(line)


if __name__ == "__main__":
    main()
