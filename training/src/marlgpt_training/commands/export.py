"""``marlgpt export``: a training checkpoint -> the ONNX model the robots run."""
import argparse
import sys
import warnings
from pathlib import Path


def add_parser(sub: "argparse._SubParsersAction") -> None:
    parser = sub.add_parser(
        "export",
        help="export a checkpoint to the ONNX model file the planner runs",
        description="Fold a checkpoint's actor for the POGEMA environment into an ONNX opset-13 "
        "graph (dynamic batch, float32 'observations' (batch, tokens) in, 'logits' (batch, 5) "
        "out, only ops TensorRT 8.2 parses), write the metadata the planner checks (encoder "
        "and version, radius, history, neighbours, layout digest, actions, run id, config "
        "hash), record observations from expert episodes beside it (OUT.observations.npz, for "
        "parity and TensorRT engine checks) and check parity: ONNX Runtime against torch, "
        "max |logit diff| under 1e-4. The file appears only if every check passes.",
        epilog="example: marlgpt export --checkpoint runs/tiny-1h --onnx out/tiny.onnx",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", metavar="PATH",
                        help="a run directory (its latest checkpoint), a checkpoints/step-N "
                        "directory or its model.safetensors")
    source.add_argument("--untrained", metavar="SIZE",
                        help="export a freshly initialised model of this size (tiny, 2m, 7m) "
                        "instead: for latency benchmarks, it plays no better than chance")
    parser.add_argument("--onnx", type=Path, required=True, metavar="OUT.onnx",
                        help="where to write the model")
    parser.add_argument("--observations", type=int, default=2048, metavar="N",
                        help="observations to record beside the model (default: %(default)s; "
                        "0: none)")
    parser.add_argument("--force", action="store_true",
                        help="replace OUT.onnx and its observations if they exist")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from marlgpt_training.export import export_checkpoint
    from marlgpt_training.export.graph import ExportError

    if args.observations < 0:
        print("marlgpt export: --observations must be >= 0", file=sys.stderr)
        return 2
    warnings.filterwarnings("ignore", module="torch.onnx")
    try:
        source = args.checkpoint
        if args.untrained:
            import tempfile

            from marlgpt_training.envs.pogema import save_untrained

            scratch = tempfile.TemporaryDirectory(prefix="marlgpt-untrained-")
            source = save_untrained(Path(scratch.name) / f"untrained-{args.untrained}",
                                    args.untrained)
        report = export_checkpoint(source, args.onnx, num_observations=args.observations,
                                   overwrite=args.force)
    except (OSError, ValueError, ExportError) as exc:
        print(f"marlgpt export: {exc}", file=sys.stderr)
        return 2
    print(report.summary())
    return 0
