"""scripts/plot_scores.py: one line per result and per published reference, each point at its
agent count and throughput."""
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

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


def test_the_task_chart_has_a_bar_per_task_and_result_with_its_interval(tmp_path: Path) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps({"10x10-2p-3f": 0.8, "10x10-2p-3f_ci95": 0.1, "6x6-2p-1f": 0.4,
                             "6x6-2p-1f_ci95": 0.05, "score": 0.6, "score_ci95": 0.05,
                             "returns": [0.5, 0.7]}))
    b.write_text(json.dumps({"10x10-2p-3f": 0.2, "10x10-2p-3f_ci95": 0.1, "6x6-2p-1f": 0.1,
                             "6x6-2p-1f_ci95": 0.05, "score": 0.15, "score_ci95": 0.05}))
    out = tmp_path / "tasks.svg"
    script = str(REPO / "scripts" / "plot_tasks.py")
    run = subprocess.run([sys.executable, script, "--out", str(out), f"multi={a}",
                          f"single={b}"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    text = out.read_text()
    heights = [float(h) for h in re.findall(r'<rect x="[^"]+" y="[^"]+" width="[^"]+" '
                                            r'height="([^"]+)" fill', text)]
    assert len(heights) == 6 + 2  # 3 groups (2 tasks, the score) x 2 results, 2 legend keys
    assert heights[0] / heights[1] == pytest.approx(0.8 / 0.2, rel=0.01)
    assert text.count('stroke="black"/>') == 2 + 6  # the axes, then a whisker per bar
    for label in ("multi", "single", "10x10-2p-3f", "score"):
        assert f">{label}<" in text
    c = tmp_path / "c.json"
    c.write_text(json.dumps({"per_agents": {}}))
    bad = subprocess.run([sys.executable, script, "--out", str(out), f"pogema={c}"],
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "not a task-scored evaluation" in bad.stderr
