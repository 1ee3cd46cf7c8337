"""The collision shield (PIBT over ranked actions): safety on random crowded states, priorities,
deadlocks it breaks, rankings, the fleet's shielded steps, and POGEMA as the referee."""
import numpy as np
import pytest

from marlgpt_planner.actions import DELTAS, DOWN, LEFT, RIGHT, UP, WAIT
from marlgpt_planner.lockstep import ARRIVED, PROPOSING, LockStep, Report
from marlgpt_planner.rankings import clean_ranking, rank, ranking_scores
from marlgpt_planner.shield import GoalAges, shield
from marlgpt_planner.soft_rule import resolve
from marlgpt_planner.step_rule import StepRule


def cells(*pairs):
    return np.array(pairs, dtype=np.int64).reshape(-1, 2)


def random_state(rng, size, agents, obstacle_share=0.2):
    obstacles = rng.random((size, size)) < obstacle_share
    free = np.argwhere(~obstacles)
    chosen = free[rng.choice(len(free), size=agents, replace=False)]
    rankings = []
    for r, c in chosen.tolist():
        order = list(rng.permutation(5))
        allowed = [a for a in order
                   if 0 <= r + DELTAS[a][0] < size and 0 <= c + DELTAS[a][1] < size
                   and not obstacles[r + DELTAS[a][0], c + DELTAS[a][1]]]
        rankings.append(allowed)
    ages = rng.integers(0, 5, size=agents).tolist()
    return obstacles, chosen.astype(np.int64), rankings, ages


@pytest.mark.parametrize("seed", range(40))
def test_shielded_steps_never_collide_swap_or_leave_the_rankings(seed) -> None:
    rng = np.random.default_rng(seed)
    size = int(rng.integers(3, 9))
    agents = int(rng.integers(2, size * size // 2 + 2))
    obstacles, positions, rankings, ages = random_state(rng, size, agents)
    after = shield(positions, rankings, ages)
    assert len({tuple(c) for c in after.tolist()}) == len(after), "two agents share a cell"
    moved_to = {(tuple(a), tuple(b)) for a, b in zip(positions.tolist(), after.tolist())
                if a != b}
    assert not any((b, a) in moved_to for a, b in moved_to), "two agents swapped"
    for i, (a, b) in enumerate(zip(positions.tolist(), after.tolist())):
        delta = (b[0] - a[0], b[1] - a[1])
        action = [tuple(d) for d in DELTAS.tolist()].index(delta)  # a 4-neighbour or a wait
        assert action == WAIT or action in rankings[i]
        assert not obstacles[b[0], b[1]]
    # POGEMA's soft rule lets the whole shielded step happen: nothing is cancelled.
    soft_after, _ = resolve(positions, after, obstacles)
    assert soft_after.tolist() == after.tolist()
    # Deterministic: the same inputs give the same step.
    assert shield(positions, rankings, ages).tolist() == after.tolist()


def test_the_oldest_goal_wins_a_contested_cell_and_ties_go_to_the_lower_number() -> None:
    positions = cells((0, 0), (0, 2))
    rankings = [[RIGHT, WAIT], [LEFT, WAIT]]
    assert shield(positions, rankings, [0, 3]).tolist() == [[0, 0], [0, 1]]
    assert shield(positions, rankings, [3, 0]).tolist() == [[0, 1], [0, 2]]
    assert shield(positions, rankings, [2, 2]).tolist() == [[0, 1], [0, 2]]


def test_a_pushed_agent_steps_aside_instead_of_deadlocking() -> None:
    # A corridor with a side pocket at (1, 1): a (older goal) wants right, b wants left.
    # The soft rule cancels the swap for ever; the shield pushes b into the pocket.
    positions = cells((0, 0), (0, 1))
    rankings = [[RIGHT, WAIT], [LEFT, WAIT, DOWN]]  # b: right is a wall in this corridor
    soft_after, moved = resolve(positions, cells((0, 1), (0, 0)))
    assert not moved.any()
    after = shield(positions, rankings, [5, 1])
    assert after.tolist() == [[0, 1], [1, 1]]


def test_a_chain_follows_and_an_agent_with_nowhere_to_go_blocks_the_pusher() -> None:
    positions = cells((0, 0), (0, 1), (0, 2))
    # a pushes b, b pushes c, c moves on: the whole chain follows.
    after = shield(positions, [[RIGHT], [WAIT, RIGHT], [WAIT, RIGHT]], [9, 0, 0])
    assert after.tolist() == [[0, 1], [0, 2], [0, 3]]
    # c can only wait: b cannot leave, so a takes its second choice.
    after = shield(positions, [[RIGHT, DOWN], [WAIT, RIGHT], [WAIT]], [9, 0, 0])
    assert after.tolist() == [[1, 0], [0, 1], [0, 2]]


def test_rotations_happen_as_pogema_allows_them() -> None:
    square = cells((0, 0), (0, 1), (1, 1), (1, 0))
    rankings = [[RIGHT], [DOWN], [LEFT], [UP]]
    after = shield(square, rankings, [3, 2, 1, 0])
    assert after.tolist() == np.roll(square, -1, axis=0).tolist()


def test_rank_orders_by_score_drops_forbidden_actions_and_breaks_ties_by_action() -> None:
    scores = np.array([[0.0, 2.0, -np.inf, 2.0, 1.0], [5.0, 1.0, 1.0, 1.0, 1.0]])
    assert rank(scores) == [[UP, LEFT, RIGHT, WAIT], [WAIT, UP, DOWN, LEFT, RIGHT]]
    assert clean_ranking([4, 4, 9, -1, 0, 2]) == [4, 0, 2]


def test_sampled_rankings_draw_their_first_action_from_the_policy() -> None:
    logits = np.log(np.array([[0.1, 0.6, 0.3, 1e-9, 1e-9]]))
    mask = np.array([[True, True, True, True, False]])
    rng = np.random.default_rng(0)
    firsts = [rank(ranking_scores(logits, mask, True, rng))[0] for _ in range(4000)]
    assert all(RIGHT not in r and len(r) == 4 for r in firsts)
    share = np.bincount([r[0] for r in firsts], minlength=5) / len(firsts)
    assert np.allclose(share[:3], [0.1, 0.6, 0.3], atol=0.03)
    greedy = rank(ranking_scores(logits, mask, False, None))
    assert greedy == [[UP, DOWN, WAIT, LEFT]]
    with pytest.raises(ValueError, match="random generator"):
        ranking_scores(logits, mask, True, None)


def test_a_path_weight_lets_the_path_length_guide_the_ranking() -> None:
    logits = np.log(np.array([[0.5, 0.3, 0.1, 0.05, 0.05]]))
    path_left = np.array([[4, 5, 3, 5, 3]])  # down and right shorten the path
    assert rank(ranking_scores(logits, None, False, None)) == [[WAIT, UP, DOWN, LEFT, RIGHT]]
    # A heavy weight: path length first, the model breaks the ties (down before right).
    assert rank(ranking_scores(logits, None, False, None, path_left, 3.0)) == \
        [[DOWN, RIGHT, WAIT, UP, LEFT]]
    # A light one: the model first, the path length settles near-ties (right before left).
    assert rank(ranking_scores(logits, None, False, None, path_left, 0.1)) == \
        [[WAIT, UP, DOWN, RIGHT, LEFT]]
    with pytest.raises(ValueError, match="path length"):
        ranking_scores(logits, None, False, None, None, 1.0)


def test_goal_ages_grow_until_the_goal_changes() -> None:
    ages = GoalAges()
    assert ages.update(["a", "b"], [(1, 1), (2, 2)]) == [0, 0]
    assert ages.update(["a", "b"], [(1, 1), (2, 2)]) == [1, 1]
    assert ages.update(["a", "b"], [(1, 1), (3, 3)]) == [2, 0]


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="same cell"):
        shield(cells((0, 0), (0, 0)), [[WAIT], [WAIT]], [0, 0])
    with pytest.raises(ValueError, match="rankings"):
        shield(cells((0, 0)), [], [0])
    with pytest.raises(ValueError, match="resolution"):
        LockStep(["a"], rule=StepRule("hard"))


def test_every_planner_of_a_shielded_fleet_computes_the_same_step() -> None:
    rng = np.random.default_rng(7)
    ids = [f"robot{i}" for i in range(12)]
    _, positions, rankings, _ = random_state(rng, 6, len(ids), obstacle_share=0.0)
    goals = [tuple(rng.integers(0, 6, size=2).tolist()) for _ in ids]
    outcomes = []
    for order_seed in range(4):  # planners hear the fleet's messages in different orders
        fleet = LockStep(ids, rule=StepRule("shield"))
        order = np.random.default_rng(order_seed).permutation(len(ids))
        for i in order:
            cell = tuple(positions[i].tolist())
            fleet.receive(Report(ids[i], 0, ARRIVED, cell, cell, goals[i]), 0.0)
        fleet.start()
        for i in order:
            cell = tuple(positions[i].tolist())
            first = tuple(int(v) for v in positions[i] + DELTAS[rankings[i][0]]) \
                if rankings[i] else cell
            fleet.receive(Report(ids[i], 1, PROPOSING, cell, first, goals[i],
                                 ranking=tuple(rankings[i])), 0.0)
        outcomes.append(fleet.resolve())
    assert all(o == outcomes[0] for o in outcomes)
    expected = shield(positions, rankings, [0] * len(ids))
    assert outcomes[0].to_cells == [tuple(c) for c in expected.tolist()]


def test_a_shielded_fleet_never_enters_a_lost_robots_cell() -> None:
    fleet = LockStep(["a", "b", "c"], rule=StepRule("shield"))
    start = {"a": (0, 0), "b": (0, 1), "c": (2, 2)}
    for robot, cell in start.items():
        fleet.receive(Report(robot, 0, ARRIVED, cell, cell, (0, 5)), 0.0)
    fleet.start()
    for robot, cell in start.items():  # step 1: everyone waits
        fleet.receive(Report(robot, 1, PROPOSING, cell, cell, (0, 5), ranking=(WAIT,)), 0.0)
    fleet.resolve()
    fleet.mark_lost("b")
    for robot in "ac":
        fleet.receive(Report(robot, 1, ARRIVED, start[robot], start[robot], (0, 5)), 0.0)
    fleet.start()
    fleet.receive(Report("a", 2, PROPOSING, (0, 0), (0, 1), (0, 5), ranking=(RIGHT, DOWN)), 0.0)
    fleet.receive(Report("c", 2, PROPOSING, (2, 2), (2, 2), (0, 5)), 0.0)  # no ranking sent
    outcome = fleet.resolve()
    assert outcome.robot_ids == ["a", "c"] and outcome.lost == ["b"]
    assert outcome.to_cells == [(1, 0), (2, 2)] and outcome.moved == [True, False]


def test_marlgpt_eval_shield_is_refereed_by_pogema_and_beats_the_soft_rule() -> None:
    from marlgpt_training.benchmark.episode import run_episode
    from marlgpt_training.benchmark.mapset import Instance
    from marlgpt_training.policies import make_policy

    grid = "\n".join(["........", ".#.##.#.", "........", ".##.#.#.", "........",
                      ".#.#.##.", "........", "........"])
    instance = Instance("crowded", 0, 24, 64, grid)
    trace = []
    shielded = run_episode(instance, make_policy("bfs"), StepRule("shield"), trace=trace)
    soft = run_episode(instance, make_policy("bfs"), StepRule("soft"))
    assert len(trace) == 64
    for before, after in zip(trace, trace[1:]):
        assert len({tuple(c) for c in after.tolist()}) == len(after)
        assert (np.abs(after - before).sum(axis=1) <= 1).all()
    assert shielded.goals > soft.goals
    with pytest.raises(ValueError, match="resolution"):
        run_episode(instance, make_policy("bfs"), StepRule("hard"))
