"""scripts/merge_results.py: runs of one policy on one map set pooled into one result, scored as
`marlgpt eval` scores it."""
import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO, SHARED_SETS, needs_shared_sets

SCRIPT = REPO / "scripts" / "merge_results.py"
RESULT = REPO / "docs" / "results" / "i32-02-mazes-shipped-search16.json"  # 8 and 32 agents


def _run(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), "--map-set",
                           str(SHARED_SETS / "02-mazes"), *map(str, args)],
                          capture_output=True, text=True)


@needs_shared_sets
def test_split_runs_merge_back_into_the_whole(tmp_path: Path) -> None:
    whole = json.loads(RESULT.read_text())
    parts = []
    for n in ("8", "32"):
        part = dict(whole, episodes=[e for e in whole["episodes"] if str(e["num_agents"]) == n])
        parts.append(tmp_path / f"{n}.json")
        parts[-1].write_text(json.dumps(part))
    out = tmp_path / "merged.json"
    run = _run("--out", out, *reversed(parts))
    assert run.returncode == 0, run.stderr
    merged = json.loads(out.read_text())
    assert merged["score"] == whole["score"]
    assert merged["per_agents"] == whole["per_agents"]
    assert merged["reference_score"] == whole["reference_score"]
    assert merged["episodes"] == whole["episodes"]

    # An instance twice, or runs of other policies, are refused.
    run = _run("--out", out, parts[0], parts[0])
    assert run.returncode == 2 and "more than one run" in run.stderr
    other = tmp_path / "other.json"
    other.write_text(json.dumps(dict(json.loads(parts[1].read_text()), policy="bfs")))
    run = _run("--out", out, parts[0], other)
    assert run.returncode == 2 and "differ in policy" in run.stderr


def test_a_run_split_by_first_instance_merges_into_the_whole_run(tmp_path: Path) -> None:
    from marlgpt_training.cli import main
    from tests.conftest import tiny_map_set

    map_set = tiny_map_set(tmp_path / "set")
    common = ["eval", "--policy", "bfs", "--map-set", str(map_set), "--workers", "1",
              "--no-progress", "--json"]
    assert main([*common, str(tmp_path / "whole.json")]) == 0
    assert main([*common, str(tmp_path / "head.json"), "--max-instances", "1"]) == 0
    assert main([*common, str(tmp_path / "tail.json"), "--first-instance", "2"]) == 0
    tail = json.loads((tmp_path / "tail.json").read_text())
    assert {e["map_name"] for e in tail["episodes"]} == {"m1", "m2"}
    out = tmp_path / "merged.json"
    run = subprocess.run([sys.executable, str(SCRIPT), "--map-set", str(map_set), "--out",
                          str(out), str(tmp_path / "tail.json"), str(tmp_path / "head.json")],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    whole = json.loads((tmp_path / "whole.json").read_text())
    merged = json.loads(out.read_text())

    def untimed(result: dict) -> list:
        return [{k: v for k, v in e.items() if k != "seconds"} for e in result["episodes"]]

    assert untimed(merged) == untimed(whole)
    assert merged["score"] == whole["score"]
    assert merged["per_agents"] == whole["per_agents"]
    # Past the set's last instance there is nothing to run: a clear error, not an empty table.
    assert main([*common, str(tmp_path / "none.json"), "--first-instance", "4"]) == 2
    assert main([*common, str(tmp_path / "none.json"), "--first-instance", "0"]) == 2
