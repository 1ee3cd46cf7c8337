"""Training speed: the data loader alone, and training steps of each model size and loss mode.

Usage: scripts/run python scripts/bench_training.py DATASET_DIR
(a POGEMA dataset from `marlgpt generate`, e.g. data/pogema-1h made by tiny-1h.yaml)
"""
import sys
import time
from pathlib import Path

import torch

from marlgpt_training.data.loader import BatchStream, loaders
from marlgpt_training.model.gpt import SIZES, MarlGpt
from marlgpt_training.model.losses import LossConfig, compute_losses
from marlgpt_training.train.config import parse
from marlgpt_training.train.trainer import make_optimizer


def main(data: Path) -> None:
    for workers in (0, 2):
        batches = iter(loaders([BatchStream([data], 256, seed=0)], workers)[0])
        next(batches)
        start, samples = time.perf_counter(), 0
        while time.perf_counter() - start < 10:
            next(batches)
            samples += 256
        rate = samples / (time.perf_counter() - start)
        print(f"loader alone, {workers} worker processes: {rate:.0f} samples/s")
    stream = iter(BatchStream([data], 128, seed=0))
    fixed = [next(stream) for _ in range(8)]
    for size in ("tiny", "2m"):
        for mode in ("bc", "full"):
            model, target = MarlGpt(SIZES[size]), MarlGpt(SIZES[size]).requires_grad_(False)
            optimizer = make_optimizer(model, parse({"model": {"size": size}}))
            steps = 6 if size == "2m" else 12
            for i in range(steps):
                if i == 2:
                    start = time.perf_counter()
                loss = compute_losses(model, fixed[i % 8], LossConfig(mode), target)["loss"]
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            rate = (steps - 2) * 128 / (time.perf_counter() - start)
            print(f"{size} {mode}: {rate:.0f} samples/s (batch 128, "
                  f"{torch.get_num_threads()} threads)")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(Path(sys.argv[1]))
