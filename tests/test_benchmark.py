"""The POGEMA lifelong benchmark harness: protocol fidelity, throughput and aggregation."""
import json
from pathlib import Path

import pytest

from marlgpt_training.benchmark.episode import EpisodeResult, make_env, run_episode
from marlgpt_training.benchmark.evaluate import EvalReport, evaluate
from marlgpt_training.benchmark.mapset import Instance, MapSet
from marlgpt_training.cli import main
from marlgpt_training.policies import make_policy
from tests.conftest import SHARED_SETS, needs_shared_sets, tiny_map_set

SETS = [SHARED_SETS / "01-random", SHARED_SETS / "02-mazes"]


@needs_shared_sets
@pytest.mark.parametrize("set_dir", SETS, ids=lambda p: p.name)
def test_harness_reproduces_the_scenario_starts_and_goals(set_dir: Path) -> None:
    map_set = MapSet.load(set_dir)
    assert map_set.agent_counts == [8, 16, 24, 32, 48, 64]
    for num_agents in (8, 64):
        for instance in map_set.instances(num_agents, max_instances=3):
            scenario = map_set.scenario(instance)
            assert scenario is not None, instance.map_name
            env = make_env(instance)
            env.reset()
            grid = env.unwrapped.grid
            starts = [list(xy) for xy in grid.get_agents_xy(ignore_borders=True)]
            goals = [list(xy) for xy in grid.get_targets_xy(ignore_borders=True)]
            assert starts == scenario["agents_xy"][:num_agents]
            assert goals == [targets[0] for targets in scenario["targets_xy"][:num_agents]]


def test_throughput_is_goals_over_steps_on_a_hand_made_case() -> None:
    # One agent in a 1x2 corridor: its goal is always the other cell, so it scores every step.
    instance = Instance(map_name="corridor", seed=0, num_agents=1, max_episode_steps=10,
                        grid="..")
    result = run_episode(instance, make_policy("bfs"))
    assert (result.steps, result.goals) == (10, 10)
    assert result.avg_throughput == pytest.approx(1.0)


@pytest.mark.parametrize("policy", ["random", "greedy"])
def test_pogema_metric_equals_counted_goals_over_steps(policy: str) -> None:
    instance = Instance(map_name="room", seed=3, num_agents=6, max_episode_steps=40,
                        grid="....#\n.#...\n...#.\n.....")
    result = run_episode(instance, make_policy(policy))
    assert result.steps == 40
    assert result.avg_throughput == pytest.approx(result.goals / result.steps)


def test_baselines_are_ordered_on_a_small_set(tmp_path: Path) -> None:
    map_set = MapSet.load(tiny_map_set(tmp_path))
    scores = {p: evaluate(map_set, p, workers=1, progress=False).score
              for p in ("random", "bfs", "greedy")}
    assert scores["random"] < scores["bfs"] <= scores["greedy"] + 1e-9, scores


def test_report_aggregates_like_the_benchmark() -> None:
    episodes = [EpisodeResult("a", 0, 8, 10, 5, 0.5, 0.0),
                EpisodeResult("b", 0, 8, 10, 3, 0.3, 0.0),
                EpisodeResult("a", 0, 16, 10, 10, 1.0, 0.0)]
    references = {"RHCR": {("a", 0, 8): 0.6, ("b", 0, 8): 0.4, ("a", 0, 16): 2.0},
                  "Partial": {("a", 0, 8): 0.1}}
    report = EvalReport("set", "p", episodes, references)
    assert report.score == pytest.approx((0.4 + 1.0) / 2)
    assert report.reference("RHCR", 8) == pytest.approx(0.5)
    assert report.reference_score("RHCR") == pytest.approx((0.5 + 2.0) / 2)
    assert report.reference("Partial", 8) is None  # not on the same instances: not compared
    data = report.to_json()
    assert data["per_agents"]["8"] == {"avg_throughput": pytest.approx(0.4), "instances": 2,
                                       "reference": {"Partial": None, "RHCR": pytest.approx(0.5)}}
    assert "n/a" in report.table() and "RHCR" in report.table()


def test_eval_command_writes_json_and_table(tmp_path: Path, capsys) -> None:
    set_dir = tiny_map_set(tmp_path / "tiny")
    out = tmp_path / "out.json"
    code = main(["eval", "--policy", "greedy", "--map-set", str(set_dir), "--agents", "2,6",
                 "--max-instances", "2", "--workers", "2", "--no-progress", "--json", str(out)])
    assert code == 0
    data = json.loads(out.read_text())
    assert data["map_set"] == "tiny" and data["policy"] == "greedy"
    assert set(data["per_agents"]) == {"2", "6"}
    assert all(v["instances"] == 2 for v in data["per_agents"].values())
    means = [v["avg_throughput"] for v in data["per_agents"].values()]
    assert data["score"] == pytest.approx(sum(means) / 2)
    assert data["reference_score"]["Ref"] == pytest.approx(0.25)
    table = capsys.readouterr().out
    assert "Ref" in table and "score" in table


def test_eval_command_refuses_bad_input(tmp_path: Path, capsys) -> None:
    set_dir = tiny_map_set(tmp_path / "tiny")
    assert main(["eval", "--policy", "nope", "--map-set", str(set_dir), "--no-progress"]) == 2
    assert "unknown policy 'nope'" in capsys.readouterr().err
    assert main(["eval", "--policy", "bfs", "--map-set", str(tmp_path / "missing")]) == 2
    assert "is not a directory" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["eval", "--policy", "bfs", "--map-set", str(set_dir), "--agents", "8,x"])
