"""What the chart scripts (plot_scores.py, plot_finetune.py, plot_tasks.py) draw alike: the SVG
frame (page, title, axes and their labels), the value grid of the y axis and a line's legend
entry. Standard library only."""
from typing import Callable, List

WIDTH, HEIGHT = 640, 400


def frame(title: str, x0: float, y0: float, x1: float, y1: float, x_label: str = "",
          y_label: str = "") -> List[str]:
    """The opening of a chart: page, title, x axis from (x0, y0) to (x1, y0), y axis from
    (x0, y0) up to (x0, y1), and the axes' labels. Close it with ``</svg>``."""
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
           'font-family="sans-serif" font-size="12">',
           f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
           f'<text x="{WIDTH / 2}" y="20" text-anchor="middle" font-size="14">{title}</text>',
           f'<line x1="{x0}" y1="{y0}" x2="{x1}" y2="{y0}" stroke="black"/>',
           f'<line x1="{x0}" y1="{y0}" x2="{x0}" y2="{y1}" stroke="black"/>']
    if x_label:
        out.append(f'<text x="{(x0 + x1) / 2}" y="{HEIGHT - 12}" text-anchor="middle">'
                   f'{x_label}</text>')
    if y_label:
        out.append(f'<text x="14" y="{(y0 + y1) / 2}" text-anchor="middle" '
                   f'transform="rotate(-90 14 {(y0 + y1) / 2})">{y_label}</text>')
    return out


def y_grid(top: float, x0: float, x1: float, y: Callable[[float], float],
           steps: int = 5, decimals: int = 2, colour: str = "#eee") -> List[str]:
    """Grid lines and labels at ``steps + 1`` even values from 0 to ``top``."""
    out = []
    for k in range(steps + 1):
        v = top * k / steps
        out.append(f'<line x1="{x0 - 4}" y1="{y(v):.1f}" x2="{x1}" y2="{y(v):.1f}" '
                   f'stroke="{colour}"/><text x="{x0 - 6}" y="{y(v) + 4:.1f}" '
                   f'text-anchor="end">{v:.{decimals}f}</text>')
    return out


def legend_line(x: float, y: float, colour: str, label: str, dash: str = "") -> str:
    """A legend entry at (x, y): a short stroke of the line's colour (and ``dash``, an SVG
    attribute string) and its label."""
    return (f'<line x1="{x + 12}" y1="{y}" x2="{x + 36}" y2="{y}" stroke="{colour}" '
            f'stroke-width="2"{dash}/><text x="{x + 42}" y="{y + 4}">{label}</text>')
