"""How often an exported model picks the expert's action on recorded expert states.

Usage: scripts/run python scripts/imitation_accuracy.py MODEL.onnx DATASET_DIR [--shard N]
       [--rows N] [--seed S]

Prints top-1 agreement with the expert, the expert's and the model's wait rates, the mean
probability given to the expert's action and its negative log-likelihood, on ``--rows`` rows
drawn from one shard of a `marlgpt generate` dataset (rows a short training run has mostly
not seen). This is the imitation side; `marlgpt eval` is the closed-loop side.
"""
import argparse

import numpy as np

from marlgpt_planner.policy import Policy
from marlgpt_training.data.records import Dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model")
    parser.add_argument("dataset")
    parser.add_argument("--shard", type=int, default=7)
    parser.add_argument("--rows", type=int, default=1024)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    dataset = Dataset(args.dataset)
    shard = dataset.load_shard(dataset.shards[args.shard])
    rows = np.random.default_rng(args.seed).choice(len(shard["action"]), args.rows, replace=False)
    policy = Policy(args.model, threads=1)
    logits = np.concatenate([policy.logits(shard["tokens"][rows[i:i + 64]].astype(np.float32))
                             for i in range(0, len(rows), 64)])
    logits = np.where(shard["action_mask"][rows][:, :policy.num_actions], logits, -np.inf)
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    expert, chosen = shard["action"][rows], logits.argmax(axis=1)
    p_expert = probs[np.arange(len(rows)), expert]
    print(f"{args.model}: agreement {np.mean(chosen == expert):.3f}, expert waits "
          f"{np.mean(expert == 0):.3f}, model waits {np.mean(chosen == 0):.3f}, "
          f"p(expert action) {p_expert.mean():.3f}, NLL {np.mean(-np.log(p_expert + 1e-12)):.3f} "
          f"({args.rows} rows of shard {args.shard})")


if __name__ == "__main__":
    main()
