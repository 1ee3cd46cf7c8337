"""Check a TensorRT engine against the ONNX model it was built from.

    python3 -m marlgpt_planner.check_engine --onnx model.onnx --engine model.engine

Writes the engine's metadata sidecar (``model.engine.json``: the ONNX model's metadata, its
SHA-256 and the TensorRT version) when it is missing or belongs to another ONNX file, runs both
on the observations recorded beside the model by ``marlgpt export``, and reports how often their
greedy actions agree and the largest logit difference. Exit status 1 when agreement is below
``--min-agreement`` (default 99.5 %), 2 on unusable input.
"""
import argparse
import json
import sys
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

from marlgpt_planner.policy import (
    ModelError,
    RuntimePolicy,
    agreement,
    format_agreement,
    load_observations,
    sha256_file,
    sidecar_path,
    write_sidecar,
)


def compare(reference: RuntimePolicy, other: RuntimePolicy, values: np.ndarray,
            action_mask: np.ndarray) -> Dict[str, float]:
    """Greedy-action agreement and max |logit diff| of ``other`` against ``reference``."""
    return agreement(reference.logits(values), other.logits(values), action_mask)


def ensure_sidecar(onnx_path: Path, engine_path: Path, reference: RuntimePolicy) -> bool:
    """Write the engine's sidecar from the ONNX model unless it already describes that model."""
    sidecar = sidecar_path(engine_path)
    digest = sha256_file(onnx_path)
    if sidecar.is_file():
        try:
            if json.loads(sidecar.read_text()).get("onnx_sha256") == digest:
                return False
        except ValueError:
            pass
    try:
        import tensorrt

        version = tensorrt.__version__
    except ImportError:
        version = "unknown"
    write_sidecar(engine_path, reference.metadata, {"onnx_sha256": digest, "tensorrt": version})
    return True


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m marlgpt_planner.check_engine",
        description="Compare a TensorRT engine's greedy actions and logits with its ONNX model "
        "on recorded observations.")
    parser.add_argument("--onnx", type=Path, required=True, help="the exported model")
    parser.add_argument("--engine", type=Path, required=True,
                        help="the engine built from it (.engine/.plan), or an .onnx to build "
                        "and cache an engine from")
    parser.add_argument("--observations", type=Path, default=None,
                        help="recorded observations (default: MODEL.observations.npz)")
    parser.add_argument("--min-agreement", type=float, default=0.995,
                        help="least fraction of equal greedy actions (default: %(default)s)")
    parser.add_argument("--json", type=Path, default=None, help="write the result as JSON")
    args = parser.parse_args(argv)
    observations = args.observations or args.onnx.with_name(args.onnx.stem
                                                             + ".observations.npz")
    try:
        reference = RuntimePolicy(args.onnx, backend="cpu")
        if not observations.is_file():
            raise ModelError(f"{observations}: no recorded observations (marlgpt export "
                             "writes them beside the model)")
        values, mask = load_observations(observations)
        if not args.engine.is_file():
            raise ModelError(f"{args.engine}: no such engine file")
        if args.engine.suffix != ".onnx" and ensure_sidecar(args.onnx, args.engine, reference):
            print(f"wrote {sidecar_path(args.engine)}")
        engine = RuntimePolicy(args.engine, backend="tensorrt", max_batch=64)
    except (ModelError, OSError, ValueError) as exc:
        print(f"check_engine: {exc}", file=sys.stderr)
        return 2
    result = compare(reference, engine, values, mask)
    print(format_agreement(result, ("onnx fp32", f"{args.engine.name} ({engine.backend})")))
    if args.json:
        args.json.write_text(json.dumps(dict(result, onnx=str(args.onnx),
                                             engine=str(args.engine)), indent=2) + "\n")
    if result["same_action"] < args.min_agreement:
        print(f"FAILED: agreement below {args.min_agreement * 100:.1f}%", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
