"""The world-anchored lattice: cells <-> poses, SLAM maps -> obstacles, pose snapping."""
import math

import numpy as np
import pytest

from marlgpt_planner.encoder import Encoder, GridState
from marlgpt_planner.lattice import (
    CellTracker,
    Lattice,
    MapError,
    coarsen,
    heading,
    quaternion_to_yaw,
    render_occupancy,
    yaw_to_quaternion,
)
from marlgpt_training.data.maps import make_map

LATTICE = Lattice(1.0, 4.0, 0.3, 10, 12)


def test_cells_and_centres_round_trip() -> None:
    for cell in [(0, 0), (3, 7), (9, 11)]:
        assert LATTICE.cell_at(*LATTICE.centre(cell)) == cell
    assert LATTICE.centre((0, 0)) == pytest.approx((1.15, 3.85))
    assert LATTICE.cell_at(0.99, 3.5) == (1, -1) and not LATTICE.contains((1, -1))


def test_heading_follows_pogema_axes() -> None:
    assert heading((5, 5), (5, 6)) == pytest.approx(0.0)  # right = +x
    assert heading((5, 5), (4, 5)) == pytest.approx(math.pi / 2)  # up = row-1 = +y
    assert heading((5, 5), (6, 5)) == pytest.approx(-math.pi / 2)
    assert abs(heading((5, 5), (5, 4))) == pytest.approx(math.pi)
    for yaw in (-2.0, 0.3, 3.0):
        assert quaternion_to_yaw(*yaw_to_quaternion(yaw)) == pytest.approx(yaw)


@pytest.mark.parametrize("seed", range(8))
def test_a_slam_like_map_gives_the_pogema_grid_and_identical_tokens(seed: int) -> None:
    """Contract 1: the same state from POGEMA's grid and from a 5 cm OccupancyGrid with speckle
    noise, unknown margins and a moved, growing origin encodes to identical tokens."""
    rng = np.random.default_rng(seed)
    kind = ("mazes", "random")[seed % 2]
    grid = make_map(kind, 15, 17, rng, 0.25)
    lattice = Lattice(float(rng.uniform(-3, 3)), float(rng.uniform(-3, 3)), 0.3, 15, 17)
    data, ox, oy = render_occupancy(grid, lattice, 0.05, pad=float(rng.uniform(0.1, 1.0)),
                                    noise=0.02, rng=rng)
    shift = int(rng.integers(0, 4))  # SLAM grew the map: more unknown rows and columns
    grown = np.pad(data, ((shift, 0), (0, shift)), constant_values=-1)
    obstacles = coarsen(grown.reshape(-1), grown.shape[1], grown.shape[0], 0.05, ox,
                        oy - shift * 0.05, 0.0, lattice)
    assert np.array_equal(obstacles, grid)
    free = np.argwhere(~grid)
    picks = rng.permutation(len(free))[:12]
    state = GridState(free[picks[:6]], free[picks[6:]], rng.integers(0, 5, (6, 3)))
    assert np.array_equal(Encoder(grid).encode(state).values,
                          Encoder(obstacles).encode(state).values)


def test_unknown_cells_follow_the_policy_and_thin_walls_count() -> None:
    lattice = Lattice(0.0, 0.6, 0.3, 2, 2)
    data = np.zeros((12, 12), np.int8)  # row 0 = lowest y: lattice row 1
    data[6:, 6:] = -1  # top-right cell (0, 1) unknown
    data[0, 0:6] = 100  # a thin wall on the bottom edge of cell (1, 0): 6 of 36 pixels
    flat = data.reshape(-1)
    as_obstacle = coarsen(flat, 12, 12, 0.05, 0.0, 0.0, 0.0, lattice)
    as_free = coarsen(flat, 12, 12, 0.05, 0.0, 0.0, 0.0, lattice, unknown_policy="free")
    assert as_obstacle.tolist() == [[False, True], [False, False]]  # wall: 6 of 36 < 20 %
    assert as_free.tolist() == [[False, False], [False, False]]
    strict = coarsen(flat, 12, 12, 0.05, 0.0, 0.0, 0.0, lattice, occupied_fraction=0.1)
    assert strict.tolist() == [[False, True], [True, False]]


@pytest.mark.parametrize("args, message", [
    ((np.zeros(0), 0, 0, 0.05, 0, 0, 0), "empty map"),
    ((np.zeros(99), 10, 10, 0.05, 0, 0, 0), "99 cells"),
    ((np.zeros(16), 4, 4, 0.0, 0, 0, 0), "resolution must be positive"),
    ((np.zeros(16), 4, 4, 0.05, math.nan, 0, 0), "not finite"),
    ((np.zeros(16), 4, 4, 0.05, 0, 0, 0.5), "rotated"),
])
def test_malformed_maps_are_refused(args, message) -> None:
    with pytest.raises(MapError, match=message):
        coarsen(*args, LATTICE)


def test_cell_tracker_has_hysteresis_and_refuses_nan() -> None:
    tracker = CellTracker(LATTICE, hysteresis=0.2)
    x, y = LATTICE.centre((4, 4))
    assert tracker.update(x, y) == (4, 4)
    assert tracker.update(x + 0.16, y) == (4, 4)  # just over the border: still (4, 4)
    assert tracker.update(x + 0.20, y) == (4, 4)  # 0.10 m from (4, 5)'s centre: not yet
    assert tracker.update(x + 0.22, y) == (4, 5)  # within 0.09 m of it: switch
    assert tracker.update(x + 0.14, y) == (4, 5)  # back over the border: kept
    with pytest.raises(ValueError):
        tracker.update(math.nan, y)
    fresh = CellTracker(LATTICE)
    assert fresh.update(x + 0.14, y) is None  # near a border: no cell yet
