"""How often an exported model picks the expert's action on recorded expert states.

Usage: scripts/run python scripts/imitation_accuracy.py MODEL.onnx DATASET_DIR [--shard N]
       [--rows N] [--seed S]

Prints top-1 agreement with the expert, the expert's and the model's wait rates, the mean
probability given to the expert's action and its negative log-likelihood, on ``--rows`` rows
drawn from a `marlgpt generate` dataset (every shard, or one with ``--shard``); use a dataset
made with another seed than the training data. This is the imitation side; `marlgpt eval` is
the closed-loop side (`marlgpt_training.benchmark.agreement`, also used by
`marlgpt pipeline`).
"""
import argparse

from marlgpt_training.benchmark.agreement import expert_agreement


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model")
    parser.add_argument("dataset")
    parser.add_argument("--shard", type=int, default=None)
    parser.add_argument("--rows", type=int, default=1024)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    result = expert_agreement(args.model, args.dataset, args.rows, args.seed, args.shard)
    print(f"{args.model}: agreement {result['agreement']:.3f}, expert waits "
          f"{result['expert_waits']:.3f}, model waits {result['model_waits']:.3f}, "
          f"p(expert action) {result['p_expert_action']:.3f}, NLL {result['nll']:.3f} "
          f"({result['rows']} rows)")


if __name__ == "__main__":
    main()
