"""Scores per task, from `marlgpt eval --env lbf --json` results, as an SVG bar chart.

    scripts/run python scripts/plot_tasks.py --title "Unseen LBF tasks" \
        --out docs/plots/zero-shot-lbf.svg "multi-task=docs/results/zs-lbf-multi-s0.json" \
        "single-task=docs/results/zs-lbf-single-s0.json"

Each LABEL=FILE is one bar per task (and one for the overall ``score``), with its 95 %
interval as a whisker (the ``NAME_ci95`` half-widths the evaluation writes). Standard library
only: the chart is plain SVG text.
"""
import argparse
import json
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from svg_chart import HEIGHT, WIDTH, frame, y_grid  # scripts/svg_chart.py

MARGIN = 56
COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#7f7f7f"]

Bars = Tuple[str, Dict[str, Tuple[float, float]]]  # label, task -> (mean, half-width)


def bars_of(label: str, result: dict) -> Bars:
    """A result's mean and interval half-width per task, the overall score last."""
    tasks = [k for k in result if f"{k}_ci95" in result and k != "score"] + ["score"]
    if "score" not in result:
        raise ValueError(f"{label}: not a task-scored evaluation (no 'score')")
    return label, {k: (float(result[k]), float(result.get(f"{k}_ci95", 0.0))) for k in tasks}


def svg(series: List[Bars], title: str) -> str:
    tasks = list(series[0][1])
    top = max(m + (h if h == h else 0.0) for _, bars in series for m, h in bars.values())
    top = max(top, 0.1) * 1.1
    plot_w, plot_h = WIDTH - 2 * MARGIN - 120, HEIGHT - 2 * MARGIN
    group = plot_w / len(tasks)
    width = group * 0.8 / len(series)

    def y(value: float) -> float:
        return MARGIN + plot_h * (1 - value / top)

    out = frame(title, MARGIN, MARGIN + plot_h, MARGIN + plot_w, MARGIN)
    out += y_grid(top, MARGIN, MARGIN + plot_w, y)
    for t, task in enumerate(tasks):
        left = MARGIN + t * group + group * 0.1
        out.append(f'<text x="{left + group * 0.4:.1f}" y="{MARGIN + plot_h + 16}" '
                   f'text-anchor="middle">{task}</text>')
        for s, (_, bars) in enumerate(series):
            if task not in bars:
                continue
            mean, half = bars[task]
            x = left + s * width
            colour = COLOURS[s % len(COLOURS)]
            out.append(f'<rect x="{x:.1f}" y="{y(mean):.1f}" width="{width * 0.9:.1f}" '
                       f'height="{MARGIN + plot_h - y(mean):.1f}" fill="{colour}"/>')
            if half == half and half > 0:  # not NaN
                centre = x + width * 0.45
                out.append(f'<line x1="{centre:.1f}" y1="{y(min(top, mean + half)):.1f}" '
                           f'x2="{centre:.1f}" y2="{y(max(0.0, mean - half)):.1f}" '
                           'stroke="black"/>')
    for s, (label, _) in enumerate(series):
        top_y = MARGIN + 16 * s
        out.append(f'<rect x="{WIDTH - MARGIN - 110}" y="{top_y}" width="10" height="10" '
                   f'fill="{COLOURS[s % len(COLOURS)]}"/><text x="{WIDTH - MARGIN - 95}" '
                   f'y="{top_y + 9}">{label}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", nargs="+", metavar="LABEL=FILE",
                        help="a label and a marlgpt eval --json file (lbf)")
    parser.add_argument("--title", default="scores per task")
    parser.add_argument("--out", type=Path, required=True, help="the SVG to write")
    args = parser.parse_args(argv)
    series = []
    for item in args.results:
        label, equals, path = item.partition("=")
        if not equals:
            parser.error(f"expected LABEL=FILE, got {item!r}")
        series.append(bars_of(label, json.loads(Path(path).read_text())))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(svg(series, args.title))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
