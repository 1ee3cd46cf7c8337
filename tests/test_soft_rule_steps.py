"""How a pure policy's agent-steps are sorted under the soft rule
(marlgpt_training.benchmark.step_outcomes, and its command line scripts/soft_rule_steps.py)."""
import subprocess
import sys
from pathlib import Path

import numpy as np

from marlgpt_planner.grid import DistanceFields, parse_grid
from marlgpt_training.benchmark import step_outcomes
from tests.conftest import SHARED_SETS, needs_shared_sets

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "soft_rule_steps.py"
MODEL = REPO / "ros2_ws/src/marlgpt_planner/models/marlgpt.onnx"
MAZES = SHARED_SETS / "02-mazes"


def test_every_kind_of_step_is_told_apart() -> None:
    obstacles = parse_grid(".....\n.....\n.....")
    fields = DistanceFields(obstacles, pad=1)
    # 0 <-> 1 swap; 2 moves into 3, which waits; 4 and 5 both enter (2, 2): 4 wins (lower
    # number); 6 follows 4 into (2, 1), away from its goal; 7 waits beside its goal; 8 waits
    # on its goal.
    positions = np.array([[0, 0], [0, 1], [0, 3], [0, 4], [2, 1], [2, 3], [1, 1], [1, 3],
                          [2, 4]])
    goals = np.array([[0, 4], [0, 0], [0, 4], [2, 4], [2, 2], [2, 0], [0, 1], [1, 2],
                      [2, 4]])
    actions = np.array([4, 3, 4, 0, 4, 3, 2, 0, 0])
    counts = step_outcomes.classify(positions, goals, actions, fields, obstacles)
    assert counts == {"cancelled: swap": 2, "cancelled: occupant stayed": 1,
                      "waited, a move was shorter": 2, "moved, shorter path": 1,
                      "cancelled: cell went to another agent": 1, "moved, not shorter": 1,
                      "waited, nothing shorter": 1}


@needs_shared_sets
def test_the_script_runs_the_shipped_model_on_a_benchmark_set() -> None:
    out = subprocess.run([sys.executable, str(SCRIPT), str(MODEL), "--map-set", str(MAZES),
                          "--agents", "8", "--max-instances", "1"],
                         capture_output=True, text=True, check=True).stdout
    shares = [float(line.split()[-2]) for line in out.splitlines()[1:]]
    assert len(shares) == 7 and abs(sum(shares) - 100.0) < 0.5, out
    assert "throughput" in out.splitlines()[0]
