"""Training maps: connected, seeded, of the asked kind."""
import numpy as np
import pytest

from marlgpt_planner.grid import UNREACHABLE, bfs_distances
from marlgpt_training.data.maps import largest_component, make_map


def is_connected(obstacles: np.ndarray) -> bool:
    free = np.argwhere(~obstacles)
    dist = bfs_distances(obstacles, tuple(int(v) for v in free[0]))
    return bool((dist[~obstacles] < UNREACHABLE).all())


@pytest.mark.parametrize("kind", ["mazes", "random", "warehouse"])
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


def test_every_shelf_of_a_warehouse_faces_an_aisle() -> None:
    for seed in range(5):
        floor = make_map("warehouse", 25, 25, np.random.default_rng(seed))
        shelves = np.argwhere(floor)
        assert len(shelves) > 100
        padded = np.pad(~floor, 1)
        faces = [padded[r, c + 1] or padded[r + 2, c + 1] or padded[r + 1, c]
                 or padded[r + 1, c + 2] for r, c in shelves]
        assert all(faces)
        assert not floor[:2].any() and not floor[:, :2].any()  # the stations' margin
    assert not make_map("warehouse", 6, 6, np.random.default_rng(0)).any()  # no room: open


def test_a_map_set_of_a_kind_reads_as_the_benchmark_sets(tmp_path) -> None:
    import subprocess
    import sys

    from marlgpt_training.benchmark.mapset import MapSet
    from tests.conftest import REPO

    script = REPO / "scripts" / "make_map_set.py"
    out = tmp_path / "03-warehouse"
    run = subprocess.run([sys.executable, str(script), "--kind", "warehouse", "--maps", "3",
                          "--agents", "8,16", "--out", str(out)], capture_output=True,
                         text=True)
    assert run.returncode == 0, run.stderr
    maps = MapSet.load(out)
    assert sorted(maps.maps) == [f"warehouse-seed-{1_000_000 + i:07d}" for i in range(3)]
    grid = maps.maps["warehouse-seed-1000001"]
    assert grid.count("#") > 100 and len(grid.splitlines()) == 25
    assert maps.agent_counts == [8, 16] and maps.max_episode_steps == 128
    instances = maps.instances(16)
    assert [i.map_name for i in instances] == sorted(maps.maps)
    assert maps.scenario(instances[0]) is None  # POGEMA places agents from the seed
    again = subprocess.run([sys.executable, str(script), "--kind", "mazes", "--maps", "2",
                            "--size", "7", "--out", str(tmp_path / "small")],
                           capture_output=True, text=True)
    assert again.returncode == 2 and "too few for 64 agents" in again.stderr
