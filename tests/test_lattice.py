"""The world-anchored lattice: cells <-> poses, SLAM maps -> obstacles, pose snapping."""
import math

import numpy as np
import pytest

from marlgpt_planner.encoder import Encoder, GridState
from marlgpt_planner.lattice import (
    UNKNOWN_POLICIES,
    CellTracker,
    Lattice,
    MapError,
    coarsen,
    heading,
    quaternion_to_yaw,
    render_occupancy,
    wrap_angle,
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
    ((np.zeros(16), 4, 4, 0.05, 0, 0, math.inf), "not finite"),
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


YAWS = (math.radians(30), -math.radians(30), 1.0, -2.5, math.pi, math.radians(-90), 0.0)


def _rotate(x: float, y: float, yaw: float):
    return (math.cos(yaw) * x - math.sin(yaw) * y, math.sin(yaw) * x + math.cos(yaw) * y)


@pytest.mark.parametrize("yaw", YAWS)
def test_a_turned_lattice_round_trips_cells_and_grid_coordinates(yaw: float) -> None:
    rng = np.random.default_rng(int(1000 * abs(yaw)))
    lattice = Lattice(1.0, 4.0, 0.3, 10, 12, yaw)
    assert lattice.centre((0, 0)) == pytest.approx(
        np.add((1.0, 4.0), _rotate(0.15, -0.15, yaw)))
    for row, col in zip(rng.integers(-3, 13, 20), rng.integers(-3, 15, 20)):
        cell = (int(row), int(col))
        x, y = lattice.centre(cell)
        # The centre is origin + R(yaw) ((c + 0.5) s, -(r + 0.5) s).
        assert (x, y) == pytest.approx(np.add((1.0, 4.0), _rotate((col + 0.5) * 0.3,
                                                                  -(row + 0.5) * 0.3, yaw)))
        assert lattice.cell_at(x, y) == cell
        assert lattice.to_grid(x, y) == pytest.approx(cell, abs=1e-9)
        # Anywhere inside the cell (lattice axes): the same cell, fractional grid coordinates.
        d_row, d_col = rng.uniform(-0.49, 0.49, 2)
        px, py = np.add((x, y), _rotate(d_col * 0.3, -d_row * 0.3, yaw))
        assert lattice.cell_at(px, py) == cell
        assert lattice.to_grid(px, py) == pytest.approx((row + d_row, col + d_col), abs=1e-9)
        assert lattice.centre((row + d_row, col + d_col)) == pytest.approx((px, py))
    # Column direction (cos, sin), row + 1 direction (sin, -cos).
    along = np.subtract(lattice.centre((2, 3)), lattice.centre((2, 2)))
    down = np.subtract(lattice.centre((3, 2)), lattice.centre((2, 2)))
    assert along == pytest.approx((0.3 * math.cos(yaw), 0.3 * math.sin(yaw)), abs=1e-12)
    assert down == pytest.approx((0.3 * math.sin(yaw), -0.3 * math.cos(yaw)), abs=1e-12)


def test_yaw_zero_is_the_default_and_unchanged() -> None:
    assert LATTICE.yaw == 0.0 and Lattice(1.0, 4.0, 0.3, 10, 12, 0.0) == LATTICE
    for cell in [(0, 0), (3, 7), (9, 11), (-2, 14)]:
        row, col = cell
        assert LATTICE.centre(cell) == (1.0 + (col + 0.5) * 0.3, 4.0 - (row + 0.5) * 0.3)
    rng = np.random.default_rng(5)
    for x, y in rng.uniform(-2, 6, (50, 2)):
        assert LATTICE.cell_at(x, y) == (math.floor((4.0 - y) / 0.3),
                                         math.floor((x - 1.0) / 0.3))
        assert LATTICE.to_grid(x, y) == ((4.0 - y) / 0.3 - 0.5, (x - 1.0) / 0.3 - 0.5)


@pytest.mark.parametrize("yaw", YAWS)
def test_heading_on_a_turned_lattice_points_from_centre_to_centre(yaw: float) -> None:
    lattice = Lattice(-2.0, 1.0, 0.3, 10, 12, yaw)
    src = (5, 5)
    for dst in [(5, 6), (4, 5), (6, 5), (5, 4), (3, 8), (7, 1)]:
        dx, dy = np.subtract(lattice.centre(dst), lattice.centre(src))
        expected = math.atan2(dy, dx)
        for got in (heading(src, dst, yaw), lattice.heading(src, dst)):
            assert -math.pi < got <= math.pi
            assert abs(wrap_angle(got - expected)) < 1e-9
    assert heading(src, src, yaw) == pytest.approx(wrap_angle(yaw))  # wait: face +column
    assert lattice.heading(src, src) == pytest.approx(wrap_angle(yaw))
    assert heading(src, (5, 6), yaw) == pytest.approx(wrap_angle(yaw))


def test_wrap_angle() -> None:
    assert wrap_angle(math.pi) == math.pi and wrap_angle(-math.pi) == pytest.approx(math.pi)
    assert wrap_angle(0.3) == 0.3 and wrap_angle(-1.0) == -1.0
    assert wrap_angle(3 * math.pi / 2) == pytest.approx(-math.pi / 2)
    assert wrap_angle(-7.0) == pytest.approx(-7.0 + 2 * math.pi)
    assert heading((0, 0), (0, -1), math.pi / 2) == pytest.approx(-math.pi / 2)


def _reference_coarsen(data, width, height, res, ox, oy, oyaw, lattice, threshold=65,
                       occupied_fraction=0.2, unknown_fraction=0.5, policy="obstacle"):
    """coarsen() pixel by pixel through Lattice.cell_at: the specification, slowly."""
    occupied = np.zeros((lattice.rows, lattice.cols))
    known = np.zeros((lattice.rows, lattice.cols))
    grid = np.asarray(data).reshape(height, width)
    for j in range(height):
        for i in range(width):
            dx, dy = _rotate((i + 0.5) * res, (j + 0.5) * res, oyaw)
            cell = lattice.cell_at(ox + dx, oy + dy)
            if lattice.contains(cell):
                occupied[cell] += grid[j, i] >= threshold
                known[cell] += grid[j, i] >= 0
    per_cell = (lattice.cell_size / res) ** 2
    obstacles = occupied > occupied_fraction * np.maximum(known, 1)
    if policy == "obstacle":
        obstacles |= (per_cell - known) > unknown_fraction * per_cell
    return obstacles


@pytest.mark.parametrize("lattice_yaw, map_yaw", [
    (0.0, 0.0), (math.radians(30), 0.0), (0.0, math.radians(-20)), (1.1, -0.4), (-2.0, 2.9)])
@pytest.mark.parametrize("policy", UNKNOWN_POLICIES)
def test_coarsen_matches_a_pixel_by_pixel_reference(lattice_yaw, map_yaw, policy) -> None:
    rng = np.random.default_rng(int(100 * (lattice_yaw + 3 * map_yaw)) % 2**32)
    lattice = Lattice(0.37, 2.11, 0.3, 6, 7, lattice_yaw)
    width, height = 53, 47
    # Blobs of occupied / unknown / free with a few odd values, so all rules are exercised.
    coarse = rng.choice([0, 100, -1, 70, 30], size=(10, 11), p=[0.5, 0.2, 0.2, 0.05, 0.05])
    data = np.kron(coarse, np.ones((5, 5), int))[:height, :width].astype(np.int8)
    speckle = rng.random(data.shape) < 0.1
    data[speckle] = rng.choice([0, 100, -1], size=int(speckle.sum()))
    ox, oy = np.add((0.37, 2.11), _rotate(-0.6, -1.7, map_yaw)) + rng.uniform(-0.2, 0.2, 2)
    args = (data.reshape(-1), width, height, 0.05, float(ox), float(oy), map_yaw, lattice)
    got = coarsen(*args, unknown_policy=policy)
    expected = _reference_coarsen(*args, policy=policy)
    assert got.shape == (6, 7) and np.array_equal(got, expected)
    assert 0 < got.sum() < got.size


def test_coarsen_is_fast_on_a_big_turned_map() -> None:
    import time

    data = np.zeros((2000, 2000), np.int8)
    data[::7, :] = 100
    lattice = Lattice(10.0, 90.0, 0.3, 200, 200, math.radians(30))
    start = time.perf_counter()
    obstacles = coarsen(data.reshape(-1), 2000, 2000, 0.05, 0.0, 0.0, 0.2, lattice)
    assert time.perf_counter() - start < 2.0  # well under a second on a desktop
    assert obstacles.shape == (200, 200)


@pytest.mark.parametrize("seed", range(4))
def test_a_turned_lattice_renders_and_coarsens_back_exactly(seed: int) -> None:
    rng = np.random.default_rng(seed)
    grid = rng.random((12, 9)) < 0.3
    yaw = (math.radians(30), math.radians(-30), 2.2, -1.3)[seed]
    lattice = Lattice(float(rng.uniform(-3, 3)), float(rng.uniform(-3, 3)), 0.3, 12, 9, yaw)
    data, ox, oy = render_occupancy(grid, lattice, 0.05, pad=0.3)
    assert data.dtype == np.int8 and set(np.unique(data)) <= {-1, 0, 100}
    # Axis-aligned, covering the turned lattice's bounding box plus the pad.
    corners = np.array([lattice.centre((r - 0.5, c - 0.5)) for r in (0, 12) for c in (0, 9)])
    assert ox == pytest.approx(corners[:, 0].min() - 0.3)
    assert oy == pytest.approx(corners[:, 1].min() - 0.3)
    assert ox + data.shape[1] * 0.05 == pytest.approx(corners[:, 0].max() + 0.3, abs=0.05)
    assert oy + data.shape[0] * 0.05 == pytest.approx(corners[:, 1].max() + 0.3, abs=0.05)
    assert (data[:6] == -1).all() and (data[:, -6:] == -1).all()  # the pad is unknown
    # Each pixel reads its centre's cell (checked pixel by pixel through cell_at).
    for j in range(0, data.shape[0], 3):
        for i in range(0, data.shape[1], 3):
            cell = lattice.cell_at(ox + (i + 0.5) * 0.05, oy + (j + 0.5) * 0.05)
            want = (100 if grid[cell] else 0) if lattice.contains(cell) else -1
            assert data[j, i] == want
    obstacles = coarsen(data.reshape(-1), data.shape[1], data.shape[0], 0.05, ox, oy, 0.0,
                        lattice, unknown_policy="obstacle")
    assert np.array_equal(obstacles, grid)
    # With speckle noise inside the lattice only, it still coarsens back.
    noisy, _, _ = render_occupancy(grid, lattice, 0.05, pad=0.3, noise=0.02, rng=rng)
    assert np.array_equal(noisy == -1, data == -1) and (noisy != data).any()
    assert np.array_equal(coarsen(noisy.reshape(-1), noisy.shape[1], noisy.shape[0], 0.05, ox,
                                  oy, 0.0, lattice), grid)


@pytest.mark.parametrize("map_yaw, maze_yaw", [
    (math.radians(30), 0.0), (math.radians(-50), math.radians(30)), (2.5, -1.0),
    (math.radians(90), 0.0)])
def test_a_turned_map_origin_coarsens_a_turned_maze(map_yaw: float, maze_yaw: float) -> None:
    """The OccupancyGrid is axis-aligned in a map frame M turned by ``map_yaw`` in the world;
    the maze is turned by ``maze_yaw`` in M, so by ``map_yaw + maze_yaw`` in the world."""
    rng = np.random.default_rng(int(10 * map_yaw) % 2**32)
    grid = rng.random((12, 9)) < 0.3
    in_map = Lattice(0.8, 1.9, 0.3, 12, 9, maze_yaw)
    data, ox_m, oy_m = render_occupancy(grid, in_map, 0.05, pad=0.3, noise=0.01, rng=rng)
    shift = np.array([3.7, -1.2])  # M's origin in the world

    def to_world(x, y):
        return tuple(shift + _rotate(x, y, map_yaw))

    ox, oy = to_world(ox_m, oy_m)
    in_world = Lattice(*to_world(0.8, 1.9), 0.3, 12, 9, map_yaw + maze_yaw)
    obstacles = coarsen(data.reshape(-1), data.shape[1], data.shape[0], 0.05, ox, oy, map_yaw,
                        in_world, unknown_policy="obstacle")
    assert np.array_equal(obstacles, grid)
    # Ignoring the map's yaw places it wrongly: the maze does not come back.
    wrong = coarsen(data.reshape(-1), data.shape[1], data.shape[0], 0.05, ox, oy, 0.0,
                    in_world, unknown_policy="obstacle")
    assert not np.array_equal(wrong, grid)


def test_cell_tracker_hysteresis_runs_along_a_turned_lattice() -> None:
    yaw = math.radians(30)
    lattice = Lattice(1.0, 4.0, 0.3, 10, 12, yaw)
    tracker = CellTracker(lattice, hysteresis=0.2)
    x, y = lattice.centre((4, 4))
    col_dir = np.array([math.cos(yaw), math.sin(yaw)])
    row_dir = np.array([math.sin(yaw), -math.cos(yaw)])

    def at(d_col: float, d_row: float = 0.0):
        return tuple(np.array([x, y]) + d_col * col_dir + d_row * row_dir)

    assert tracker.update(*at(0.0)) == (4, 4)
    assert tracker.update(*at(0.16)) == (4, 4)  # just over the border: still (4, 4)
    assert tracker.update(*at(0.20)) == (4, 4)  # 0.10 m from (4, 5)'s centre: not yet
    assert tracker.update(*at(0.22)) == (4, 5)  # within 0.09 m of it: switch
    assert tracker.update(*at(0.14)) == (4, 5)  # back over the border: kept
    assert tracker.update(*at(0.22, 0.20)) == (4, 5)  # into (5, 5), but 0.10 m off its row
    assert tracker.update(*at(0.22, 0.22)) == (5, 5)
    # In map axes that last step looks different: (5, 5) is 0.08 m from the pose along each
    # lattice axis, but not along the map's x and y (a map-axis test would refuse it).
    cx, cy = lattice.centre((5, 5))
    px, py = at(0.22, 0.22)
    assert max(abs(px - cx), abs(py - cy)) > 0.09
    fresh = CellTracker(lattice)
    assert fresh.update(*at(0.14)) is None  # near a border: no cell yet
    assert fresh.update(*at(0.0, 0.07)) == (4, 4)
