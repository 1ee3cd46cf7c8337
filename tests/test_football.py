"""Google Research Football, the third environment: tokens from the real engine, the scripted
expert, and `marlgpt generate` / `marlgpt eval` with --env grf (the engine is built by make
setup; MARLGPT_GRF=0 set-ups leave it out and skip these tests)."""
import json
import os
from pathlib import Path

import numpy as np
import pytest

from marlgpt_training.cli import main

if os.environ.get("MARLGPT_GRF") == "0":
    pytest.skip("set up without Google Research Football (MARLGPT_GRF=0)",
                allow_module_level=True)

from marlgpt_training.envs import grf as football  # noqa: E402
from marlgpt_training.expert import football as expert_module  # noqa: E402

PASS_AND_SHOOT = "academy_pass_and_shoot_with_keeper"


@pytest.fixture(scope="module")
def first_observations():
    env = football.make_env(PASS_AND_SHOOT, seed=5)
    try:
        yield env.reset()
    finally:
        env.close()


def test_layout_uses_the_four_indices() -> None:
    layout = football.layout()
    idx = layout["indices"]
    assert layout["num_tokens"] == football.NUM_TOKENS == 94 == len(idx["attr"])
    assert layout["num_actions"] == 19
    assert idx["team"][:17] == [0] * 17 and set(idx["agent"][:29]) == {0}
    # Teammate slots share attributes and differ by agent index, as opponents do.
    mate = 29
    assert idx["attr"][mate:mate + 7] == idx["attr"][mate + 7:mate + 14]
    assert idx["agent"][mate] == 1 and idx["agent"][mate + 7] == 2
    rivals = mate + 5 * 7
    assert set(idx["team"][rivals:]) == {2} and idx["agent"][rivals:rivals + 6] == [1] * 6
    assert max(idx["attr"]) < 256 and max(idx["team"]) < 8


def test_tokens_of_a_real_step(first_observations) -> None:
    obs = first_observations
    assert len(obs) == 3  # the pass-and-shoot team: keeper and two field players
    toks = football.tokens(obs)
    assert toks.shape == (3, 94) and np.isfinite(toks).all()
    for row, player in enumerate(obs):
        me = player["left_team"][player["active"]]
        np.testing.assert_allclose(toks[row, :2], me, atol=1e-6)
        np.testing.assert_allclose(toks[row, 17:19], player["ball"][:2], atol=1e-6)
    assert sorted(p["active"] for p in obs) == [0, 1, 2]  # each agent is its own player
    mates = toks[0, 29:29 + 35].reshape(5, 7)
    assert mates[:2, 0].tolist() == [1.0, 1.0] and not mates[2:].any()  # 2 teammates, 3 absent
    rivals = toks[0, 64:].reshape(5, 6)
    assert rivals[:2, 0].tolist() == [1.0, 1.0] and not rivals[2:].any()
    # Nearest first: the keeper's nearest teammate is no farther than the next.
    distance = np.hypot(mates[:2, 1], mates[:2, 2])
    assert distance[0] <= distance[1]


@pytest.mark.parametrize("vector, action", [((1, 0), 5), ((-1, 0), 1), ((0, -1), 3),
                                            ((0, 1), 7), ((1, 1), 6), ((-1, -1.1), 2)])
def test_direction_actions(vector, action) -> None:
    assert expert_module.direction_action(vector) == action


def test_the_expert_holds_a_kick_then_lets_go(first_observations) -> None:
    obs = dict(first_observations[1])  # a field player, given the ball in front of goal
    team = np.array(obs["left_team"], dtype=np.float64)
    team[1] = (0.8, 0.0)
    obs.update(left_team=team, ball=np.array([0.8, 0.0, 0.1]), ball_owned_team=0,
               ball_owned_player=1, sticky_actions=np.eye(10, dtype=np.uint8)[4])  # facing right
    assert expert_module.expert_action(obs) == expert_module.SHOT
    expert = expert_module.ScriptedExpert()
    hold = expert_module.HOLD[expert_module.SHOT]
    actions = [int(expert([obs])[0]) for _ in range(hold + 1)]
    assert actions == [expert_module.SHOT] * hold + [5]  # held, then let go: its heading
    sprinting = dict(obs, sticky_actions=np.eye(10, dtype=np.uint8)[[4, 8]].sum(0))
    assert expert_module.expert_action(sprinting) == expert_module.RELEASE_SPRINT


def test_the_expert_scores_and_random_play_does_not() -> None:
    expert = football.evaluate(expert_module.ScriptedExpert, 16, [PASS_AND_SHOOT])[PASS_AND_SHOOT]
    rng = np.random.default_rng(0)

    def random_play():
        return lambda obs, toks, mask: rng.integers(0, 19, len(obs))

    chance = football.evaluate(random_play, 16, [PASS_AND_SHOOT])[PASS_AND_SHOOT]
    assert expert["goal_difference"] > chance["goal_difference"], (expert, chance)
    low, high = expert["win_rate_ci95"]
    assert low <= expert["win_rate"] <= high


def test_wilson_interval() -> None:
    low, high = football.wilson(8, 10)
    assert 0.49 < low < 0.5 and 0.94 < high < 0.95  # the textbook 80 % of 10
    assert football.wilson(0, 4)[0] == 0.0


def test_generate_then_eval_from_the_command_line(tmp_path: Path, capsys) -> None:
    out = tmp_path / "grf"
    assert main(["generate", "--env", "grf", "--episodes", "2", "--out", str(out),
                 "--workers", "1", "--no-progress"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    info = manifest["environments"]["grf"]
    assert info["num_actions"] == 19 and info["token_layout"]["encoder"] == "grf-players"
    kinds = [k for shard in manifest["shards"] for k in shard["map_kinds"]]
    assert kinds == [PASS_AND_SHOOT, "academy_corner"]  # episode i plays scenario i mod 4
    from marlgpt_training.data.records import Dataset

    shard = next(iter(Dataset(out)))
    assert shard["tokens"].shape[1] == 94 and shard["action"].max() < 19
    assert shard["action_mask"].all() and shard["done"].sum() == 3 + 11
    assert len(np.unique(shard["action"])) > 3  # the expert moves, passes or shoots

    report = tmp_path / "eval.json"
    assert main(["eval", "--env", "grf", "--policy", "expert", "--episodes", "4",
                 "--json", str(report), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "11_vs_11_easy_stochastic" in text and "paper expert" in text
    scores = json.loads(report.read_text())["scenarios"]
    assert list(scores) == list(football.SCENARIOS)
    assert all(row["episodes"] == 1 for row in scores.values())
    assert scores["11_vs_11_easy_stochastic"]["steps"] > 2900  # a whole match


def test_the_games_own_ai_as_a_reference(tmp_path: Path) -> None:
    report = tmp_path / "builtin.json"
    assert main(["eval", "--env", "grf", "--policy", "builtin", "--episodes", "2",
                 "--scenarios", PASS_AND_SHOOT, "--json", str(report), "--no-progress"]) == 0
    assert json.loads(report.read_text())["scenarios"][PASS_AND_SHOOT]["episodes"] == 2


@pytest.mark.parametrize("argv, expected", [
    (["eval", "--env", "lbf", "--policy", "builtin", "--episodes", "1"], "grf only"),
    (["eval", "--env", "grf", "--policy", "expert", "--scenarios", "nope"], "unknown --scenarios"),
    (["eval", "--env", "grf", "--policy", "builtin", "--sample"], "--sample needs a model"),
    (["generate", "--env", "lbf", "--scenarios", PASS_AND_SHOOT, "--out", "x"], "is for --env grf"),
])
def test_bad_grf_options_are_one_clear_line(argv, expected, capsys) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert expected in err and len(err.strip().splitlines()) == 1, err
