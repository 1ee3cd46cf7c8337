"""scripts/side_by_side.py: every row on the instances all results played, the score and
the paired difference as marlgpt compare computes them."""
import json
import subprocess
import sys
from pathlib import Path

from marlgpt_training.benchmark.compare import compare
from tests.conftest import REPO

SCRIPT = str(REPO / "scripts" / "side_by_side.py")
MAP_SET = str(REPO.parent / "shared" / "benchmarks" / "pogema-lmapf" / "02-mazes")


def result(values: dict) -> dict:
    return {"map_set": "02-mazes", "policy": "p",
            "episodes": [{"map_name": m, "seed": 0, "num_agents": n, "avg_throughput": v}
                         for (m, n), v in values.items()]}


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, SCRIPT, "--map-set", MAP_SET, *args],
                          capture_output=True, text=True)


def test_rows_share_the_instances_and_match_compare(tmp_path: Path) -> None:
    a = {(f"m{k}", n): 0.1 * k + n / 8 for k in range(4) for n in (8, 32, 64)}
    b = {(f"m{k}", n): 0.1 * k + n / 8 + 0.05 * (k % 3) for k in range(3) for n in (8, 32)}
    (tmp_path / "a.json").write_text(json.dumps(result(a)))
    (tmp_path / "b.json").write_text(json.dumps(result(b)))
    out = run("--agents", "8,32", f"A={tmp_path / 'a.json'}", f"B={tmp_path / 'b.json'}")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    row_b = next(line for line in lines if line.startswith("| B |"))
    # a's fourth map and its 64 agents are cut: both rows on m0..m2 with 8 and 32 agents
    _, score, _ = compare(result({k: v for k, v in a.items() if k[0] != "m3" and k[1] != 64}),
                          result(b))
    assert f"| {score.b:.3f} |" in row_b
    assert f"{score.diff:+.3f} [{score.low:+.3f}, {score.high:+.3f}]" in row_b
    assert "3 maps x 2 agent counts" in out.stdout
    bad = run(f"A={tmp_path / 'a.json'}", "--baseline", "C")
    assert bad.returncode == 2 and "--baseline 'C'" in bad.stderr
