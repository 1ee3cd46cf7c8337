"""The C++ PIBT expert: legal, collision-free moves that the soft rule executes unchanged."""
from pathlib import Path

import numpy as np
import pytest

from marlgpt_planner.actions import DELTAS
from marlgpt_planner.expert import PibtExpert
from marlgpt_planner.grid import bfs_distances
from marlgpt_planner.soft_rule import resolve
from marlgpt_training.data.maps import make_map


@pytest.mark.parametrize("candidates, horizon, iterations", [(1, 1, 0), (8, 6, 0), (8, 6, 30)])
@pytest.mark.parametrize("seed", range(4))
def test_moves_are_legal_and_never_collide(seed: int, candidates: int, horizon: int,
                                           iterations: int) -> None:
    rng = np.random.default_rng(seed)
    obstacles = make_map("mazes" if seed % 2 else "random", 15, 15, rng, density=0.25)
    free = np.argwhere(~obstacles)
    n = 40
    picks = rng.permutation(len(free))
    positions, goals = free[picks[:n]], free[picks[n:2 * n]]
    expert = PibtExpert(obstacles, seed=seed, candidates=candidates, horizon=horizon,
                        window=8, iterations=iterations)
    # The first agent has held its goal longest: the highest priority, far above the search's
    # priority jitter (the others' order among themselves is none in particular).
    expert.resume(goals, np.array([100] + [0] * (n - 1)))
    before = bfs_distances(obstacles, tuple(goals[0]))[tuple(positions[0])]
    for _ in range(30):
        actions = expert.step(positions, goals)
        intended = positions + DELTAS[actions]
        assert not obstacles[intended[:, 0], intended[:, 1]].any()
        assert len({tuple(c) for c in intended.tolist()}) == n  # no shared cells
        nxt, _ = resolve(positions, intended, obstacles)
        np.testing.assert_array_equal(nxt, intended)  # no swaps, nothing cancelled
        positions = nxt
    # PIBT gives the highest-priority agent its best cell every step: a shortest path, one
    # cell closer each step until it arrives, then it stays; the fleet as a whole makes
    # progress toward its goals.
    after = bfs_distances(obstacles, tuple(goals[0]))[tuple(positions[0])]
    if iterations == 0:  # LNS may hold it back for the others' sake
        assert after == max(before - 30, 0), (before, after)
    total = sum(bfs_distances(obstacles, tuple(g))[tuple(p)] for p, g in zip(positions, goals))
    assert total < sum(bfs_distances(obstacles, tuple(g))[tuple(p)]
                       for p, g in zip(free[picks[:n]], goals))


def lifelong_goals(obstacles: np.ndarray, expert: PibtExpert, agents: int, steps: int,
                   seed: int) -> int:
    """Goals reached in a lifelong episode: a new random goal for every agent that arrives."""
    rng = np.random.default_rng(seed)
    free = np.argwhere(~obstacles)
    picks = rng.permutation(len(free))
    positions, goals = free[picks[:agents]], free[picks[agents:2 * agents]]
    reached = 0
    for _ in range(steps):
        positions, _ = resolve(positions, positions + DELTAS[expert.step(positions, goals)],
                               obstacles)
        arrived = (positions == goals).all(axis=1)
        reached += int(arrived.sum())
        for i in np.flatnonzero(arrived):
            goals[i] = free[rng.integers(len(free))]
            while (goals[i] == positions[i]).all():
                goals[i] = free[rng.integers(len(free))]
    return reached


def test_windowed_lns_reaches_more_goals_in_a_crowded_maze() -> None:
    """The same episodes with and without LNS: planning a window jointly gets more agents
    through a crowded maze than the one-step search (docs/expert.md has the benchmark)."""
    totals = {}
    for iterations in (0, 100):
        totals[iterations] = 0
        for seed in range(3):
            obstacles = make_map("mazes", 15, 15, np.random.default_rng(seed), density=0.3)
            expert = PibtExpert(obstacles, seed=seed, window=12, iterations=iterations)
            totals[iterations] += lifelong_goals(obstacles, expert, 36, 80, seed)
    assert totals[100] > totals[0] * 1.05, totals


def test_expert_settings_from_a_policy_spec() -> None:
    from marlgpt_training.policies import make_policy

    policy = make_policy("expert:window=8,iterations=5,group=4")
    assert (policy.window, policy.iterations, policy.group) == (8, 5, 4)
    assert make_policy("expert").iterations == make_policy("expert:").iterations > 0
    assert make_policy("pibt").iterations == 0 and make_policy("pibt").candidates == 1
    for spec, message in [("expert:widow=8", "NAME one of candidates"),
                          ("expert:iterations=-1", "below 0"),
                          ("expert:window=x", "not an integer"),
                          ("expert:window", "expected NAME=VALUE")]:
        with pytest.raises(ValueError, match=message):
            make_policy(spec)


def test_single_agent_follows_a_shortest_path() -> None:
    obstacles = np.zeros((5, 5), dtype=bool)
    obstacles[1:4, 2] = True
    expert = PibtExpert(obstacles, seed=0)
    position, goal = np.array([[2, 0]]), np.array([[2, 4]])
    dist = bfs_distances(obstacles, (2, 4))
    for step in range(dist[2, 0]):
        position = position + DELTAS[expert.step(position, goal)]
        assert dist[tuple(position[0])] == dist[2, 0] - step - 1
    assert position.tolist() == goal.tolist()


@pytest.mark.parametrize("ages, winner", [((10, 0), 0), ((0, 10), 1)])
def test_resume_ranks_agents_by_their_goal_ages(ages, winner: int) -> None:
    """Head-on in a corridor: the agent whose goal is older goes on, the other backs off."""
    obstacles = np.zeros((1, 6), dtype=bool)
    positions, goals = np.array([[0, 2], [0, 3]]), np.array([[0, 5], [0, 0]])
    for seed in range(5):  # whatever the tie-break draws
        expert = PibtExpert(obstacles, seed=seed, candidates=1, horizon=1)
        expert.resume(goals, np.array(ages))
        cells = expert.next_cells(positions, goals)
        forward = 1 if winner == 0 else -1
        assert cells[winner, 1] == positions[winner, 1] + forward
        assert cells[1 - winner, 1] == positions[1 - winner, 1] + forward  # pushed back
    with pytest.raises(ValueError, match="2 goals but 1 ages"):
        expert.resume(goals, np.array([1]))


def test_distances_match_numpy_bfs() -> None:
    obstacles = make_map("random", 19, 23, np.random.default_rng(3), density=0.3)
    expert = PibtExpert(obstacles)
    goal = tuple(int(v) for v in np.argwhere(~obstacles)[7])
    np.testing.assert_array_equal(expert.distances(goal), bfs_distances(obstacles, goal))


def test_bad_states_are_refused() -> None:
    obstacles = np.zeros((3, 3), dtype=bool)
    obstacles[1, 1] = True
    expert = PibtExpert(obstacles)
    with pytest.raises(ValueError, match="same cell"):
        expert.step(np.array([[0, 0], [0, 0]]), np.array([[2, 2], [2, 1]]))
    with pytest.raises(ValueError, match="obstacle"):
        expert.step(np.array([[1, 1]]), np.array([[2, 2]]))
    with pytest.raises(ValueError, match="goal"):
        expert.step(np.array([[0, 0]]), np.array([[1, 1]]))
    # After refusals the expert still works.
    assert expert.step(np.array([[0, 0]]), np.array([[0, 2]])).tolist() == [4]


def test_the_cost_benchmark_times_each_setting_on_the_same_maps(tmp_path) -> None:
    import subprocess
    import sys

    from tests.conftest import REPO, tiny_map_set

    run = subprocess.run([sys.executable, str(REPO / "scripts" / "bench_expert.py"),
                          "--map-set", str(tiny_map_set(tmp_path / "set")), "--agents", "6",
                          "--maps", "2", "expert:iterations=0", "expert"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["expert", "expert"]
    assert lines[0].startswith("expert:iterations=0: ") and "(2 maps)" in lines[1]
    assert all("ms per step at 6 agents" in line for line in lines)


def test_a_read_only_install_builds_the_library_in_the_cache(tmp_path, monkeypatch) -> None:
    from marlgpt_planner.expert import native

    assert native.build_dir() == native.BUILD_DIR  # the source tree here can be written
    writable = native.os.access
    monkeypatch.setattr(native.os, "access", lambda path, mode: False
                        if Path(path) == native.HERE else writable(path, mode))
    monkeypatch.setenv("MARLGPT_CACHE", str(tmp_path / "cache"))
    assert native.build_dir() == tmp_path / "cache" / "expert"
    library = native.build()
    assert library.parent == tmp_path / "cache" / "expert" and library.is_file()
    assert library.name == native.library_path().name  # the same source version's name
