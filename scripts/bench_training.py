"""Training speed: samples/s and peak memory of training steps, and the data loader alone.

    scripts/run python scripts/bench_training.py --size 2m --batch 2048 --steps 30  # a GPU
    scripts/run python scripts/bench_training.py --size tiny --batch 64 --steps 4   # a CPU
    scripts/run python scripts/bench_training.py --data data/pogema-1h --loader      # + loader

Each configuration runs ``--steps`` optimizer steps on fixed batches (no loader: the model's
own speed) after ``--warmup`` steps that are not timed (compilation happens there). Batches
come from ``--data`` (a ``marlgpt generate`` dataset) or, without it, are synthetic rows of
the POGEMA token layout (the speed does not depend on the values). On CUDA the step runs in
bf16 autocast, as ``marlgpt train`` does. Prints one line per configuration and, with
``--json``, writes them all. Peak memory is the CUDA allocator's peak during the
configuration on a GPU; on a CPU, the process's peak resident memory so far (all
configurations before it included).
"""
import argparse
import itertools
import json
import resource
import sys
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Dict, Iterator, List

import torch

from marlgpt_planner.encoder import layout
from marlgpt_training.model.gpt import SIZES, MarlGpt, use_math_attention
from marlgpt_training.model.losses import LossConfig, compute_losses
from marlgpt_training.train.config import parse
from marlgpt_training.train.trainer import make_optimizer


def synthetic_batches(size: int, device: torch.device, count: int = 4) -> List[dict]:
    """Rows shaped like POGEMA's (radius 5, history 3, 8 neighbours), random values."""
    specs = layout(5, 3, 8)
    tokens = len(specs)
    index = {key: torch.tensor([getattr(s, key) for s in specs], device=device)
             for key in ("attr", "team", "agent", "time")}
    out = []
    for seed in range(count):
        g = torch.Generator().manual_seed(seed)
        mask = torch.rand(size, 5, generator=g) < 0.8
        mask[:, 0] = True
        action = torch.multinomial(mask.float(), 1, generator=g).squeeze(1)
        batch = {"tokens": torch.rand(size, tokens, generator=g),
                 "next_tokens": torch.rand(size, tokens, generator=g),
                 "action_mask": mask, "next_action_mask": mask.roll(1, 0), "action": action,
                 "reward": torch.rand(size, generator=g),
                 "done": torch.zeros(size, dtype=torch.bool),
                 "env_id": torch.zeros(size, dtype=torch.long)}
        batch = {k: v.to(device) for k, v in batch.items()}
        batch.update(index)
        out.append(batch)
    return out


def dataset_batches(data: Path, size: int, device: torch.device, count: int = 4) -> List[dict]:
    from marlgpt_training.data.loader import BatchStream

    stream = iter(BatchStream([data], size, seed=0))
    return [{k: v.to(device) for k, v in next(stream).items()} for _ in range(count)]


def peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2 ** 20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def bench_step(size: str, mode: str, attention: str, compiled: bool, batches: List[dict],
               steps: int, warmup: int, device: torch.device) -> Dict[str, object]:
    torch.manual_seed(0)
    model = MarlGpt(SIZES[size]).to(device)
    if attention == "math":
        use_math_attention(model)
    target = MarlGpt(SIZES[size]).to(device).requires_grad_(False) if mode == "full" else None
    if mode == "bc":
        model.critic.requires_grad_(False)
    optimizer = make_optimizer(model, parse({"model": {"size": size}}))
    forward = torch.compile(model) if compiled else model
    autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda"
                else nullcontext())
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    cycle: Iterator[dict] = itertools.cycle(batches)
    start = time.perf_counter()
    for i in range(warmup + steps):
        if i == warmup:
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            start = time.perf_counter()
        with autocast:
            loss = compute_losses(forward, next(cycle), LossConfig(mode), target)["loss"]
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - start
    batch = len(batches[0]["action"])
    return {"size": size, "mode": mode, "attention": attention, "compiled": compiled,
            "batch": batch, "steps": steps, "device": str(device),
            "samples_per_s": round(steps * batch / seconds, 1),
            "peak_memory_mb": round(peak_memory_mb(device), 1),
            "final_loss": round(float(loss.detach()), 4)}


def bench_loader(data: Path, batch: int, seconds: float = 10.0) -> List[Dict[str, object]]:
    from marlgpt_training.data.loader import BatchStream, loaders

    rows = []
    for workers in (0, 2):
        batches = iter(loaders([BatchStream([data], batch, seed=0)], workers)[0])
        next(batches)
        start, samples = time.perf_counter(), 0
        while time.perf_counter() - start < seconds:
            next(batches)
            samples += batch
        rows.append({"loader_workers": workers, "batch": batch,
                     "samples_per_s": round(samples / (time.perf_counter() - start), 1)})
    return rows


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench_training.py",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="2m", choices=sorted(SIZES),
                        help="model size (default: %(default)s)")
    parser.add_argument("--batch", type=int, default=2048, help="rows per step")
    parser.add_argument("--steps", type=int, default=20, help="timed steps per configuration")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    parser.add_argument("--mode", nargs="+", default=["bc"], choices=("bc", "full"),
                        help="loss modes to measure (default: bc)")
    parser.add_argument("--attention", nargs="+", default=["fused", "math"],
                        choices=("fused", "math"), help="attention kernels to measure")
    parser.add_argument("--compile", nargs="+", default=["auto"], choices=("auto", "on", "off"),
                        help="torch.compile: auto (on CUDA only), on, off; several: each")
    parser.add_argument("--data", type=Path, default=None,
                        help="take batches from this dataset instead of synthetic rows")
    parser.add_argument("--loader", action="store_true",
                        help="also time the data loader alone (needs --data)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--json", type=Path, default=None, help="write every row here")
    args = parser.parse_args(argv)
    if args.loader and args.data is None:
        parser.error("--loader needs --data")
    if min(args.batch, args.steps) < 1 or args.warmup < 0:
        parser.error("--batch and --steps must be >= 1, --warmup >= 0")
    device = torch.device(args.device)
    batches = (dataset_batches(args.data, args.batch, device) if args.data
               else synthetic_batches(args.batch, device))
    print(f"device {device}" + (f" ({torch.cuda.get_device_name(device)})"
                                if device.type == "cuda" else
                                f" ({torch.get_num_threads()} threads)"), flush=True)
    rows: List[Dict[str, object]] = []
    compiles = sorted({device.type == "cuda" if c == "auto" else c == "on"
                       for c in args.compile})
    for mode, attention, compiled in itertools.product(args.mode, args.attention, compiles):
        row = bench_step(args.size, mode, attention, compiled, batches, args.steps,
                         args.warmup, device)
        rows.append(row)
        print(f"{row['size']} {mode:4s} attention {attention:5s} "
              f"{'compiled' if compiled else 'eager   '}: {row['samples_per_s']:>10,.0f} "
              f"samples/s, peak memory {row['peak_memory_mb']:,.0f} MB "
              f"(batch {row['batch']})", flush=True)
    if args.loader:
        for row in bench_loader(args.data, args.batch):
            rows.append(row)
            print(f"loader alone, {row['loader_workers']} workers: "
                  f"{row['samples_per_s']:,.0f} samples/s", flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
