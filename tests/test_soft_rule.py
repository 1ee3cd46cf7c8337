"""The soft collision rule, checked case by case and against POGEMA's own implementation."""
import numpy as np
import pytest
from pogema import GridConfig, pogema_v0

from marlgpt_planner.actions import DELTAS
from marlgpt_planner.soft_rule import resolve


def cells(*pairs):
    return np.array(pairs, dtype=np.int64).reshape(-1, 2)


def test_swap_cancels_both() -> None:
    nxt, moved = resolve(cells((0, 0), (0, 1)), cells((0, 1), (0, 0)))
    assert nxt.tolist() == [[0, 0], [0, 1]] and moved.tolist() == [False, False]


def test_lowest_numbered_mover_takes_a_contested_free_cell() -> None:
    nxt, moved = resolve(cells((0, 0), (0, 2)), cells((0, 1), (0, 1)))
    assert nxt.tolist() == [[0, 1], [0, 2]] and moved.tolist() == [True, False]
    nxt, moved = resolve(cells((0, 2), (0, 0)), cells((0, 1), (0, 1)))
    assert nxt.tolist() == [[0, 1], [0, 0]] and moved.tolist() == [True, False]


def test_following_and_rotation_are_allowed() -> None:
    nxt, moved = resolve(cells((0, 0), (0, 1)), cells((0, 1), (0, 2)))
    assert nxt.tolist() == [[0, 1], [0, 2]] and moved.all()
    square = cells((0, 0), (0, 1), (1, 1), (1, 0))
    nxt, moved = resolve(square, np.roll(square, -1, axis=0))
    assert nxt.tolist() == np.roll(square, -1, axis=0).tolist() and moved.all()


def test_cancellation_cascades_down_a_chain() -> None:
    # Agent 0 waits on (0, 3); 1 wants it; 2 follows 1, 3 follows 2: all must stay.
    nxt, moved = resolve(cells((0, 3), (0, 2), (0, 1), (0, 0)),
                         cells((0, 3), (0, 3), (0, 2), (0, 1)))
    assert not moved.any()
    # An obstacle ahead of a chain stops the whole chain.
    nxt, moved = resolve(cells((0, 1), (0, 0)), cells((0, 2), (0, 1)),
                         np.array([[False, False, True]]))
    assert not moved.any()


def test_moving_into_a_waiting_agent_is_cancelled() -> None:
    nxt, moved = resolve(cells((0, 0), (0, 1)), cells((0, 1), (0, 1)))
    assert nxt.tolist() == [[0, 0], [0, 1]] and not moved.any()


def test_obstacles_and_edges_cancel_moves() -> None:
    obstacles = np.array([[False, True]])
    nxt, moved = resolve(cells((0, 0)), cells((0, 1)), obstacles)
    assert nxt.tolist() == [[0, 0]] and not moved.any()
    nxt, moved = resolve(cells((0, 0)), cells((-1, 0)), obstacles)
    assert nxt.tolist() == [[0, 0]]


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="same cell"):
        resolve(cells((0, 0), (0, 0)), cells((0, 1), (1, 0)))
    with pytest.raises(ValueError, match="2 positions but 1"):
        resolve(cells((0, 0), (0, 1)), cells((0, 1)))


@pytest.mark.parametrize("seed", range(100))
def test_matches_pogema_on_random_crowded_steps(seed: int) -> None:
    rng = np.random.default_rng(seed)
    height, width = int(rng.integers(3, 7)), int(rng.integers(3, 7))
    obstacles = rng.random((height, width)) < 0.15
    free = np.argwhere(~obstacles)
    n = int(rng.integers(2, max(3, len(free) - 1)))
    if len(free) < n + 1:
        pytest.skip("map too small for this draw")
    picks = rng.permutation(len(free))
    starts = free[picks[:n]]
    config = GridConfig(map=obstacles.astype(int).tolist(), num_agents=n, seed=seed,
                        agents_xy=starts.tolist(), targets_xy=[free[picks[n]].tolist()] * n,
                        on_target="nothing", collision_system="soft", obs_radius=1,
                        max_episode_steps=10)
    env = pogema_v0(config)
    env.reset()
    for _ in range(5):
        positions = np.array(env.unwrapped.grid.get_agents_xy(ignore_borders=True))
        actions = rng.integers(0, 5, size=n)
        env.step(actions.tolist())
        expected = np.array(env.unwrapped.grid.get_agents_xy(ignore_borders=True))
        nxt, _ = resolve(positions, positions + DELTAS[actions], obstacles)
        assert nxt.tolist() == expected.tolist()
