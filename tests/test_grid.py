"""BFS distance fields: exact against a plain reference BFS, cached per goal."""
from collections import deque

import numpy as np
import pytest

from marlgpt_planner.grid import (
    UNREACHABLE,
    DistanceFields,
    bfs_distances,
    neighbour_distances,
    parse_grid,
    render_grid,
)


def reference_bfs(obstacles: np.ndarray, goal) -> np.ndarray:
    height, width = obstacles.shape
    dist = np.full((height, width), UNREACHABLE, dtype=np.int64)
    dist[goal] = 0
    queue = deque([goal])
    while queue:
        r, c = queue.popleft()
        for nr, nc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
            if 0 <= nr < height and 0 <= nc < width and not obstacles[nr, nc] \
                    and dist[nr, nc] == UNREACHABLE:
                dist[nr, nc] = dist[r, c] + 1
                queue.append((nr, nc))
    return dist


@pytest.mark.parametrize("seed", range(20))
def test_bfs_matches_reference_on_random_grids(seed: int) -> None:
    rng = np.random.default_rng(seed)
    height, width = rng.integers(1, 24, size=2)
    obstacles = rng.random((height, width)) < rng.uniform(0.0, 0.45)
    free = np.argwhere(~obstacles)
    if not len(free):
        return
    goal = tuple(int(v) for v in free[rng.integers(len(free))])
    np.testing.assert_array_equal(bfs_distances(obstacles, goal), reference_bfs(obstacles, goal))


def test_walls_detours_and_cut_off_cells() -> None:
    obstacles = parse_grid("""
        ...#.
        .#.#.
        .#...
        ##.##
        ..#..
    """)
    dist = bfs_distances(obstacles, (0, 0))
    assert dist[0, 2] == 2
    assert dist[0, 4] == 8  # around the wall: down column 2, right, up column 4
    assert dist[3, 2] == 5
    assert dist[4, 0] == UNREACHABLE  # cut off below the wall
    assert (dist[obstacles] == UNREACHABLE).all()


def test_bad_goals_are_refused() -> None:
    obstacles = parse_grid("..\n.#")
    with pytest.raises(ValueError, match="outside"):
        bfs_distances(obstacles, (2, 0))
    with pytest.raises(ValueError, match="obstacle"):
        bfs_distances(obstacles, (1, 1))


def test_parse_and_render_round_trip_and_errors() -> None:
    text = "..#\n#..\n..."
    assert render_grid(parse_grid(text)) == text
    with pytest.raises(ValueError, match="row 1 has 2 cells"):
        parse_grid("...\n..")
    with pytest.raises(ValueError, match="unknown cell"):
        parse_grid("..x")


def test_fields_are_cached_per_goal_with_lru_eviction() -> None:
    obstacles = np.zeros((6, 6), dtype=bool)
    fields = DistanceFields(obstacles, pad=2, max_fields=2)
    first = fields.padded((0, 0))
    assert fields.padded((0, 0)) is first and fields.computed == 1
    assert first.shape == (10, 10) and first[0, 0] == UNREACHABLE and first[2, 2] == 0
    fields.padded((5, 5))
    fields.padded((0, 0))  # refresh (0, 0): (5, 5) is now the oldest
    fields.padded((3, 3))  # evicts (5, 5)
    assert fields.computed == 3
    fields.padded((0, 0))
    assert fields.computed == 3
    fields.padded((5, 5))
    assert fields.computed == 4
    assert fields.distance((5, 0), (0, 0)) == 5
    np.testing.assert_array_equal(fields.field((0, 0)), bfs_distances(obstacles, (0, 0)))


def test_neighbour_distances_per_action() -> None:
    obstacles = parse_grid("...\n.#.\n...")
    fields = DistanceFields(obstacles, pad=1)
    out = neighbour_distances(fields, np.array([[0, 1]]), np.array([[2, 1]]))
    # wait, up (outside), down (obstacle), left, right
    assert out.tolist() == [[4, UNREACHABLE, UNREACHABLE, 3, 3]]
