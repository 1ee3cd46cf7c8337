"""Expert data generation: a readable, intact, replayable dataset, resumable in place."""
import json
from pathlib import Path

import numpy as np
import pytest

from marlgpt_planner.actions import DELTAS
from marlgpt_planner.encoder import Encoder, GridState
from marlgpt_planner.shield import GoalAges
from marlgpt_planner.soft_rule import resolve
from marlgpt_training.cli import main
from marlgpt_training.data.records import Dataset, DatasetError

SMALL = ["--sizes", "9,12", "--agents", "4,10", "--steps", "24", "--episodes-per-shard", "2",
         "--no-progress"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("data") / "ds"
    stats = out.parent / "stats.json"
    assert main(["generate", "--out", str(out), "--episodes", "5", "--workers", "2",
                 "--stats-json", str(stats), *SMALL]) == 0
    return out


def test_stats_are_written(dataset: Path) -> None:
    stats = json.loads((dataset.parent / "stats.json").read_text())
    assert stats["episodes"] == 5 and stats["agent_steps"] == stats["rows"] > 0
    assert stats["agent_steps_per_s"] > 0 and stats["seconds"] > 0
    assert sum(w["agent_steps"] for w in stats["per_worker"].values()) == stats["agent_steps"]
    assert all(w["agent_steps_per_s"] > 0 for w in stats["per_worker"].values())
    assert 0 < stats["expert_throughput"]


def test_dataset_reads_back_with_consistent_shapes_and_masks(dataset: Path) -> None:
    data = Dataset(dataset)
    assert len(data.shards) == 3  # 5 episodes, 2 per shard
    layout = data.manifest["environments"]["pogema-lmapf"]["token_layout"]
    rows = 0
    for shard in data:
        n = len(shard["action"])
        rows += n
        assert shard["tokens"].shape == (n, layout["num_tokens"])
        assert shard["tokens"].dtype == np.float16
        assert shard["action_mask"].shape == (n, 5)
        assert shard["state/position"].shape == shard["state/goal"].shape == (n, 2)
        # The expert only takes available actions; waiting is always available.
        assert shard["action_mask"][np.arange(n), shard["action"]].all()
        assert shard["action_mask"][:, 0].all()
        assert set(np.unique(shard["reward"])) <= {0.0, 1.0}
        assert (shard["env_id"] == 0).all()
        for episode in np.unique(shard["episode"]):
            rows_of = shard["episode"] == episode
            last = shard["step"][rows_of].max()
            assert (shard["done"][rows_of] == (shard["step"][rows_of] == last)).all()
    assert rows == data.rows == data.manifest["rows"]


def _episodes(shard):
    for episode in np.unique(shard["episode"]):
        rows = shard["episode"] == episode
        steps = shard["step"][rows].max() + 1
        n = shard["agent"][rows].max() + 1
        yield (int(episode), shard["map/" + str(episode)].astype(bool),
               shard["state/position"][rows].reshape(steps, n, 2).astype(np.int64),
               shard["state/goal"][rows].reshape(steps, n, 2).astype(np.int64),
               shard["action"][rows].reshape(steps, n).astype(np.int64),
               shard["tokens"][rows].reshape(steps, n, -1))


def test_actions_replay_without_collisions(dataset: Path) -> None:
    for shard in Dataset(dataset):
        for _, obstacles, positions, _, actions, _ in _episodes(shard):
            for t in range(len(actions) - 1):
                intended = positions[t] + DELTAS[actions[t]]
                nxt, _ = resolve(positions[t], intended, obstacles)
                np.testing.assert_array_equal(nxt, intended)  # no move was cancelled
                np.testing.assert_array_equal(nxt, positions[t + 1])


def test_tokens_rebuild_from_the_raw_state(dataset: Path) -> None:
    shard = Dataset(dataset).load_shard(Dataset(dataset).shards[0])
    layout = shard["meta"]["token_layout"]
    _, obstacles, positions, goals, actions, tokens = next(_episodes(shard))
    encoder = Encoder(obstacles, layout["radius"], layout["history"], layout["neighbours"])
    history = np.zeros((positions.shape[1], layout["history"]), dtype=np.int64)
    for t in range(len(actions)):
        values = encoder.encode(GridState(positions[t], goals[t], history)).values
        np.testing.assert_array_equal(values.astype(np.float16), tokens[t])
        history = np.roll(history, 1, axis=1)
        history[:, 0] = actions[t]


def test_goal_ages_data_rebuild_from_the_raw_state(tmp_path: Path) -> None:
    """--ages writes the version 2 layout; its age tokens follow the goals the data records."""
    out = tmp_path / "ages"
    assert main(["generate", "--out", str(out), "--episodes", "1", "--workers", "1", "--ages",
                 *SMALL]) == 0
    shard = Dataset(out).load_shard(Dataset(out).shards[0])
    layout = shard["meta"]["token_layout"]
    assert layout["encoder_version"] == 2
    _, obstacles, positions, goals, actions, tokens = next(_episodes(shard))
    encoder = Encoder.from_layout(obstacles, layout)
    assert encoder.ages and encoder.num_tokens == tokens.shape[-1]
    history = np.zeros((positions.shape[1], layout["history"]), dtype=np.int64)
    ages = GoalAges()
    changed = 0
    for t in range(len(actions)):
        age = np.array(ages.update(range(positions.shape[1]), goals[t]))
        changed += int((age == 0).sum()) if t else 0
        values = encoder.encode(GridState(positions[t], goals[t], history, age)).values
        np.testing.assert_array_equal(values.astype(np.float16), tokens[t])
        history = np.roll(history, 1, axis=1)
        history[:, 0] = actions[t]
    assert changed > 0  # goals were reached, so ages restarted


def test_a_finished_run_resumes_without_work_and_corruption_is_caught(dataset: Path,
                                                                       tmp_path: Path) -> None:
    stats = tmp_path / "again.json"
    assert main(["generate", "--out", str(dataset), "--episodes", "5", "--workers", "1",
                 "--stats-json", str(stats), *SMALL]) == 0
    assert json.loads(stats.read_text())["agent_steps"] == 0
    # Different settings in the same directory are refused.
    assert main(["generate", "--out", str(dataset), "--episodes", "5", "--steps", "30",
                 "--no-progress"]) == 2
    # A flipped byte is caught on read.
    copy = tmp_path / "copy"
    copy.mkdir()
    for f in dataset.iterdir():
        (copy / f.name).write_bytes(f.read_bytes())
    shard = copy / Dataset(copy).shards[0]["file"]
    raw = bytearray(shard.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    shard.write_bytes(bytes(raw))
    with pytest.raises(DatasetError, match="corrupt"):
        list(Dataset(copy))
    # ...and regenerated by a resumed run.
    assert main(["generate", "--out", str(copy), "--episodes", "5", "--workers", "1",
                 *SMALL]) == 0
    assert len(list(Dataset(copy))) == 3


def test_missing_dataset_is_reported(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no manifest.json"):
        Dataset(tmp_path)
