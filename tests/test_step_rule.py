"""The step rule (marlgpt_planner.step_rule): one checked value per way of settling a step, and
settle() equal to the soft rule, the shield and the search it stands for."""
import dataclasses

import numpy as np
import pytest

from marlgpt_planner.actions import DELTAS, NUM_ACTIONS, WAIT
from marlgpt_planner.grid import DistanceFields
from marlgpt_planner.lookahead import Search, pibt_rankings, search_step
from marlgpt_planner.rankings import choose, rank, ranking_scores
from marlgpt_planner.shield import shield
from marlgpt_planner.soft_rule import resolve
from marlgpt_planner.step_rule import (
    CENTRAL,
    RESOLUTIONS,
    SEQUENTIAL,
    SHIELD,
    SOFT,
    SOFT_RULE,
    StepRule,
    names,
)


def crowded(seed: int, size: int = 9, agents: int = 30):
    rng = np.random.default_rng(seed)
    obstacles = rng.random((size, size)) < 0.15
    free = np.argwhere(~obstacles)
    picks = rng.choice(len(free), size=agents + agents, replace=False)
    positions, goals = free[picks[:agents]], free[picks[agents:]]
    rankings = [[int(a) for a in rng.permutation(NUM_ACTIONS)][:rng.integers(1, 6)]
                for _ in range(agents)]
    return rng, obstacles, positions, goals, rankings


@pytest.mark.parametrize("kwargs, message", [
    (dict(resolution="hard"),
     "resolution must be one of soft, shield, sequential, central, got 'hard'"),
    (dict(resolution=SHIELD, search=0), "search needs at least 1 candidate, got 0"),
    (dict(resolution=SHIELD, path_weight=-1.0), "the path weight must be >= 0"),
    (dict(resolution=SOFT, path_weight=0.5), "a path weight only shapes rankings of actions "
     "(--resolution shield or sequential)"),
    (dict(resolution=SOFT, search=4), "the rollout search only chooses among settled steps "
     "(--resolution shield or sequential)"),
])
def test_a_bad_rule_is_refused_with_one_message(kwargs, message) -> None:
    with pytest.raises(ValueError) as caught:
        StepRule(**kwargs)
    assert str(caught.value).startswith(message)


def test_rules_name_what_they_are_and_what_planners_must_share() -> None:
    assert names() == [SOFT, SHIELD, SEQUENTIAL, CENTRAL] and SOFT_RULE == StepRule()
    # The central resolution needs the fleet's coordinator: not offered to marlgpt eval.
    assert names(fleet=False) == [SOFT, SHIELD, SEQUENTIAL]
    assert StepRule(CENTRAL, search=16).planned and not StepRule(SHIELD).planned
    assert all(r.summary for r in RESOLUTIONS.values())
    assert not SOFT_RULE.ranks and StepRule(SHIELD).ranks
    assert StepRule(SHIELD, 0.5, 16).label() == "shield, path 0.5, search 16"
    assert StepRule(SHIELD).label() == "shield" and SOFT_RULE.label() == ""
    # The path weight shapes a planner's own rankings only: not part of the agreement.
    assert StepRule(SHIELD, 0.5, 16).agreement() == StepRule(SHIELD, 0.0, 16).agreement() \
        == "shield/search=16"
    assert StepRule(SHIELD).agreement() == "shield" != SOFT_RULE.agreement()
    # Another resolution settles unlike; another search (or no name at all) does not.
    assert StepRule(SHIELD).settles_unlike("soft") and SOFT_RULE.settles_unlike("shield")
    assert not StepRule(SHIELD).settles_unlike("shield/search=16")
    assert not StepRule(SHIELD).settles_unlike("")
    # The node's parameters carry every option; a resolution drops those it does not read.
    assert StepRule.lenient(SOFT, 0.5, 16) == SOFT_RULE
    assert StepRule.lenient(SHIELD, 0.5, 16) == StepRule(SHIELD, 0.5, 16)
    with pytest.raises(ValueError, match="resolution must be one of"):
        StepRule.lenient("hard")
    with pytest.raises(dataclasses.FrozenInstanceError):  # no change under a running fleet
        SOFT_RULE.resolution = SHIELD  # type: ignore[misc]


@pytest.mark.parametrize("seed", range(6))
def test_settle_is_the_soft_rule_the_shield_and_the_search(seed) -> None:
    rng, obstacles, positions, goals, rankings = crowded(seed)
    ages = rng.integers(0, 20, len(positions)).tolist()
    first = np.array([r[0] for r in rankings])
    soft, _ = resolve(positions, positions + DELTAS[first], obstacles)
    assert (SOFT_RULE.settle(positions, rankings, ages, obstacles=obstacles) == soft).all()
    # An empty ranking waits under the soft rule.
    emptied = [[] if i % 3 == 0 else r for i, r in enumerate(rankings)]
    waits = np.where(np.arange(len(first)) % 3 == 0, WAIT, first)
    soft, _ = resolve(positions, positions + DELTAS[waits], obstacles)
    assert (SOFT_RULE.settle(positions, emptied, ages, obstacles=obstacles) == soft).all()
    shielded = shield(positions, rankings, ages)
    assert (StepRule(SHIELD).settle(positions, rankings, ages) == shielded).all()
    fields = DistanceFields(obstacles, pad=1)
    legal = pibt_rankings(fields, positions, goals)
    searched = search_step(fields, positions, goals, legal, ages, seed, Search(candidates=8))
    rule = StepRule(SHIELD, search=8)
    assert (rule.settle(positions, legal, ages, goals, fields, seed=seed) == searched).all()
    # Without the grid there is no search: the plain shielded step.
    assert (rule.settle(positions, legal, ages, goals, seed=seed)
            == shield(positions, legal, ages)).all()
    with pytest.raises(ValueError, match="goal"):
        rule.settle(positions, legal, ages, fields=fields)


def test_choose_hands_in_one_action_or_a_ranking() -> None:
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(12, NUM_ACTIONS))
    mask = rng.random((12, NUM_ACTIONS)) < 0.8
    mask[:, WAIT] = True
    path_left = rng.integers(0, 9, size=(12, NUM_ACTIONS))
    soft = SOFT_RULE.choose(logits, mask, False, None)
    assert soft == [[int(a)] for a in choose(logits, mask, False, None)]
    ranked = StepRule(SHIELD, 0.7).choose(logits, mask, False, None, path_left)
    assert ranked == rank(ranking_scores(logits, mask, False, None, path_left, 0.7))
    assert all(set(r) == set(np.flatnonzero(m)) for r, m in zip(ranked, mask))
    # Sampled: the same draws as the runtime's own sampler, from the same generator state.
    drawn = StepRule(SHIELD).choose(logits, mask, True, np.random.default_rng(9))
    assert drawn == rank(ranking_scores(logits, mask, True, np.random.default_rng(9)))
    # Preference scores (a scripted policy's) are ranked as they are, path-weighted.
    scores = -path_left.astype(float)
    assert StepRule(SHIELD, 2.0).rank(scores, mask, path_left) == \
        rank(np.where(mask, 3.0 * scores, -np.inf))
    with pytest.raises(ValueError, match="path length"):
        StepRule(SHIELD, 2.0).rank(scores, mask)


def test_the_nodes_parameters_make_the_fleets_rule() -> None:
    from marlgpt_planner.parameters import step_rule, validate
    from tests.test_parameters import MUST_SET

    defaults = validate(dict(MUST_SET))
    assert step_rule(defaults) == StepRule(SHIELD, 0.0, 16)
    tuned = validate(dict(MUST_SET, **{"model.path_weight": 0.5, "fleet_protocol.search": 4}))
    assert step_rule(tuned) == StepRule(SHIELD, 0.5, 4)
    # Under the soft rule the shield's options (defaults included) are not read.
    soft = validate(dict(MUST_SET, **{"fleet_protocol.resolution": SOFT,
                                      "model.path_weight": 0.5}))
    assert step_rule(soft) == SOFT_RULE
