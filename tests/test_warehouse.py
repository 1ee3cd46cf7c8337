"""The multi-robot warehouse (RWARE), the fourth environment: tokens, masks, an expert that
beats random and greedy play, and data the trainer reads."""
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from marlgpt_training.cli import main
from marlgpt_training.envs import common
from marlgpt_training.envs import rware as warehouse
from marlgpt_training.expert import warehouse as warehouse_expert


def test_layout_uses_the_four_indices() -> None:
    layout = warehouse.layout()
    assert layout["num_tokens"] == 80 and layout["num_actions"] == 5
    assert layout["encoder_version"] == 2
    idx = layout["indices"]
    assert all(len(v) == 80 for v in idx.values())
    # The errand: the agent's own (index 0), a team of its own, attributes after the cells'.
    assert idx["team"][71:] == [3] * 9 and idx["agent"][71:] == [0] * 9
    assert idx["attr"][71:] == list(range(15, 24))
    assert idx["team"][:8] == [0] * 8 and idx["agent"][:8] == [0] * 8
    # Each of the nine cells: 5 agent tokens (team 1) and 2 shelf tokens (team 2), one index.
    cell = slice(8 + 7 * 4, 8 + 7 * 5)  # the centre cell, agent index 5
    assert idx["team"][cell] == [1] * 5 + [2] * 2 and set(idx["agent"][cell]) == {5}
    # Equivalent features share attributes: every cell's "shelf requested" is attribute 14.
    assert {idx["attr"][8 + 7 * k + 6] for k in range(9)} == {14}


def test_tokens_and_masks_of_a_real_step() -> None:
    env = warehouse.make_env(("tiny", 2))
    obs, _ = env.reset(seed=3)
    toks = warehouse.tokens(obs, env)
    assert toks.shape == (2, 80) and toks.dtype == np.float32
    height, width = env.grid_size
    for row, agent in zip(toks, env.agents, strict=True):
        np.testing.assert_allclose(row[:2], [agent.x / (width - 1), agent.y / (height - 1)])
        assert row[3 + agent.dir.value] == 1.0 and row[3:7].sum() == 1.0
        assert row[8 + 7 * 4] == 1.0  # the centre cell holds the agent itself
    np.testing.assert_array_equal(toks[:, 2:71], np.asarray(obs)[:, 2:])
    mask = warehouse_expert.action_mask(env)
    assert mask.shape == (2, 5) and mask[:, [0, 2, 3]].all()
    for i, agent in enumerate(env.agents):  # empty-handed: toggle only on a shelf
        assert mask[i, 4] == bool(env.grid[1, agent.y, agent.x])


def test_errand_tokens_lead_along_the_experts_paths() -> None:
    """The errand says what each robot is about and which actions shorten its way there: the
    expert, which reads the request queue, takes a shortening action in most of its steps on
    the way, and each errand kind appears as the cycle turns; the toggle is marked where it
    completes an errand."""
    env = warehouse.make_env(("tiny", 2))
    obs, _ = env.reset(seed=4)
    act = warehouse.expert_act(np.random.default_rng(0))
    kinds, on_way, shortening, toggles = set(), 0, 0, 0
    fields: dict = {}
    for _ in range(300):
        toks = warehouse.tokens(obs, env, fields)
        errand = toks[:, 71:]
        actions = act(env, toks, warehouse_expert.action_mask(env))
        for i, agent in enumerate(env.agents):
            if errand[i, :3].sum() == 0:
                continue
            kind = int(errand[i, :3].argmax())
            kinds.add(kind)
            change = errand[i, 3:8]
            assert set(change.tolist()) <= {-1.0, 0.0, 1.0} and change[0] == 0.0  # none: 0
            assert 0 < errand[i, 8] <= 1 or change[4] == -1 or kind == warehouse.DELIVER
            if change[4] == -1:  # toggling completes it: fetch on a requested shelf
                toggles += 1
                assert kind != warehouse.DELIVER
                if kind == warehouse.FETCH:
                    assert env.grid[1, agent.y, agent.x] > 0
            if actions[i] in (1, 2, 3):
                on_way += 1
                shortening += int(change[actions[i]] == -1)
        obs, *_ = env.step(actions.tolist())
    assert kinds == {warehouse.FETCH, warehouse.DELIVER, warehouse.RETURN}
    assert toggles > 0 and on_way > 100
    assert shortening / on_way > 0.8, (shortening, on_way)


def test_a_model_of_the_old_token_layout_is_refused(tmp_path: Path) -> None:
    from marlgpt_training.model import checkpoint
    from marlgpt_training.policies.model import VectorModel

    class OldLayout(warehouse.WarehouseGenerator):
        def token_layout(self) -> dict:
            return dict(warehouse.layout(), encoder_version=1)

    run = tmp_path / "old"
    checkpoint.save_untrained(run, "tiny", OldLayout())
    VectorModel(str(run), "rware", warehouse.ENCODER)  # without a version: not checked
    with pytest.raises(ValueError, match="rware-vector v1; rware now writes v2"):
        VectorModel(str(run), "rware", warehouse.ENCODER, version=warehouse.ENCODER_VERSION)


def test_a_loaded_agent_cannot_enter_a_shelf_or_drop_on_a_corridor() -> None:
    env = warehouse.make_env(("tiny", 1))
    env.reset(seed=0)
    agent = env.agents[0]
    agent.x, agent.y, agent.dir = 1, 3, type(agent.dir)(1)  # under a shelf, facing down
    env._recalc_grid()
    env.step([4])  # pick it up
    assert agent.carrying_shelf is not None
    mask = warehouse_expert.action_mask(env)[0]
    assert not mask[1] and mask[4]  # (1, 4) holds a standing shelf; a shelf cell: may drop
    env.step([3])  # turn right: facing left, towards the corridor at x = 0
    env.step([1])
    mask = warehouse_expert.action_mask(env)[0]
    assert (agent.x, agent.y) == (0, 3) and not mask[4]


def test_expert_clearly_beats_random_and_greedy() -> None:
    tasks = [("tiny", 2), ("tiny", 4)]
    expert = warehouse.evaluate(warehouse.expert_act, 4, tasks, steps=250)
    greedy = warehouse.evaluate(warehouse.greedy_act, 4, tasks, steps=250)
    rand = warehouse.evaluate(common.random_act, 4, tasks, steps=250)
    assert expert["all"]["deliveries_per_step"] > 0.05, expert
    assert rand["all"]["deliveries_per_step"] < 0.01, rand
    assert expert["tiny-4ag"]["deliveries"] > 1.2 * greedy["tiny-4ag"]["deliveries"], (
        expert, greedy)
    assert expert["all"]["episodes"] == 4 and expert["tiny-2ag"]["episodes"] == 2


def test_generate_train_and_eval(tmp_path: Path, capsys) -> None:
    data = tmp_path / "rware"
    assert main(["generate", "--env", "rware", "--episodes", "2", "--agents", "2", "--out",
                 str(data), "--workers", "1", "--no-progress"]) == 0
    manifest = json.loads((data / "manifest.json").read_text())
    info = manifest["environments"]["rware"]
    assert info["num_actions"] == 5 and info["token_layout"]["encoder"] == "rware-vector"
    from marlgpt_training.data.records import Dataset

    shard = next(iter(Dataset(data)))
    assert shard["tokens"].shape == (2 * 500 * 2, 80)
    rows = np.arange(len(shard["action"]))
    assert shard["action_mask"][rows, shard["action"]].all()  # the expert acts within its mask
    assert shard["reward"].sum() > 10  # it delivers

    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({
        "model": {"width": 32, "heads": 2, "trunk_layers": 1, "branch_layers": 1},
        "loss": {"mode": "bc"},
        "optim": {"batch_size": 32, "lr": 3e-3, "warmup_steps": 1, "max_steps": 2, "seed": 1},
        "data": {"dirs": [str(data)], "workers": 0},
        "run": {"log_every": 1, "checkpoint_every": 2}}))
    run = tmp_path / "run"
    assert main(["train", "--config", str(config), "--out", str(run), "--no-progress"]) == 0
    report = tmp_path / "eval.json"
    assert main(["eval", "--env", "rware", "--policy", str(run), "--episodes", "1",
                 "--agents", "2", "--json", str(report), "--no-progress"]) == 0
    assert "deliveries/step" in capsys.readouterr().out
    scores = json.loads(report.read_text())
    assert scores["tasks"]["tiny-2ag"]["episodes"] == 1 and scores["score"] >= 0


def test_option_errors(tmp_path: Path, capsys) -> None:
    assert main(["eval", "--env", "rware", "--policy", "random", "--rware-size", "huge"]) == 2
    assert "unknown RWARE sizes ['huge']" in capsys.readouterr().err
    assert main(["eval", "--env", "rware", "--policy", "greedy", "--sample"]) == 2
    assert main(["eval", "--env", "rware", "--policy", "builtin"]) == 2
    assert main(["generate", "--env", "rware", "--out", str(tmp_path / "x"), "--agents",
                 "20"]) == 2
    assert "1..19" in capsys.readouterr().err
