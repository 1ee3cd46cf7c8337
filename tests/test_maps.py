"""Training maps: connected, seeded, of the asked kind."""
import numpy as np
import pytest

from marlgpt_planner.grid import UNREACHABLE, bfs_distances
from marlgpt_training.data.maps import largest_component, make_map


def is_connected(obstacles: np.ndarray) -> bool:
    free = np.argwhere(~obstacles)
    dist = bfs_distances(obstacles, tuple(int(v) for v in free[0]))
    return bool((dist[~obstacles] < UNREACHABLE).all())


@pytest.mark.parametrize("kind", ["mazes", "random"])
@pytest.mark.parametrize("seed", range(5))
def test_maps_are_connected_and_seeded(kind: str, seed: int) -> None:
    first = make_map(kind, 21, 17, np.random.default_rng(seed), density=0.3)
    again = make_map(kind, 21, 17, np.random.default_rng(seed), density=0.3)
    assert first.shape == (21, 17)
    assert is_connected(first)
    np.testing.assert_array_equal(first, again)
    assert 0.05 < first.mean() < 0.6


def test_mazes_are_corridors() -> None:
    maze = make_map("mazes", 21, 21, np.random.default_rng(0))
    # Every 2x2 block of a 1-cell-corridor maze with few openings holds a wall somewhere
    # most of the time; a random map at density 0.1 has many open 2x2 blocks.
    def open_blocks(m):
        return int((~m[:-1, :-1] & ~m[1:, :-1] & ~m[:-1, 1:] & ~m[1:, 1:]).sum())
    sparse = make_map("random", 21, 21, np.random.default_rng(0), density=0.1)
    assert open_blocks(maze) < open_blocks(sparse) / 3


def test_largest_component_fills_pockets() -> None:
    obstacles = np.array([[False, True, False, False],
                          [True, True, False, False]])
    filled = largest_component(obstacles)
    assert filled[0, 0] and not filled[0, 2:].any() and not filled[1, 2:].any()


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown map kind 'caves'"):
        make_map("caves", 8, 8, np.random.default_rng(0))
