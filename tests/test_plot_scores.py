"""scripts/plot_scores.py: one line per result and per published reference, each point at its
agent count and throughput."""
import json
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def result(values: dict, references: dict) -> dict:
    return {"per_agents": {str(n): {"avg_throughput": v, "reference": references.get(n, {})}
                           for n, v in values.items()}}


def test_the_chart_has_every_line_and_point(tmp_path: Path) -> None:
    a = tmp_path / "a.json"
    b = tmp_path / "b.json"
    a.write_text(json.dumps(result({8: 0.5, 32: 1.5, 64: 2.0},
                                   {8: {"RHCR": 0.6}, 32: {"RHCR": 1.6}, 64: {"RHCR": 2.5}})))
    b.write_text(json.dumps(result({8: 0.4, 32: 1.0, 64: 1.2}, {})))
    out = tmp_path / "chart.svg"
    run = subprocess.run([sys.executable, str(REPO / "scripts" / "plot_scores.py"), "--out",
                          str(out), f"ours={a}", f"theirs={b}"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    text = out.read_text()
    lines = re.findall(r'<polyline points="([^"]+)"', text)
    assert len(lines) == 3  # ours, theirs, RHCR
    assert text.count("stroke-dasharray") == 2  # the reference's line and its legend
    assert ">ours<" in text and ">RHCR (published)<" in text
    ys = [float(p.split(",")[1]) for p in lines[0].split()]
    assert ys[0] > ys[1] > ys[2]  # higher throughput is higher on the chart (smaller y)
    bad = subprocess.run([sys.executable, str(REPO / "scripts" / "plot_scores.py"), "--out",
                          str(out), str(a)], capture_output=True, text=True)
    assert bad.returncode == 2 and "LABEL=FILE" in bad.stderr
