"""The fleet's coarse grid in the world: cells <-> map-frame poses, SLAM maps -> obstacles.

The lattice is anchored in the world, not in the SLAM map: ``origin`` is the map-frame (x, y)
of the outer corner of cell (0, 0), the corner with the smallest x and the largest y. Rows
grow towards -y (POGEMA's "down" is row + 1) and columns towards +x, so cell (r, c) has its
centre at ``(x0 + (c + 0.5) s, y0 - (r + 0.5) s)`` for cell size ``s``.

SLAM Toolbox's OccupancyGrid grows and moves its ``info.origin`` as the map grows, so each map
is placed on the lattice from its own origin every time (:func:`coarsen`), never cached by
index. Pure numpy, Python >= 3.8.
"""
import math
from typing import NamedTuple, Optional, Sequence, Tuple

import numpy as np

Cell = Tuple[int, int]

#: Unknown-cell policies: treat a mostly unknown cell as an obstacle, or as free space.
UNKNOWN_POLICIES = ("obstacle", "free")


class Lattice(NamedTuple):
    """``rows`` x ``cols`` square cells of ``cell_size`` metres from ``origin`` (see above)."""

    origin_x: float
    origin_y: float
    cell_size: float
    rows: int
    cols: int

    def centre(self, cell: Cell) -> Tuple[float, float]:
        row, col = cell
        return (self.origin_x + (col + 0.5) * self.cell_size,
                self.origin_y - (row + 0.5) * self.cell_size)

    def cell_at(self, x: float, y: float) -> Cell:
        """The cell containing point (x, y) (may lie outside the lattice)."""
        return (int(math.floor((self.origin_y - y) / self.cell_size)),
                int(math.floor((x - self.origin_x) / self.cell_size)))

    def contains(self, cell: Cell) -> bool:
        return 0 <= cell[0] < self.rows and 0 <= cell[1] < self.cols


def heading(src: Cell, dst: Cell) -> float:
    """Map-frame yaw of travel from ``src`` to ``dst`` (0 for a wait: keep facing +x)."""
    d_row, d_col = dst[0] - src[0], dst[1] - src[1]
    if d_row == 0 and d_col == 0:
        return 0.0
    return math.atan2(-d_row, d_col)


def yaw_to_quaternion(yaw: float) -> Tuple[float, float, float, float]:
    """(x, y, z, w) of a rotation by ``yaw`` about +z."""
    return 0.0, 0.0, math.sin(yaw / 2.0), math.cos(yaw / 2.0)


def quaternion_to_yaw(x: float, y: float, z: float, w: float) -> float:
    return math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))


class MapError(ValueError):
    """An occupancy grid that cannot be placed on the lattice."""


def coarsen(data: Sequence[int], width: int, height: int, resolution: float,
            origin_x: float, origin_y: float, origin_yaw: float, lattice: Lattice,
            occupied_threshold: int = 65, occupied_fraction: float = 0.2,
            unknown_fraction: float = 0.5, unknown_policy: str = "obstacle") -> np.ndarray:
    """Obstacles (rows, cols) of the lattice from a ``nav_msgs/OccupancyGrid``'s fields.

    Each map pixel is assigned to the lattice cell holding its centre. A cell is an obstacle
    when more than ``occupied_fraction`` of its pixels are occupied (value >=
    ``occupied_threshold``); otherwise, when more than ``unknown_fraction`` of it is unknown
    (-1) or outside the map, ``unknown_policy`` decides. Raises :class:`MapError` for an empty
    map, a data length that is not width x height, a non-positive resolution, a rotated
    origin or non-finite numbers.
    """
    if unknown_policy not in UNKNOWN_POLICIES:
        raise ValueError(f"unknown_policy must be one of {UNKNOWN_POLICIES}, "
                         f"got {unknown_policy!r}")
    if width <= 0 or height <= 0:
        raise MapError(f"empty map ({width}x{height})")
    cells = np.asarray(data, dtype=np.int16)
    if cells.size != width * height:
        raise MapError(f"map data has {cells.size} cells, width x height is "
                       f"{width}x{height} = {width * height}")
    if not all(math.isfinite(v) for v in (resolution, origin_x, origin_y, origin_yaw)):
        raise MapError("map resolution or origin is not finite")
    if resolution <= 0:
        raise MapError(f"map resolution must be positive, got {resolution}")
    if abs(origin_yaw) > 1e-3:
        raise MapError(f"map origin is rotated by {origin_yaw:.3f} rad; only axis-aligned maps "
                       "are supported (SLAM Toolbox publishes them)")
    grid = cells.reshape(height, width)
    # Pixel centres in the world, then the lattice cell of each.
    xs = origin_x + (np.arange(width) + 0.5) * resolution
    ys = origin_y + (np.arange(height) + 0.5) * resolution
    cols = np.floor((xs - lattice.origin_x) / lattice.cell_size).astype(np.int64)
    rows = np.floor((lattice.origin_y - ys) / lattice.cell_size).astype(np.int64)
    col_ok = (cols >= 0) & (cols < lattice.cols)
    row_ok = (rows >= 0) & (rows < lattice.rows)
    sub = grid[np.ix_(row_ok, col_ok)]
    flat = (rows[row_ok][:, None] * lattice.cols + cols[col_ok][None, :]).reshape(-1)
    size = lattice.rows * lattice.cols
    per_cell = (lattice.cell_size / resolution) ** 2  # pixels a fully mapped cell holds
    occupied = np.bincount(flat, weights=(sub.reshape(-1) >= occupied_threshold), minlength=size)
    known = np.bincount(flat, weights=(sub.reshape(-1) >= 0), minlength=size)
    obstacles = occupied > occupied_fraction * np.maximum(known, 1)
    unknown = (per_cell - known) > unknown_fraction * per_cell
    if unknown_policy == "obstacle":
        obstacles |= unknown
    return obstacles.reshape(lattice.rows, lattice.cols)


def render_occupancy(obstacles: np.ndarray, lattice: Lattice, resolution: float = 0.05,
                     pad: float = 0.0, noise: float = 0.0,
                     rng: Optional[np.random.Generator] = None
                     ) -> Tuple[np.ndarray, float, float]:
    """A SLAM-like OccupancyGrid of the lattice's obstacles: (data (H, W) int8, origin x, y).

    Free space reads 0, obstacles 100, and the ``pad`` metres of margin around the lattice
    -1 (unknown). ``noise`` is the probability that a pixel reads wrong (a free pixel reads
    100, an occupied one 0), as a lidar map's speckle. The data's row 0 is the map's lowest y,
    as in ``nav_msgs/OccupancyGrid``.
    """
    per_cell = lattice.cell_size / resolution
    if abs(per_cell - round(per_cell)) > 1e-6:
        raise ValueError("cell_size must be a whole number of map pixels")
    per_cell = int(round(per_cell))
    margin = int(round(pad / resolution))
    # Lattice row 0 is at the top (largest y); map row 0 at the bottom: flip vertically.
    fine = np.kron(obstacles[::-1].astype(np.int8), np.ones((per_cell, per_cell), np.int8))
    data = np.full((fine.shape[0] + 2 * margin, fine.shape[1] + 2 * margin), -1, np.int8)
    body = np.where(fine > 0, 100, 0).astype(np.int8)
    if noise > 0:
        rng = rng if rng is not None else np.random.default_rng(0)
        flip = rng.random(body.shape) < noise
        body = np.where(flip, 100 - body, body).astype(np.int8)
    data[margin:margin + fine.shape[0], margin:margin + fine.shape[1]] = body
    origin_x = lattice.origin_x - margin * resolution
    origin_y = lattice.origin_y - lattice.rows * lattice.cell_size - margin * resolution
    return data, origin_x, origin_y


class CellTracker:
    """Snaps a robot's pose to a cell, with hysteresis so that pose noise near a border does
    not flip the cell back and forth: the tracked cell changes only once the pose is within
    ``(0.5 - hysteresis) * cell_size`` of another cell's centre on both axes."""

    def __init__(self, lattice: Lattice, hysteresis: float = 0.2) -> None:
        if not 0.0 <= hysteresis < 0.5:
            raise ValueError("hysteresis must be in [0, 0.5)")
        self.lattice = lattice
        self.hysteresis = hysteresis
        self.cell: Optional[Cell] = None

    def update(self, x: float, y: float) -> Optional[Cell]:
        """Feed a pose; returns the tracked cell (None until a pose lands well inside one)."""
        if not (math.isfinite(x) and math.isfinite(y)):
            raise ValueError("pose is not finite")
        candidate = self.lattice.cell_at(x, y)
        if candidate == self.cell:
            return self.cell
        cx, cy = self.lattice.centre(candidate)
        limit = (0.5 - self.hysteresis) * self.lattice.cell_size
        if abs(x - cx) <= limit and abs(y - cy) <= limit:
            self.cell = candidate
        return self.cell

    def reset(self) -> None:
        self.cell = None
