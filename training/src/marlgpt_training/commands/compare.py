"""``marlgpt compare``: are two benchmark results really different? (paired, per instance)"""
import argparse
import json
import sys
from pathlib import Path

from marlgpt_training.benchmark.compare import compare, format_table, load_result, to_json


def add_parser(sub: "argparse._SubParsersAction") -> None:
    parser = sub.add_parser(
        "compare",
        help="compare two marlgpt eval --json results instance by instance",
        description="Compare two POGEMA benchmark results written by marlgpt eval --json on "
        "the same map set: per agent count and for the score, the mean per-instance "
        "difference B - A with its 95 % Student-t interval and the instances each side won. "
        "Instances that only one result played are left out (and counted). When the score's "
        "interval contains 0, those instances cannot tell the two policies apart.",
        epilog="example: marlgpt eval --policy bfs --resolution shield --map-set "
        "../shared/benchmarks/pogema-lmapf/02-mazes --agents 8,32 --max-instances 32 --json "
        "pibt.json; (the same with --policy MODEL.onnx --json model.json); marlgpt compare "
        "pibt.json model.json",
    )
    parser.add_argument("a", type=Path, metavar="A.json", help="the reference result")
    parser.add_argument("b", type=Path, metavar="B.json", help="the result compared with A")
    parser.add_argument("--json", type=Path, metavar="PATH",
                        help="also write the comparison as JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.json is not None and args.json.is_dir():
        print(f"marlgpt compare: --json {args.json} is a directory", file=sys.stderr)
        return 2
    try:
        a, b = load_result(args.a), load_result(args.b)
        rows, score, unmatched = compare(a, b)
    except ValueError as exc:
        print(f"marlgpt compare: {exc}", file=sys.stderr)
        return 2
    print(format_table(a, b, rows, score, unmatched))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(to_json(a, b, rows, score, unmatched), indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0
