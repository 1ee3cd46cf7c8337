"""Rollout search over shielded steps: as safe as the shield, deterministic, never worse by its
own rollout, plain PIBT's rankings, and more goals than the plain shield on crowded mazes."""
import json

import numpy as np
import pytest

from marlgpt_planner.actions import DELTAS, DOWN, LEFT, RIGHT, UP, WAIT
from marlgpt_planner.grid import DistanceFields, parse_grid
from marlgpt_planner.lookahead import (
    Search,
    candidate_steps,
    pibt_rankings,
    rollout_score,
    search_step,
)
from marlgpt_planner.shield import shield
from marlgpt_planner.soft_rule import resolve
from marlgpt_planner.step_rule import StepRule
from marlgpt_training.cli import main
from marlgpt_training.data.maps import make_map
from tests.conftest import tiny_map_set


def crowded(seed: int, kind: str = "mazes", size: int = 13, agents: int = 30):
    rng = np.random.default_rng(seed)
    obstacles = make_map(kind, size, size, rng, 0.25)
    free = np.argwhere(~obstacles)
    picks = rng.permutation(len(free))
    positions = free[picks[:agents]].astype(np.int64)
    goals = free[picks[agents:2 * agents]].astype(np.int64)
    return obstacles, positions, goals, rng


@pytest.mark.parametrize("seed", range(12))
def test_searched_steps_are_safe_deterministic_and_no_worse_by_rollout(seed) -> None:
    obstacles, positions, goals, rng = crowded(seed, "mazes" if seed % 2 else "random")
    fields = DistanceFields(obstacles, pad=1)
    ages = rng.integers(0, 20, len(positions))
    # Rankings as a policy would give them: shuffled legal moves.
    rankings = [[a for a in rng.permutation(5) if a == WAIT or not _blocked(obstacles, p, a)]
                for p in positions]
    search = Search(candidates=8, horizon=4)
    after = search_step(fields, positions, goals, rankings, ages, seed=seed, search=search)
    assert len({tuple(c) for c in after.tolist()}) == len(after), "two agents share a cell"
    moved = {(tuple(a), tuple(b)) for a, b in zip(positions.tolist(), after.tolist()) if a != b}
    assert not any((b, a) in moved for a, b in moved), "two agents swapped"
    for i, (a, b) in enumerate(zip(positions.tolist(), after.tolist())):
        action = [tuple(d) for d in DELTAS.tolist()].index((b[0] - a[0], b[1] - a[1]))
        assert action == WAIT or action in rankings[i]
    assert resolve(positions, after, obstacles)[0].tolist() == after.tolist()
    # Every robot computes the same step from the same inputs and seed.
    again = search_step(fields, positions, goals, rankings, ages, seed=seed, search=search)
    assert again.tolist() == after.tolist()
    # The plain shielded step is candidate 0, and the chosen step is the first best-scoring
    # candidate, so by its rollout the search never does worse than the plain shield. Odd
    # candidates rank moves as plain PIBT does, even ones as the policy does.
    plain = shield(positions, rankings, ages)
    pibt = [[a for a in p if a in r] for p, r in zip(pibt_rankings(fields, positions, goals),
                                                    rankings)]
    candidates = candidate_steps(positions, rankings, ages, seed, search, pibt)
    assert len(candidates) == 8 and candidates[0][0].tolist() == plain.tolist()
    for k, (step, prio) in enumerate(candidates):
        assert step.tolist() == shield(positions, pibt if k % 2 else rankings, prio).tolist()
    assert len({tuple(p.round(6)) for _, p in candidates[1:]}) == 7  # each jittered anew
    scores = [rollout_score(fields, positions, step, goals, prio, 4) for step, prio in candidates]
    assert after.tolist() == candidates[int(np.argmax(scores))][0].tolist()
    assert max(scores) >= scores[0]
    # One candidate (or a horizon of 1) is exactly the shield.
    for off in (Search(candidates=1), Search(horizon=1)):
        assert search_step(fields, positions, goals, rankings, ages, seed, off).tolist() == \
            plain.tolist()


def _blocked(obstacles: np.ndarray, cell, action: int) -> bool:
    r, c = cell[0] + DELTAS[action][0], cell[1] + DELTAS[action][1]
    return not (0 <= r < obstacles.shape[0] and 0 <= c < obstacles.shape[1]) or obstacles[r, c]


def test_an_agent_that_must_hold_holds_in_every_candidate() -> None:
    obstacles, positions, goals, rng = crowded(7, "random", 13, 30)
    fields = DistanceFields(obstacles, pad=1)
    rankings = pibt_rankings(fields, positions, goals)
    rankings[3] = [WAIT]  # e.g. a robot with a stale pose
    for step in range(5):
        after = search_step(fields, positions, goals, rankings, np.arange(30), step,
                            Search(candidates=8, horizon=3))
        assert after[3].tolist() == positions[3].tolist()


def test_moves_off_the_map_or_into_walls_from_a_ranking_are_dropped() -> None:
    obstacles, positions, goals, rng = crowded(5, "mazes", 13, 20)
    fields = DistanceFields(obstacles, pad=1)
    rankings = [list(rng.permutation(5)) for _ in positions]  # some illegal moves
    for step in range(6):
        after = search_step(fields, positions, goals, rankings, np.arange(20), step,
                            Search(candidates=6, horizon=3))
        assert not obstacles[after[:, 0], after[:, 1]].any()
        assert ((after >= 0) & (after < 13)).all()


def test_pibt_rankings_prefer_shorter_paths_then_free_cells() -> None:
    grid = parse_grid("""
        .....
        .#...
        .....
    """)
    fields = DistanceFields(grid, pad=1)
    # Agent 0 at (0, 0) heading for (2, 2): down and right both shorten its path; right,
    # (0, 1), is taken by agent 1, so down comes first. Up and left leave the map.
    positions = np.array([[0, 0], [0, 1]])
    goals = np.array([[2, 2], [0, 1]])
    ranking = pibt_rankings(fields, positions, goals)
    assert ranking[0] == [DOWN, RIGHT, WAIT]
    # Agent 1 sits on its goal: waiting first; (1, 1) is a wall, never ranked.
    assert ranking[1][0] == WAIT and UP not in ranking[1] and DOWN not in ranking[1]
    assert set(ranking[1]) == {WAIT, LEFT, RIGHT}


def test_search_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="candidates >= 1"):
        Search(candidates=0).check()
    with pytest.raises(ValueError, match="jitter >= 0"):
        Search(jitter=-1.0).check()


def test_search_reaches_more_goals_than_the_plain_shield_on_crowded_mazes() -> None:
    """Plain PIBT's rankings, 40 steps of a lifelong episode on four crowded mazes: the search
    (the expert's lookahead) must reach clearly more goals than the plain shield."""
    totals = {}
    for candidates in (1, 16):
        total = 0
        for seed in range(4):
            obstacles, positions, goals, rng = crowded(100 + seed, "mazes", 15, 36)
            fields = DistanceFields(obstacles, pad=1)
            free = np.argwhere(~obstacles)
            ages = np.zeros(len(positions))
            for step in range(40):
                rankings = pibt_rankings(fields, positions, goals)
                positions = search_step(fields, positions, goals, rankings, ages, step,
                                        Search(candidates=candidates))
                at_goal = (positions == goals).all(axis=1)
                total += int(at_goal.sum())
                ages = np.where(at_goal, 0, ages + 1)
                for i in np.flatnonzero(at_goal):
                    goals[i] = free[rng.integers(len(free))]
        totals[candidates] = total
    assert totals[16] > 1.05 * totals[1], totals


def test_marlgpt_eval_search_is_refereed_by_pogema_and_recorded(tmp_path) -> None:
    """Searched steps go through POGEMA unchanged (run_episode raises otherwise), the JSON
    records the candidates, and search without the shield is refused."""
    from marlgpt_training.benchmark.episode import run_episode
    from marlgpt_training.benchmark.evaluate import run_instances
    from marlgpt_training.benchmark.mapset import Instance
    from marlgpt_training.policies import make_policy

    grid = "\n".join(["........", ".#.##.#.", "........", ".##.#.#.", "........",
                      ".#.#.##.", "........", "........"])
    instance = Instance("crowded", 0, 24, 48, grid)
    trace = []
    searched = run_episode(instance, make_policy("bfs"), StepRule("shield", search=8),
                           trace=trace)
    plain = run_episode(instance, make_policy("bfs"), StepRule("shield"))
    assert len(trace) == 48 and searched.goals > 0 and plain.goals > 0
    with pytest.raises(ValueError, match="--resolution shield"):
        list(run_instances([instance], "bfs", rule=StepRule("soft", search=4), progress=False))
    with pytest.raises(ValueError, match="at least 1 candidate"):
        list(run_instances([instance], "bfs", rule=StepRule("shield", search=0),
                           progress=False))
    out = tmp_path / "out.json"
    assert main(["eval", "--policy", "bfs", "--resolution", "shield", "--search", "4",
                 "--map-set", str(tiny_map_set(tmp_path / "tiny")), "--agents", "2",
                 "--max-instances", "1", "--workers", "1", "--no-progress",
                 "--json", str(out)]) == 0
    assert json.loads(out.read_text())["search"] == 4


def _searched_fleet(digests, positions, goals, rankings, order_seed=0, search=8, rules=None):
    from marlgpt_planner.lockstep import ARRIVED, PROPOSING, LockStep, Report

    ids = [f"robot{i}" for i in range(len(positions))]
    fleet = LockStep(ids, rule=StepRule("shield", search=search))
    order = np.random.default_rng(order_seed).permutation(len(ids))
    for i in order:
        cell = tuple(positions[i].tolist())
        fleet.receive(Report(ids[i], 0, ARRIVED, cell, cell, tuple(goals[i].tolist())), 0.0)
    fleet.start()
    for i in order:
        cell = tuple(positions[i].tolist())
        fleet.receive(Report(ids[i], 1, PROPOSING, cell, cell, tuple(goals[i].tolist()),
                             ranking=tuple(rankings[i]), map_digest=digests[i],
                             step_rule=rules[i] if rules else fleet.rule.agreement()), 0.0)
    return fleet


def test_a_searching_fleet_agrees_on_one_map_and_falls_back_on_two() -> None:
    """Every planner reaches eval's searched step whatever order it hears the fleet in; a
    proposal from a planner on another map turns the search off for that step."""
    from marlgpt_planner.grid import grid_digest

    obstacles, positions, goals, rng = crowded(3, "mazes", 13, 24)
    fields = DistanceFields(obstacles, pad=1)
    rankings = [list(rng.permutation(5)) for _ in positions]
    rankings = [[a for a in r if a == WAIT or not _blocked(obstacles, p, a)]
                for r, p in zip(rankings, positions)]
    digest = grid_digest(obstacles)
    expected = search_step(fields, positions, goals, rankings, np.zeros(24), 1,
                           Search(candidates=8))
    plain = shield(positions, rankings, np.zeros(24))
    assert expected.tolist() != plain.tolist()  # the search changed this step
    for order_seed in range(3):
        fleet = _searched_fleet([digest] * 24, positions, goals, rankings, order_seed)
        assert fleet.resolve(fields, digest).to_cells == [tuple(c) for c in expected.tolist()]
        assert fleet.searched_steps == 1
    other = [digest] * 23 + ["0123456789abcdef"]
    for digests, mine in ((other, digest), ([digest] * 24, ""), ([""] * 24, "")):
        fleet = _searched_fleet(digests, positions, goals, rankings)
        assert fleet.resolve(fields, mine).to_cells == [tuple(c) for c in plain.tolist()]
        assert fleet.searched_steps == 0
    assert grid_digest(obstacles) == digest and grid_digest(~obstacles) != digest


def test_a_planner_with_another_step_rule_turns_the_search_off() -> None:
    """Planners that search with other settings (or not at all) could pick different steps:
    one such proposal makes every planner take the plain shielded step."""
    from marlgpt_planner.grid import grid_digest

    obstacles, positions, goals, rng = crowded(3, "mazes", 13, 24)
    fields = DistanceFields(obstacles, pad=1)
    rankings = [[a for a in rng.permutation(5) if a == WAIT or not _blocked(obstacles, p, a)]
                for p in positions]
    digest = grid_digest(obstacles)
    plain = shield(positions, rankings, np.zeros(24))
    agreed = _searched_fleet([digest] * 24, positions, goals, rankings)
    assert agreed.resolve(fields, digest).to_cells != [tuple(c) for c in plain.tolist()]
    for odd in ("shield/search=16", "shield", ""):
        rules = [StepRule("shield", search=8).agreement()] * 23 + [odd]
        fleet = _searched_fleet([digest] * 24, positions, goals, rankings, rules=rules)
        assert fleet.resolve(fields, digest).to_cells == [tuple(c) for c in plain.tolist()]
        assert fleet.searched_steps == 0
    # Another resolution altogether: nobody moves (tests/test_lockstep.py).
    rules = [StepRule("shield", search=8).agreement()] * 23 + ["soft"]
    fleet = _searched_fleet([digest] * 24, positions, goals, rankings, rules=rules)
    assert not any(fleet.resolve(fields, digest).moved) and fleet.searched_steps == 0
