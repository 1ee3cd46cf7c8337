"""``data.shuffle_agents``: interchangeable agents' slots permuted per row (CPU)."""
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from marlgpt_training import envs
from marlgpt_training.cli import main
from marlgpt_training.data.loader import BatchStream
from marlgpt_training.data.records import DatasetError
from marlgpt_training.data.shuffle import draw_orders, shuffle_tokens, slot_groups
from marlgpt_training.envs import lbf
from tests.test_training import MODEL, SMALL_DATA


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("shuffle") / "data"
    assert main(["generate", "--out", str(out), "--episodes", "2", *SMALL_DATA]) == 0
    return out


def units_of(row: torch.Tensor, units: np.ndarray) -> list:
    return [tuple(row[u].tolist()) for u in units]


def test_lbf_rows_get_their_own_orders_of_whole_units_and_nothing_else_moves() -> None:
    groups = slot_groups(lbf.layout(), envs.get("lbf").exchangeable)
    assert [(team, units.shape) for team, units in groups] == [(1, (2, 3)), (2, (3, 3))]
    rows = 400
    tokens = torch.arange(18, dtype=torch.float32).repeat(rows, 1)  # every token distinct
    orders = draw_orders(groups, rows, np.random.default_rng(0))
    out = shuffle_tokens(tokens, groups, orders)
    moved = np.zeros(18, dtype=bool)
    for _, units in groups:
        moved[units.reshape(-1)] = True
    assert torch.equal(out[:, ~moved], tokens[:, ~moved])  # the observing agent stays
    seen = [set(), set()]
    for b in range(rows):
        for g, (_, units) in enumerate(groups):
            got = units_of(out[b], units)
            assert got == [units_of(tokens[b], units)[k] for k in orders[g][b]]
            seen[g].add(tuple(orders[g][b]))
    assert len(seen[0]) == 2 and len(seen[1]) == 6  # every order of 2 players and 3 foods


def test_layouts_whose_slots_differ_or_are_alone_are_refused() -> None:
    layout = {"encoder": "x", "indices": {"team": [0, 1, 1, 1, 2], "agent": [0, 1, 1, 2, 1],
                                          "attr": [0, 1, 2, 1, 3], "time": [0] * 5}}
    with pytest.raises(ValueError, match="different token kinds"):
        slot_groups(layout, (1,))
    with pytest.raises(ValueError, match="nothing to shuffle"):
        slot_groups(layout, (2,))


def test_the_loader_shuffles_neighbours_and_their_preceding_actions_alike(data_dir) -> None:
    team = envs.get("pogema-lmapf").exchangeable
    plain = next(iter(BatchStream([data_dir], 64, seed=4, mix_shards=1, preceding="index")))
    mixed = next(iter(BatchStream([data_dir], 64, seed=4, mix_shards=1, preceding="index",
                                  exchangeable=team)))
    (_, units), = slot_groups(BatchStream([data_dir], 8).layout, team)
    assert torch.equal(plain["action"], mixed["action"])  # the same rows, in the same order
    differ = 0
    for key, pre in (("tokens", "preceding"), ("next_tokens", "next_preceding")):
        for b in range(64):
            before = sorted(zip(units_of(plain[key][b], units), plain[pre][b].tolist()))
            after = sorted(zip(units_of(mixed[key][b], units), mixed[pre][b].tolist()))
            assert before == after  # each neighbour moved whole, with its preceding action
            differ += not torch.equal(plain[key][b], mixed[key][b])
    assert differ > 20


def test_training_with_shuffled_agents_runs_and_is_refused_where_nothing_shuffles(
        data_dir, tmp_path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({
        "model": MODEL, "loss": {"mode": "bc"},
        "optim": {"batch_size": 16, "max_steps": 2, "warmup_steps": 1},
        "data": {"dirs": [str(data_dir)], "workers": 0, "shuffle_agents": True},
        "run": {"log_every": 1, "checkpoint_every": 2}}))
    assert main(["train", "--config", str(config), "--out", str(tmp_path / "run"),
                 "--no-progress"]) == 0
    checkpoint = tmp_path / "run" / "checkpoints" / "step-000002"
    saved = yaml.safe_load((checkpoint / "config.yaml").read_text())
    assert saved["data"]["shuffle_agents"] is True
    with pytest.raises(DatasetError, match="cannot shuffle agents"):
        BatchStream([data_dir], 8, exchangeable=(0,))
