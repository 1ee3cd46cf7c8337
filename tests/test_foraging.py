"""Level-Based Foraging, the second environment: tokens, masks and an expert that beats random."""
import numpy as np

from marlgpt_training.envs import lbf as foraging
from marlgpt_training.expert import foraging as foraging_expert


def test_layout_uses_the_four_indices() -> None:
    layout = foraging.layout()
    assert layout["num_tokens"] == 18
    idx = layout["indices"]
    assert idx["team"][:9] == [2] * 9 and idx["team"][9:12] == [0] * 3
    assert idx["agent"][9:12] == [0, 0, 0] and idx["agent"][12:15] == [1, 1, 1]
    # Equivalent features share attributes: every food's level is attribute 2.
    assert {idx["attr"][i] for i in (2, 5, 8)} == {2}


def test_tokens_and_masks_of_a_real_step() -> None:
    task = (8, 2, 2)
    env = foraging.make_env(task)
    obs, _ = env.reset(seed=3)
    toks = foraging.tokens(obs, task)
    assert toks.shape == (2, 18)
    # The observing agent's own row/col/level are tokens 9-11, scaled by size and max level.
    me = env.players[0]
    np.testing.assert_allclose(toks[0, 9:12], [me.position[0] / 8, me.position[1] / 8,
                                               me.level / 3], rtol=1e-6)
    assert (toks[:, 6:9] == -1).all()  # the third food slot is empty in a 2-food task
    mask = foraging_expert.action_mask(env)
    assert mask.shape == (2, 6) and mask[:, 0].all()


def test_expert_clearly_beats_random() -> None:
    rng = np.random.default_rng(0)
    expert = foraging.evaluate(lambda env, t, m: foraging_expert.expert_actions(env, rng), 16)
    rand = foraging.evaluate(lambda env, t, m: np.array([rng.choice(np.flatnonzero(r))
                                                         for r in m]), 16)
    assert expert["score"] > 2 * rand["score"] + 0.1, (expert, rand)


def test_generated_episode_records_available_actions() -> None:
    record = foraging.ForagingGenerator().episode(5)
    steps, agents = record.action.shape
    assert record.tokens.shape == (steps, agents, 18)
    flat_mask = record.action_mask.reshape(-1, 6)
    assert flat_mask[np.arange(steps * agents), record.action.reshape(-1)].all()
    assert record.done[-1].all() and not record.done[:-1].any()
