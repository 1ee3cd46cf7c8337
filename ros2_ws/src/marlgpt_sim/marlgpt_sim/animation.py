"""An animated SVG of a simulated run: the maze, each robot gliding, each robot's goal."""
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")


def write_svg(path: Path, obstacles: np.ndarray, robots: List[str],
              frames: List[Tuple[float, Dict[str, Tuple[float, float]],
                                 Dict[str, Optional[Tuple[int, int]]]]],
              px: int = 24, max_frames: int = 1500) -> None:
    """``frames``: (time s, robot -> (row, col) as floats, robot -> goal cell) in time order."""
    if len(frames) > max_frames:
        keep = np.linspace(0, len(frames) - 1, max_frames).round().astype(int)
        frames = [frames[i] for i in keep]
    rows, cols = obstacles.shape
    duration = max(frames[-1][0] - frames[0][0], 0.1) if frames else 1.0
    times = [(t - frames[0][0]) / duration for t, _, _ in frames] if frames else []
    key_times = ";".join(f"{k:.4f}" for k in times)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{cols * px}" height="{rows * px}" '
           f'viewBox="0 0 {cols * px} {rows * px}">',
           f'<rect width="{cols * px}" height="{rows * px}" fill="#ffffff"/>']
    for r, c in np.argwhere(obstacles):
        out.append(f'<rect x="{c * px}" y="{r * px}" width="{px}" height="{px}" fill="#444"/>')
    for i, robot in enumerate(robots):
        colour = PALETTE[i % len(PALETTE)]
        if not frames:
            continue
        goal_x = ";".join(_goal(f[2].get(robot), px)[0] for f in frames)
        goal_y = ";".join(_goal(f[2].get(robot), px)[1] for f in frames)
        out.append(f'<rect width="{px * 0.5}" height="{px * 0.5}" fill="none" '
                   f'stroke="{colour}" stroke-width="3">'
                   f'<animate attributeName="x" values="{goal_x}" keyTimes="{key_times}" '
                   f'dur="{duration:.2f}s" calcMode="discrete" repeatCount="indefinite"/>'
                   f'<animate attributeName="y" values="{goal_y}" keyTimes="{key_times}" '
                   f'dur="{duration:.2f}s" calcMode="discrete" repeatCount="indefinite"/>'
                   '</rect>')
        xs = ";".join(f"{(f[1][robot][1] + 0.5) * px:.1f}" for f in frames)
        ys = ";".join(f"{(f[1][robot][0] + 0.5) * px:.1f}" for f in frames)
        out.append(f'<circle r="{px * 0.38:.1f}" fill="{colour}"><title>{robot}</title>'
                   f'<animate attributeName="cx" values="{xs}" keyTimes="{key_times}" '
                   f'dur="{duration:.2f}s" repeatCount="indefinite"/>'
                   f'<animate attributeName="cy" values="{ys}" keyTimes="{key_times}" '
                   f'dur="{duration:.2f}s" repeatCount="indefinite"/></circle>')
    out.append("</svg>")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text("\n".join(out) + "\n")


def _goal(goal: Optional[Tuple[int, int]], px: int) -> Tuple[str, str]:
    if goal is None:
        return "-100", "-100"
    return f"{(goal[1] + 0.25) * px:.1f}", f"{(goal[0] + 0.25) * px:.1f}"
