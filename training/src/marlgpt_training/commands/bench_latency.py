"""``marlgpt bench-latency``: per-call latency of an exported model on every backend here."""
import argparse
import json
import sys
from pathlib import Path
from typing import List


def add_parser(sub: "argparse._SubParsersAction") -> None:
    parser = sub.add_parser(
        "bench-latency",
        help="measure an exported model's per-call latency on every backend available here",
        description="Time marlgpt_planner's RuntimePolicy (the robots' runtime) on an exported "
        "model: one call decides for a whole batch of agents. For each backend available on this "
        "machine (ONNX Runtime CPU always; CUDA, ONNX Runtime TensorRT and native TensorRT "
        "where installed) and each batch size, prints p50/p99 milliseconds per call and "
        "decisions per second. Inputs are the observations recorded beside the model by "
        "'marlgpt export' (random tokens if there are none).",
        epilog="example: marlgpt bench-latency --model out/2m.onnx --threads 1 "
        "--batch 1,8,32 --json out/latency.json",
    )
    parser.add_argument("--model", type=Path, required=True, metavar="PATH",
                        help=".onnx model (or .engine/.plan with its .json sidecar)")
    parser.add_argument("--threads", type=int, default=1, metavar="N",
                        help="CPU threads per call (default: %(default)s)")
    parser.add_argument("--batch", type=_sizes, default=[1, 8, 32], metavar="N,N,...",
                        help="batch sizes (agents per call; default: 1,8,32)")
    parser.add_argument("--backends", default=None, metavar="NAME,...",
                        help="backends to time (default: every one available here; names: "
                        "cpu, cuda, ort-tensorrt, tensorrt)")
    parser.add_argument("--seconds", type=float, default=2.0, metavar="S",
                        help="time spent measuring each batch size (default: %(default)s)")
    parser.add_argument("--json", type=Path, default=None, metavar="PATH",
                        help="write the results as JSON")
    parser.set_defaults(run=run)


def _sizes(text: str) -> List[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") \
            from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"batch sizes must be positive, got {text!r}")
    return values


def run(args: argparse.Namespace) -> int:
    from marlgpt_planner.policy import BACKENDS, ModelError
    from marlgpt_training.export.latency import available_backends, measure

    if args.threads < 1 or args.seconds <= 0:
        print("marlgpt bench-latency: --threads must be >= 1 and --seconds > 0", file=sys.stderr)
        return 2
    backends = (args.backends.split(",") if args.backends
                else available_backends(args.model))
    unknown = [b for b in backends if b not in BACKENDS[1:]]
    if unknown:
        print(f"marlgpt bench-latency: unknown backend(s) {', '.join(unknown)}; "
              f"choose from {', '.join(BACKENDS[1:])}", file=sys.stderr)
        return 2
    try:
        results = measure(args.model, backends, args.batch, args.threads, args.seconds)
    except (ModelError, ValueError) as exc:
        print(f"marlgpt bench-latency: {exc}", file=sys.stderr)
        return 2
    print(f"{args.model}: {args.threads} thread(s)")
    print(f"{'backend':<13} {'batch':>5} {'p50 ms':>8} {'p99 ms':>8} {'decisions/s':>12}")
    for row in results["rows"]:
        print(f"{row['backend']:<13} {row['batch']:>5} {row['p50_ms']:>8.3f} "
              f"{row['p99_ms']:>8.3f} {row['decisions_per_s']:>12,.0f}")
    for backend, reason in results["skipped"].items():
        print(f"{backend:<13} skipped: {reason}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0
