"""Throughput against agent count, from `marlgpt eval --json` results, as an SVG chart.

    scripts/run python scripts/plot_scores.py --title "02-mazes, 128 maps" \
        --out docs/plots/mazes.svg expert=docs/results/a.json "expert, no LNS=b.json"

Each LABEL=FILE is one line (the file's mean throughput per agent count); the published
references stored in the first file (Follower, RHCR, ...) are drawn dashed beside them.
Standard library only: the chart is plain SVG text.
"""
import argparse
import json
from pathlib import Path
from typing import Dict, List, Tuple

from svg_chart import HEIGHT, WIDTH, frame, legend_line, y_grid  # scripts/svg_chart.py

MARGIN = 56
COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2",
           "#7f7f7f", "#17becf"]

Series = Tuple[str, Dict[int, float], bool]  # label, agents -> throughput, dashed


def series_of(results: List[Tuple[str, dict]]) -> List[Series]:
    """Our lines, then each reference of the first result's per-agent table."""
    lines: List[Series] = []
    for label, result in results:
        lines.append((label, {int(n): v["avg_throughput"]
                              for n, v in result["per_agents"].items()}, False))
    first = results[0][1]["per_agents"]
    names = sorted({a for v in first.values() for a in v.get("reference", {})})
    for name in names:
        points = {int(n): v["reference"][name] for n, v in first.items()
                  if v["reference"].get(name) is not None}
        if points:
            lines.append((f"{name} (published)", points, True))
    return lines


def svg(lines: List[Series], title: str) -> str:
    counts = sorted({n for _, points, _ in lines for n in points})
    top = max(v for _, points, _ in lines for v in points.values()) * 1.08
    x0, x1, y0, y1 = MARGIN, WIDTH - 180, HEIGHT - MARGIN, MARGIN

    def x(n: int) -> float:
        return x0 + (x1 - x0) * counts.index(n) / max(1, len(counts) - 1)

    def y(v: float) -> float:
        return y0 - (y0 - y1) * v / top

    out = frame(title, x0, y0, x1, y1, "agents", "throughput (goals per step)")
    for n in counts:
        out.append(f'<text x="{x(n):.1f}" y="{y0 + 16}" text-anchor="middle">{n}</text>')
    out += y_grid(top, x0, x1, y, decimals=1, colour="#ddd")
    for index, (label, points, dashed) in enumerate(lines):
        colour = COLOURS[index % len(COLOURS)]
        path = " ".join(f"{x(n):.1f},{y(points[n]):.1f}" for n in counts if n in points)
        dash = ' stroke-dasharray="6 4"' if dashed else ""
        out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" '
                   f'stroke-width="2"{dash}/>')
        for n in counts:
            if n in points:
                out.append(f'<circle cx="{x(n):.1f}" cy="{y(points[n]):.1f}" r="3" '
                           f'fill="{colour}"/>')
        out.append(legend_line(x1, y1 + 18 * index, colour, label, dash))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", nargs="+", metavar="LABEL=FILE",
                        help="a line: its label and a marlgpt eval --json file")
    parser.add_argument("--title", default="throughput by agent count")
    parser.add_argument("--out", type=Path, required=True, help="the SVG file to write")
    args = parser.parse_args()
    results = []
    for item in args.results:
        label, equals, path = item.partition("=")
        if not equals:
            parser.error(f"{item!r}: expected LABEL=FILE")
        results.append((label, json.loads(Path(path).read_text())))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(svg(series_of(results), args.title))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
