"""Fine-tuning in the warehouse and in Football (``marlgpt finetune --env rware|grf``): their
episodes are ``marlgpt eval``'s, step for step."""
from pathlib import Path

import numpy as np
import pytest

from marlgpt_training.cli import main
from marlgpt_training.envs import grf, lbf, rware
from marlgpt_training.finetune.football import FootballEpisode, FootballWorld
from marlgpt_training.finetune.warehouse import WarehouseEpisode, WarehouseWorld

TASK = ("tiny", 2)


def expert_logits(actions, num_actions: int = rware.NUM_ACTIONS) -> np.ndarray:
    """Logits whose most likely actions are ``actions``."""
    actions = np.asarray(actions)
    logits = np.zeros((len(actions), num_actions))
    logits[np.arange(len(actions)), actions] = 10.0
    return logits


@pytest.mark.parametrize("team_reward", [False, True])
def test_an_episode_replays_the_evaluations_episode(team_reward: bool) -> None:
    """The expert's actions handed in through logits give exactly ``run_episode``'s tokens,
    deliveries and end; the team reward is every robot's share of the sum."""
    steps, seed = 150, 10_003
    record, deliveries = rware.run_episode(TASK, seed, rware.expert_act(np.random.default_rng(4)),
                                           steps)
    assert deliveries > 0  # so the rewards below are tested on deliveries
    episode = WarehouseEpisode(TASK, seed, steps, team_reward)
    expert = rware.expert(np.random.default_rng(4))
    rewards, ends = [], []
    for t in range(steps):
        tokens, mask = episode.observe()
        np.testing.assert_array_equal(tokens.astype(np.float16), record.tokens[t])
        np.testing.assert_array_equal(mask, record.action_mask[t])
        actions, reward, terminated, truncated = episode.step(
            expert_logits(expert(episode.env)), False, None)
        np.testing.assert_array_equal(actions, record.action[t])
        rewards.append(reward)
        ends.append((terminated, truncated))
    assert ends[-1] == (False, True) and all(end == (False, False) for end in ends[:-1])
    rewards = np.array(rewards)
    if team_reward:
        np.testing.assert_array_equal(rewards, np.repeat(record.reward.sum(1, keepdims=True),
                                                         2, axis=1))
    else:
        np.testing.assert_array_equal(rewards, record.reward)
    assert episode.score() == pytest.approx(deliveries / steps)


def test_the_evaluation_is_marlgpt_evals_and_samples_by_default() -> None:
    world = WarehouseWorld({"agents": [2, 3], "steps": 40}, rware.layout(), False, 0)
    assert world.eval_sample and world.max_agents == 3
    logits = np.zeros(rware.NUM_ACTIONS)
    logits[1] = 3.0  # forward, mostly

    def policy(rng):
        from marlgpt_planner.rankings import choose
        return lambda env, tokens, mask: choose(np.tile(logits, (len(mask), 1)), mask, True,
                                                rng)

    expected = rware.evaluate(policy, 4, world.tasks, steps=40)
    scores = world.eval_scores(lambda tokens: np.tile(logits, (len(tokens), 1)), 4)
    assert np.mean(scores) == pytest.approx(expected["all"]["deliveries_per_step"])
    assert np.mean(scores[::2]) == pytest.approx(expected["tiny-2ag"]["deliveries_per_step"])


def test_bad_settings_and_layouts_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown keys"):
        WarehouseWorld({"size": ["tiny"]}, rware.layout(), False, 0)
    with pytest.raises(ValueError, match="unknown RWARE sizes"):
        WarehouseWorld({"sizes": ["huge"]}, rware.layout(), False, 0)
    with pytest.raises(ValueError, match="token layout"):
        WarehouseWorld({}, lbf.layout(), False, 0)
    with pytest.raises(ValueError, match="token layout"):
        WarehouseWorld({}, dict(rware.layout(), encoder_version=1), False, 0)


@pytest.mark.parametrize("env", ["rware", "grf"])
def test_two_updates(tmp_path: Path, capsys: pytest.CaptureFixture, env: str) -> None:
    from marlgpt_training.model import checkpoint

    generator = rware.WarehouseGenerator() if env == "rware" else grf.FootballGenerator()
    init = tmp_path / "pretrained"
    checkpoint.save_untrained(init, "tiny", generator)
    settings = (["--set", "settings.steps=12"] if env == "rware" else
                ["--set", "settings.scenarios=[academy_pass_and_shoot_with_keeper]"])
    run = tmp_path / "run"
    assert main(["finetune", "--config", "training/configs/finetune-tiny-rware.yaml",
                 "--env", env, "--set", "settings={}", *settings,
                 "--init", str(init), "--out", str(run), "--no-progress",
                 "--set", "rollout.num_envs=2", "--set", "rollout.steps=8",
                 "--set", "ppo.warmup_updates=1", "--set", "ppo.updates=2",
                 "--set", "run.eval_episodes=2"]) == 0
    out = capsys.readouterr().out
    assert ("evaluation sampled" if env == "rware" else "win rate") in out
    assert "update 2: eval" in out
    assert (run / "checkpoints/step-000002/model.safetensors").is_file()


def test_a_football_episode_replays_the_evaluations_game() -> None:
    """The scripted expert's actions through logits: ``run_episode``'s tokens and actions, the
    team's reward for every player, the game's end, the win."""
    from marlgpt_training.expert.football import ScriptedExpert

    scenario, seed = "academy_pass_and_shoot_with_keeper", 10_000
    record, outcome = grf.run_episode(scenario, seed, ScriptedExpert())
    episode = FootballEpisode(scenario, seed)
    expert = ScriptedExpert()
    ends = []
    for t in range(len(record.action)):
        tokens, mask = episode.observe()
        np.testing.assert_array_equal(tokens.astype(np.float16), record.tokens[t])
        actions = expert(episode.observations, tokens, mask)
        chosen, reward, terminated, truncated = episode.step(
            expert_logits(actions, grf.NUM_ACTIONS), False, None)
        np.testing.assert_array_equal(chosen, record.action[t])
        np.testing.assert_array_equal(reward, record.reward[t])
        ends.append((terminated, truncated))
    assert ends[-1] == (True, False) and all(end == (False, False) for end in ends[:-1])
    assert episode.score() == float(outcome.win)
    with pytest.raises(ValueError, match="unknown keys"):
        FootballWorld({"scenario": [scenario]}, grf.layout(), True, 0)
    with pytest.raises(ValueError, match="unknown .*scenarios"):
        FootballWorld({"scenarios": ["academy_run_to_score"]}, grf.layout(), True, 0)
    with pytest.raises(ValueError, match="token layout"):
        FootballWorld({}, rware.layout(), True, 0)
    world = FootballWorld({"scenarios": [scenario]}, grf.layout(), True, 0)
    assert world.max_agents == 3 and world.episode(0).scenario == scenario
