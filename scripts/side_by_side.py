"""One table of many `marlgpt eval --json` results on the same instances, as Markdown: each
policy's mean throughput per agent count and its score, its paired difference from a baseline
with the 95 % interval (`marlgpt compare`'s), and published algorithms on the same instances.

    scripts/run python scripts/side_by_side.py \
        --map-set ../shared/benchmarks/pogema-lmapf/02-mazes --agents 8,32 \
        --references Follower,MATS-LP,RHCR --baseline "plain PIBT + search 16" \
        "fleet default=docs/results/i32-02-mazes-shipped-search16.json" \
        "plain PIBT + search 16=docs/results/all-02-mazes-bfs-search16.json"

The instances are those every result played (map, seed and agent count), restricted to
``--agents``; a result that played more (all 128 maps) is cut to the common ones, so every
row is on the same instances. The score is the mean over maps of the per-map mean over the
agent counts, as `marlgpt eval` and `marlgpt compare` compute it.
"""
import argparse
import sys
from pathlib import Path
from typing import Dict, List, Tuple

from marlgpt_training.benchmark.compare import load_result, paired, reference_result

Instance = Tuple[str, int]


def by_instance(result: dict) -> Dict[Instance, float]:
    return {(f'{e["map_name"]}@{e.get("seed", 0)}', int(e["num_agents"])):
            float(e["avg_throughput"]) for e in result["episodes"]}


def per_map(values: Dict[Instance, float], maps: List[str], agents: List[int]) -> List[float]:
    return [sum(values[(m, n)] for n in agents) / len(agents) for m in maps]


def table(rows: List[Tuple[str, Dict[Instance, float], bool]], agents: List[int],
          baseline: str) -> str:
    """The Markdown table of ``rows`` (label, throughput per instance, published) on the
    instances they all played with ``agents``."""
    common = set.intersection(*(set(values) for _, values, _ in rows))
    maps = sorted({m for m, n in common if n in agents})
    maps = [m for m in maps if all((m, n) in common for n in agents)]
    if not maps:
        raise ValueError("the results share no map played with every one of --agents")
    base = dict((label, values) for label, values, _ in rows).get(baseline)
    if base is None:
        raise ValueError(f"--baseline {baseline!r} is none of the labels")
    base_maps = per_map(base, maps, agents)
    head = ["policy", *(f"{n} agents" for n in agents), "score",
            f"minus {baseline}, 95 % interval", "maps won / lost"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for label, values, published in rows:
        means = [sum(values[(m, n)] for m in maps) / len(maps) for n in agents]
        scores = per_map(values, maps, agents)
        score = sum(scores) / len(scores)
        name = f"{label} (published)" if published else label
        if label == baseline:
            versus, won = "", ""
        else:
            p = paired(label, base_maps, scores)
            mark = "**" if p.separable else ""
            versus = f"{mark}{p.diff:+.3f} [{p.low:+.3f}, {p.high:+.3f}]{mark}"
            won = f"{p.b_wins} / {p.a_wins}"
        lines.append("| " + " | ".join([name, *(f"{v:.3f}" for v in means), f"{score:.3f}",
                                        versus, won]) + " |")
    lines.append(f"\n{len(maps)} maps x {len(agents)} agent counts; bold: the interval "
                 f"excludes 0.")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", nargs="+", metavar="LABEL=FILE",
                        help="a label and a marlgpt eval --json result of the map set")
    parser.add_argument("--map-set", type=Path, required=True, metavar="DIR",
                        help="the map set (its reference-results: --references)")
    parser.add_argument("--agents", default="8,32", help="agent counts, e.g. 8,32")
    parser.add_argument("--references", default="",
                        help="published algorithms to add, e.g. Follower,RHCR")
    parser.add_argument("--baseline", default=None,
                        help="the label the differences are taken from (default: the first)")
    args = parser.parse_args()
    try:
        rows = []
        for item in args.results:
            label, sep, path = item.partition("=")
            if not sep or not label or not path:
                raise ValueError(f"{item!r}: expected LABEL=FILE")
            rows.append((label, by_instance(load_result(Path(path))), False))
        for name in filter(None, args.references.split(",")):
            rows.append((name, by_instance(reference_result(args.map_set, name)), True))
        agents = [int(n) for n in args.agents.split(",")]
        print(table(rows, agents, args.baseline or rows[0][0]))
    except ValueError as exc:
        print(f"side_by_side: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
