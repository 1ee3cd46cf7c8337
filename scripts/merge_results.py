"""One `marlgpt eval --json` result from several runs of one policy on one map set.

    scripts/run python scripts/merge_results.py \
        --map-set ../shared/benchmarks/pogema-lmapf/02-mazes --out all-counts.json \
        counts-8-32.json counts-16-24-48.json counts-64.json

Agent counts (or instances) measured in separate runs become one result: the episodes are
pooled, and the per-agent means, the score and the published references on exactly those
instances are recomputed as `marlgpt eval` computes them (so `marlgpt compare` and
`scripts/plot_scores.py` read the merged file like any other). The runs must agree on the map
set, policy, rule and sampling; an instance measured twice is refused.
"""
import argparse
import json
import sys
from pathlib import Path
from typing import List

from marlgpt_planner.step_rule import StepRule
from marlgpt_training.benchmark.episode import EpisodeResult
from marlgpt_training.benchmark.evaluate import EvalReport
from marlgpt_training.benchmark.mapset import MapSet

#: What every merged run must share.
SAME = ("map_set", "policy", "resolution", "path_weight", "sample", "search", "rotations")


def merge(results: List[dict], map_set: MapSet) -> dict:
    """The merged result (``marlgpt eval --json``'s format); ValueError when the runs differ
    or overlap."""
    first = results[0]
    for key in SAME:
        values = {json.dumps(r.get(key, True if key == "rotations" else None)) for r in results}
        if len(values) > 1:
            raise ValueError(f"the runs differ in {key}: {', '.join(sorted(values))}")
    if first["map_set"] != map_set.name:
        raise ValueError(f"the runs are on {first['map_set']}, --map-set is {map_set.name}")
    episodes = [EpisodeResult(**e) for r in results for e in r["episodes"]]
    seen = set()
    for e in episodes:
        key = (e.map_name, e.seed, e.num_agents)
        if key in seen:
            raise ValueError(f"instance {key} is in more than one run")
        seen.add(key)
    episodes.sort(key=lambda e: (e.num_agents, e.map_name, e.seed))
    rule = StepRule(first["resolution"], first["path_weight"], first["search"],
                    first.get("rotations", True))
    return EvalReport(first["map_set"], first["policy"], episodes, map_set.reference_results(),
                      rule, first["sample"]).to_json()


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 2)[2])
    parser.add_argument("results", type=Path, nargs="+", metavar="RUN.json")
    parser.add_argument("--map-set", type=Path, required=True, metavar="DIR",
                        help="the map set the runs were made on (its published references)")
    parser.add_argument("--out", type=Path, required=True, metavar="PATH")
    args = parser.parse_args(argv)
    try:
        merged = merge([json.loads(p.read_text()) for p in args.results],
                       MapSet.load(args.map_set))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"merge_results: {exc}", file=sys.stderr)
        return 2
    args.out.write_text(json.dumps(merged, indent=2) + "\n")
    counts = ", ".join(merged["per_agents"])
    refs = ", ".join(f"{a} {v:.3f}" for a, v in merged["reference_score"].items()
                     if v is not None)
    print(f"{args.out}: agents {counts}; score {merged['score']:.3f} ({refs})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
