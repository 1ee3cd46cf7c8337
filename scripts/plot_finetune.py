"""The fine-tuning curve of a `marlgpt finetune` run, from its OUT/metrics.jsonl, as an SVG.

    scripts/run python scripts/plot_finetune.py runs/lbf-ft/metrics.jsonl \
        --title "LBF, tiny model" --out docs/plots/finetune-lbf.svg

Drawn against agent-steps of experience: the training episodes' mean score per update (the
sampled policy, thin, with a moving average over --smooth updates), the greedy policy's
evaluations with their 95 % intervals (points and bars), and the end of the critic warm-up
(a dashed vertical line). Prints the first and last evaluation and their paired difference
(the evaluations play the same seeded episodes). Standard library only: plain SVG text.
"""
import argparse
import json
import math
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from svg_chart import HEIGHT, WIDTH, frame, legend_line, y_grid  # scripts/svg_chart.py

from marlgpt_training.envs.common import interval

MARGIN = 56
TRAIN, SMOOTH, EVAL = "#9ecae1", "#1f77b4", "#d62728"


def read(path: Path) -> Tuple[List[dict], List[dict]]:
    """(per-update records, evaluation records), in the order written."""
    updates, evaluations = [], []
    for line in path.read_text().splitlines():
        if line.strip():
            record = json.loads(line)
            (evaluations if "eval_score" in record else updates).append(record)
    return updates, evaluations


def moving_average(values: List[float], window: int) -> List[float]:
    out = []
    for k in range(len(values)):
        part = [v for v in values[max(0, k - window + 1):k + 1] if not math.isnan(v)]
        out.append(sum(part) / len(part) if part else float("nan"))
    return out


def paired(first: dict, last: dict) -> Optional[Dict[str, float]]:
    """Mean difference last - first over the same episodes and its 95 % interval."""
    a, b = first.get("eval_scores"), last.get("eval_scores")
    if not a or not b or len(a) != len(b) or len(a) < 2:
        return None
    mean, half = interval([y - x for x, y in zip(a, b)])
    return {"mean": mean, "low": mean - half, "high": mean + half}


def svg(updates: List[dict], evaluations: List[dict], title: str, smooth: int,
        eval_label: str = "greedy evaluation") -> str:
    steps_at = {0: 0}
    steps_at.update({r["update"]: r["agent_steps"] for r in updates})
    xs = [r["agent_steps"] for r in updates]
    scores = [r["score"] if r["score"] is not None else float("nan") for r in updates]
    averaged = moving_average(scores, smooth)
    right = max(xs) if xs else 1
    finite = [v for v in scores + [e["eval_high"] for e in evaluations] if not math.isnan(v)]
    top = max(finite + [0.1]) * 1.08
    x0, x1, y0, y1 = MARGIN, WIDTH - 170, HEIGHT - MARGIN, MARGIN

    def x(v: float) -> float:
        return x0 + (x1 - x0) * v / right

    def y(v: float) -> float:
        return y0 - (y0 - y1) * max(0.0, v) / top

    out = frame(title, x0, y0, x1, y1, "agent-steps of online experience", "score")
    out += y_grid(top, x0, x1, y)
    for k in range(6):
        s = right * k / 5
        out.append(f'<text x="{x(s):.1f}" y="{y0 + 16}" text-anchor="middle">'
                   f'{s / 1000:.0f}k</text>')
    warm = [r for r in updates if r.get("phase") == "warmup"]
    if warm:
        wx = x(warm[-1]["agent_steps"])
        out.append(f'<line x1="{wx:.1f}" y1="{y0}" x2="{wx:.1f}" y2="{y1}" stroke="#555" '
                   f'stroke-dasharray="4 4"/><text x="{wx + 4:.1f}" y="{y1 + 12}" '
                   f'fill="#555">critic warm-up ends</text>')
    for values, colour, width in ((scores, TRAIN, 1), (averaged, SMOOTH, 2)):
        points = " ".join(f"{x(a):.1f},{y(v):.1f}" for a, v in zip(xs, values)
                          if not math.isnan(v))
        out.append(f'<polyline points="{points}" fill="none" stroke="{colour}" '
                   f'stroke-width="{width}"/>')
    for e in evaluations:
        ex = x(steps_at.get(e["update"], 0))
        out.append(f'<line x1="{ex:.1f}" y1="{y(e["eval_low"]):.1f}" x2="{ex:.1f}" '
                   f'y2="{y(e["eval_high"]):.1f}" stroke="{EVAL}" stroke-width="2"/>'
                   f'<circle cx="{ex:.1f}" cy="{y(e["eval_score"]):.1f}" r="4" '
                   f'fill="{EVAL}"/>')
    legend = [(TRAIN, "training episodes (sampled)"),
              (SMOOTH, f"  moving average of {smooth}"),
              (EVAL, f"{eval_label}, 95 %")]
    for index, (colour, label) in enumerate(legend):
        out.append(legend_line(x1, y1 + 18 * index, colour, label))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("metrics", type=Path, help="a run's OUT/metrics.jsonl")
    parser.add_argument("--out", type=Path, required=True, help="SVG file to write")
    parser.add_argument("--title", default="marlgpt finetune")
    parser.add_argument("--eval-label", default="greedy evaluation",
                        help="what the evaluations were (rware samples: 'sampled evaluation')")
    parser.add_argument("--smooth", type=int, default=10, metavar="N",
                        help="updates in the moving average (default: %(default)s)")
    args = parser.parse_args()
    updates, evaluations = read(args.metrics)
    if not updates:
        parser.error(f"{args.metrics} has no update records")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(svg(updates, evaluations, args.title, max(1, args.smooth),
                                  args.eval_label))
    print(f"wrote {args.out}")
    if evaluations:
        first, last = evaluations[0], evaluations[-1]
        for e in (first, last):
            print(f"update {e['update']}: {e['eval_score']:.4g} [{e['eval_low']:.4g}, "
                  f"{e['eval_high']:.4g}] over {e['eval_episodes']} episodes")
        change = paired(first, last)
        if change is not None:
            print(f"paired difference: {change['mean']:+.4g} [{change['low']:+.4g}, "
                  f"{change['high']:+.4g}]")


if __name__ == "__main__":
    main()
