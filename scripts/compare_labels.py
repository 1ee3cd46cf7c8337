"""What two delta datasets of the same learner states teach: the share of waits among the
labels, the learner's agreement with them (each episode's ``learner_agreement``, rows
weighted; present for ``marlgpt generate --teacher`` data) and, when both hold the same
states row for row, how often their labels agree.

    scripts/run python scripts/compare_labels.py data/guide-1 data/expert-1
"""
import argparse
import sys
from pathlib import Path
from typing import List

import numpy as np

from marlgpt_training.data.records import Dataset


def summary(path: Path) -> dict:
    """Labels, states and the learner's row-weighted agreement of one dataset."""
    actions, states, agree, rows = [], [], 0.0, 0
    for shard in Dataset(path):
        actions.append(shard["action"])
        states.append(shard["state/position"].reshape(len(shard["action"]), -1))
        meta = shard["meta"]
        for episode in meta["episodes"]:
            if "learner_agreement" in episode:
                n = episode["num_agents"] * len(episode["kept"])  # rows: x window
                agree += episode["learner_agreement"] * n
                rows += n
    action = np.concatenate(actions)
    return {"action": action, "states": np.concatenate(states),
            "wait": float((action == 0).mean()), "learner": agree / rows if rows else None}


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("datasets", type=Path, nargs="+", metavar="DIR")
    args = parser.parse_args(argv)
    found = [summary(p) for p in args.datasets]
    for path, s in zip(args.datasets, found):
        learner = "n/a" if s["learner"] is None else f"{s['learner']:.1%}"
        print(f"{path}: {len(s['action'])} rows, waits {s['wait']:.1%}, learner's greedy move "
              f"= label {learner}")
    first = found[0]
    for path, s in zip(args.datasets[1:], found[1:]):
        if s["states"].shape == first["states"].shape and (s["states"] == first["states"]).all():
            print(f"{args.datasets[0]} vs {path}: same states, labels agree on "
                  f"{(s['action'] == first['action']).mean():.1%}")
        else:
            print(f"{args.datasets[0]} vs {path}: other states, labels not compared")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
