"""``marlgpt compare``: are two benchmark results really different? (paired, per instance)"""
import argparse
import json
import sys
from pathlib import Path

from marlgpt_training.benchmark.compare import (
    compare,
    format_table,
    load_result,
    reference_result,
    to_json,
)


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
        "pibt.json model.json; against a published algorithm's results on the same "
        "instances: marlgpt compare --reference RHCR --map-set "
        "../shared/benchmarks/pogema-lmapf/02-mazes model.json",
    )
    parser.add_argument("results", type=Path, nargs="+", metavar="A.json B.json",
                        help="the reference result A and the result B compared with it (only "
                        "B with --reference)")
    parser.add_argument("--reference", metavar="NAME",
                        help="A is the published results of NAME (e.g. RHCR, Follower) stored "
                        "with the map set (--map-set), instance by instance")
    parser.add_argument("--map-set", type=Path, metavar="DIR",
                        help="with --reference: the map set directory")
    parser.add_argument("--json", type=Path, metavar="PATH",
                        help="also write the comparison as JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.json is not None and args.json.is_dir():
        print(f"marlgpt compare: --json {args.json} is a directory", file=sys.stderr)
        return 2
    wanted = 1 if args.reference else 2
    if len(args.results) != wanted or (args.reference and args.map_set is None):
        print("marlgpt compare: give A.json and B.json, or --reference NAME --map-set DIR "
              "and B.json", file=sys.stderr)
        return 2
    try:
        b = load_result(args.results[-1])
        a = (reference_result(args.map_set, args.reference) if args.reference
             else load_result(args.results[0]))
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
