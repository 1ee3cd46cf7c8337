"""Task lists for zero-shot evaluation: held-out tasks never enter the training data, and the
evaluation scores exactly them."""
import json
from pathlib import Path

import pytest
import yaml

from marlgpt_training import tasks
from marlgpt_training.cli import main
from marlgpt_training.envs import lbf
from tests.conftest import REPO

SHIPPED = REPO / "training" / "configs" / "tasks" / "zero-shot.yaml"


def name(task) -> str:
    return f"{task[0]}x{task[0]}-{task[1]}p-{task[2]}f"


def test_the_shipped_task_file_holds_out_tasks_the_default_mix_trains_on() -> None:
    lists = tasks.load(SHIPPED, "lbf")
    assert lists["train"] and lists["test"]
    assert not set(lists["train"]) & set(lists["test"])
    # Without a task file the data would include a held-out task: the file is what keeps it out.
    assert set(lbf.TASKS) & set(lists["test"])


def test_episodes_drawn_from_a_task_file_never_play_a_held_out_task() -> None:
    lists = tasks.load(SHIPPED, "lbf")
    generator = lbf.ForagingGenerator(lbf.ForagingConfig(seed=3, tasks=lists["train"]))
    played = {generator.episode(i, tokens_=False).info["map_kind"] for i in range(40)}
    assert played == {name(t) for t in lists["train"]}
    assert not played & {name(t) for t in lists["test"]}
    assert generator.settings()["tasks"] == [list(t) for t in lists["train"]]


@pytest.mark.parametrize("content, problem", [
    ({"lbf": {"train": [[8, 2, 2]], "test": [[8, 2, 2], [10, 2, 3]]}}, "in both train and test"),
    ({"lbf": {"train": [[8, 2, 2]]}}, "lbf.test must be a non-empty list"),
    ({"rware": {"train": [[1]], "test": [[2]]}}, "no 'lbf:' section"),
    ({"lbf": {"train": [["eight", 2, 2]], "test": [[10, 2, 3]]}}, "tasks of integers"),
])
def test_a_bad_task_file_is_refused_by_generate_and_eval(tmp_path: Path, capsys, content,
                                                         problem) -> None:
    path = tmp_path / "tasks.yaml"
    path.write_text(yaml.safe_dump(content))
    with pytest.raises(ValueError, match=problem):
        tasks.load(path, "lbf")
    assert main(["generate", "--env", "lbf", "--tasks", str(path), "--episodes", "1",
                 "--out", str(tmp_path / "data"), "--workers", "1"]) == 2
    assert problem in capsys.readouterr().err
    assert not (tmp_path / "data").exists()
    assert main(["eval", "--env", "lbf", "--policy", "random", "--tasks", str(path),
                 "--episodes", "2"]) == 2
    assert problem in capsys.readouterr().err


def test_a_task_the_token_layout_cannot_hold_and_an_environment_without_lists_are_refused(
        tmp_path: Path, capsys) -> None:
    path = tmp_path / "tasks.yaml"
    path.write_text(yaml.safe_dump({"lbf": {"train": [[8, 2, 2]], "test": [[8, 4, 2]]}}))
    assert main(["eval", "--env", "lbf", "--policy", "random", "--tasks", str(path),
                 "--episodes", "2"]) == 2
    assert "1-3 players" in capsys.readouterr().err
    assert main(["eval", "--env", "grf", "--policy", "random", "--tasks", str(SHIPPED),
                 "--episodes", "2"]) == 2
    assert "grf reads no task lists" in capsys.readouterr().err


def test_eval_scores_exactly_the_held_out_tasks(tmp_path: Path) -> None:
    out = tmp_path / "scores.json"
    assert main(["eval", "--env", "lbf", "--policy", "expert", "--tasks", str(SHIPPED),
                 "--episodes", "6", "--json", str(out)]) == 0
    scores = json.loads(out.read_text())
    held_out = {name(t) for t in tasks.load(SHIPPED, "lbf")["test"]}
    assert {k for k in scores if "x" in k and not k.endswith("_ci95")} == held_out
    assert len(scores["returns"]) == 6


def test_warehouse_task_lists_train_and_score_apart(tmp_path: Path, capsys) -> None:
    """rware reads [size, agents] tasks: generate plays only the train list, eval only the
    test list, and a malformed or unplayable task is refused."""
    from marlgpt_training.data.records import Dataset
    from marlgpt_training.envs import rware

    lists = tasks.load(SHIPPED, "rware")
    assert not set(lists["train"]) & set(lists["test"]) and lists["train"][0] == ("tiny", 2)
    generator = rware.WarehouseGenerator(rware.WarehouseConfig(seed=2, tasks=lists["train"],
                                                               steps=20))
    played = {generator.episode(k).info["map_kind"] for k in range(12)}
    assert played == {rware.task_name(t) for t in lists["train"]}
    out = tmp_path / "data"
    assert main(["generate", "--env", "rware", "--tasks", str(SHIPPED), "--episodes", "2",
                 "--out", str(out), "--workers", "1", "--no-progress"]) == 0
    assert Dataset(out).manifest["settings"]["generator"]["tasks"] == [
        list(t) for t in lists["train"]]
    report = tmp_path / "eval.json"
    assert main(["eval", "--env", "rware", "--policy", "greedy", "--tasks", str(SHIPPED),
                 "--episodes", "3", "--json", str(report), "--no-progress"]) == 0
    scored = set(json.loads(report.read_text())["tasks"]) - {"all"}
    assert scored == {rware.task_name(t) for t in lists["test"]}
    capsys.readouterr()
    for content, problem in [
            ({"rware": {"train": [[4, "tiny"]], "test": [["tiny", 3]]}}, "tasks [size, agents]"),
            ({"rware": {"train": [["tiny", 2]], "test": [["huge", 3]]}}, "unknown RWARE sizes"),
            ({"rware": {"train": [["tiny", 2]], "test": [["tiny", 2]]}}, "in both train")]:
        path = tmp_path / "tasks.yaml"
        path.write_text(yaml.safe_dump(content))
        assert main(["eval", "--env", "rware", "--policy", "random", "--tasks", str(path),
                     "--episodes", "1"]) == 2
        assert problem in capsys.readouterr().err
    assert main(["eval", "--env", "rware", "--policy", "random", "--tasks", str(SHIPPED),
                 "--agents", "2", "--episodes", "1"]) == 2
    assert "leave out --rware-size and --agents" in capsys.readouterr().err
