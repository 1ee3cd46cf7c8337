"""The fleet's coarse grid in the world: cells <-> map-frame poses, SLAM maps -> obstacles.

The lattice is anchored in the world, not in the SLAM map: ``origin`` is the map-frame (x, y)
of the outer corner of cell (0, 0), and ``yaw`` (radians, counter-clockwise about +z, about
that corner) turns the whole lattice so that a maze at any angle to the map can be used. The
lattice's own axes are the map's axes turned by ``yaw``: columns grow along
``(cos yaw, sin yaw)`` and rows along ``(sin yaw, -cos yaw)`` (POGEMA's "down" is row + 1), so
cell (r, c) has its centre at ``origin + R(yaw) @ ((c + 0.5) s, -(r + 0.5) s)`` for cell size
``s``. With ``yaw = 0`` (the default) that is ``(x0 + (c + 0.5) s, y0 - (r + 0.5) s)``: rows
grow towards -y, columns towards +x, and ``origin`` is the corner with the smallest x and the
largest y. :meth:`Lattice.to_grid` is the inverse: continuous (row, col) coordinates of a map
point, integral at cell centres.

SLAM Toolbox's OccupancyGrid grows and moves its ``info.origin`` as the map grows, so each map
is placed on the lattice from its own origin (position and yaw) every time (:func:`coarsen`),
never cached by index. Pure numpy, Python >= 3.8.
"""
import math
from typing import NamedTuple, Optional, Sequence, Tuple

import numpy as np

Cell = Tuple[int, int]

#: Unknown-cell policies: treat a mostly unknown cell as an obstacle, or as free space.
UNKNOWN_POLICIES = ("obstacle", "free")


class Lattice(NamedTuple):
    """``rows`` x ``cols`` square cells of ``cell_size`` metres from ``origin``, turned by
    ``yaw`` about it (see above)."""

    origin_x: float
    origin_y: float
    cell_size: float
    rows: int
    cols: int
    yaw: float = 0.0

    def centre(self, cell: Cell) -> Tuple[float, float]:
        """Map-frame (x, y) of a cell's centre (fractional (row, col) invert :meth:`to_grid`)."""
        row, col = cell
        along = (col + 0.5) * self.cell_size  # along the lattice's +column axis
        across = -(row + 0.5) * self.cell_size  # along its -row axis
        cos_yaw, sin_yaw = math.cos(self.yaw), math.sin(self.yaw)
        return (self.origin_x + (cos_yaw * along - sin_yaw * across),
                self.origin_y + (sin_yaw * along + cos_yaw * across))

    def _corner_coords(self, x: float, y: float) -> Tuple[float, float]:
        """(row, col) of a map point in cell units from the origin corner: cell (r, c) spans
        [r, r + 1) x [c, c + 1)."""
        dx, dy = x - self.origin_x, y - self.origin_y
        cos_yaw, sin_yaw = math.cos(self.yaw), math.sin(self.yaw)
        return ((sin_yaw * dx - cos_yaw * dy) / self.cell_size,
                (cos_yaw * dx + sin_yaw * dy) / self.cell_size)

    def to_grid(self, x: float, y: float) -> Tuple[float, float]:
        """Continuous (row, col) of map point (x, y): cell (r, c)'s centre gives (r, c)."""
        row, col = self._corner_coords(x, y)
        return row - 0.5, col - 0.5

    def cell_at(self, x: float, y: float) -> Cell:
        """The cell containing point (x, y) (may lie outside the lattice)."""
        row, col = self._corner_coords(x, y)
        return int(math.floor(row)), int(math.floor(col))

    def contains(self, cell: Cell) -> bool:
        return 0 <= cell[0] < self.rows and 0 <= cell[1] < self.cols

    def heading(self, src: Cell, dst: Cell) -> float:
        """Map-frame yaw of travel from ``src`` to ``dst`` on this lattice (see :func:`heading`)."""
        return heading(src, dst, self.yaw)


def wrap_angle(angle: float) -> float:
    """``angle`` wrapped to (-pi, pi] (unchanged when it already lies there)."""
    if -math.pi < angle <= math.pi:
        return angle
    wrapped = math.remainder(angle, 2.0 * math.pi)
    return math.pi if wrapped <= -math.pi else wrapped


def heading(src: Cell, dst: Cell, yaw: float = 0.0) -> float:
    """Map-frame yaw of travel from ``src`` to ``dst`` on a lattice turned by ``yaw``, in
    (-pi, pi]; a wait faces the lattice's +column direction (``yaw``; 0 = +x)."""
    d_row, d_col = dst[0] - src[0], dst[1] - src[1]
    if d_row == 0 and d_col == 0:
        return wrap_angle(yaw)
    return wrap_angle(math.atan2(-d_row, d_col) + yaw)


def yaw_to_quaternion(yaw: float) -> Tuple[float, float, float, float]:
    """(x, y, z, w) of a rotation by ``yaw`` about +z."""
    return 0.0, 0.0, math.sin(yaw / 2.0), math.cos(yaw / 2.0)


def quaternion_to_yaw(x: float, y: float, z: float, w: float) -> float:
    return math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))


class MapError(ValueError):
    """An occupancy grid that cannot be placed on the lattice."""


def _pixel_cells(width: int, height: int, resolution: float, origin_x: float, origin_y: float,
                 origin_yaw: float, lattice: Lattice) -> Tuple[np.ndarray, np.ndarray]:
    """Lattice (rows, cols) holding each map pixel's centre, as two (height, width) int64
    arrays indexed [data row, data column] (cells may lie outside the lattice).

    Pixel (i, j) (column i, data row j) has its centre at ``origin + R(origin_yaw) @ ((i + 0.5)
    res, (j + 0.5) res)``; in the lattice's frame that is an affine map of (i, j) turned by
    ``lattice.yaw - origin_yaw``, computed as an outer sum of one term per axis.
    """
    turn = lattice.yaw - origin_yaw
    cos_turn, sin_turn = math.cos(turn), math.sin(turn)
    # The map origin in lattice units (col along, row across), from the origin corner.
    row0, col0 = lattice._corner_coords(origin_x, origin_y)
    step = resolution / lattice.cell_size
    along_x = (np.arange(width) + 0.5) * step  # pixel centre offsets along the map's x...
    along_y = (np.arange(height) + 0.5) * step  # ...and y axes, in cells
    cols = (col0 + cos_turn * along_x)[None, :] + (sin_turn * along_y)[:, None]
    rows = (row0 + sin_turn * along_x)[None, :] + (-cos_turn * along_y)[:, None]
    return np.floor(rows).astype(np.int64), np.floor(cols).astype(np.int64)


def coarsen(data: Sequence[int], width: int, height: int, resolution: float,
            origin_x: float, origin_y: float, origin_yaw: float, lattice: Lattice,
            occupied_threshold: int = 65, occupied_fraction: float = 0.2,
            unknown_fraction: float = 0.5, unknown_policy: str = "obstacle") -> np.ndarray:
    """Obstacles (rows, cols) of the lattice from a ``nav_msgs/OccupancyGrid``'s fields.

    The map may be turned by ``origin_yaw`` and the lattice by ``lattice.yaw``, at any angle to
    each other. Each map pixel is assigned to the lattice cell holding its centre. A cell is an
    obstacle when more than ``occupied_fraction`` of its pixels are occupied (value >=
    ``occupied_threshold``); otherwise, when more than ``unknown_fraction`` of it is unknown
    (-1) or outside the map, ``unknown_policy`` decides. Raises :class:`MapError` for an empty
    map, a data length that is not width x height, a non-positive resolution or non-finite
    numbers.
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
    grid = cells.reshape(height, width)
    size = lattice.rows * lattice.cols
    if lattice.yaw == 0.0 and origin_yaw == 0.0:
        # Both axis-aligned: separable. Pixel centres in the world, then the cell of each.
        xs = origin_x + (np.arange(width) + 0.5) * resolution
        ys = origin_y + (np.arange(height) + 0.5) * resolution
        cols = np.floor((xs - lattice.origin_x) / lattice.cell_size).astype(np.int64)
        rows = np.floor((lattice.origin_y - ys) / lattice.cell_size).astype(np.int64)
        col_ok = (cols >= 0) & (cols < lattice.cols)
        row_ok = (rows >= 0) & (rows < lattice.rows)
        values = grid[np.ix_(row_ok, col_ok)].reshape(-1)
        flat = (rows[row_ok][:, None] * lattice.cols + cols[col_ok][None, :]).reshape(-1)
    else:
        rows, cols = _pixel_cells(width, height, resolution, origin_x, origin_y, origin_yaw,
                                  lattice)
        inside = (rows >= 0) & (rows < lattice.rows) & (cols >= 0) & (cols < lattice.cols)
        values = grid[inside]
        flat = rows[inside] * lattice.cols + cols[inside]
    per_cell = (lattice.cell_size / resolution) ** 2  # pixels a fully mapped cell holds
    occupied = np.bincount(flat, weights=(values >= occupied_threshold), minlength=size)
    known = np.bincount(flat, weights=(values >= 0), minlength=size)
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

    The grid is axis-aligned (origin yaw 0) and covers the lattice's bounding box plus ``pad``
    metres. A pixel whose centre lies in a free cell reads 0, in an obstacle cell 100, and
    outside the lattice -1 (unknown). ``noise`` is the probability that a pixel of the lattice
    reads wrong (a free pixel reads 100, an occupied one 0), as a lidar map's speckle. The
    data's row 0 is the map's lowest y, as in ``nav_msgs/OccupancyGrid``. An unturned lattice
    (``yaw`` 0) needs a ``cell_size`` of a whole number of pixels.
    """
    margin = int(round(pad / resolution))
    if lattice.yaw != 0.0:
        return _render_turned(np.asarray(obstacles, bool), lattice, resolution, margin, noise,
                              rng)
    per_cell = lattice.cell_size / resolution
    if abs(per_cell - round(per_cell)) > 1e-6:
        raise ValueError("cell_size must be a whole number of map pixels")
    per_cell = int(round(per_cell))
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


def _render_turned(obstacles: np.ndarray, lattice: Lattice, resolution: float, margin: int,
                   noise: float, rng: Optional[np.random.Generator]
                   ) -> Tuple[np.ndarray, float, float]:
    """:func:`render_occupancy` for a turned lattice: pixel by pixel, from each one's cell."""
    corners = [lattice.centre((row - 0.5, col - 0.5))
               for row in (0, lattice.rows) for col in (0, lattice.cols)]
    xs, ys = [x for x, _ in corners], [y for _, y in corners]
    # Whole pixels over the bounding box (less a hair, so exact fits take no extra pixel).
    width = int(math.ceil((max(xs) - min(xs)) / resolution - 1e-9)) + 2 * margin
    height = int(math.ceil((max(ys) - min(ys)) / resolution - 1e-9)) + 2 * margin
    origin_x = min(xs) - margin * resolution
    origin_y = min(ys) - margin * resolution
    rows, cols = _pixel_cells(width, height, resolution, origin_x, origin_y, 0.0, lattice)
    inside = (rows >= 0) & (rows < lattice.rows) & (cols >= 0) & (cols < lattice.cols)
    body = np.where(obstacles[rows[inside], cols[inside]], 100, 0).astype(np.int8)
    if noise > 0:
        rng = rng if rng is not None else np.random.default_rng(0)
        flip = rng.random(body.shape) < noise
        body = np.where(flip, 100 - body, body).astype(np.int8)
    data = np.full((height, width), -1, np.int8)
    data[inside] = body
    return data, origin_x, origin_y


class CellTracker:
    """Snaps a robot's pose to a cell, with hysteresis so that pose noise near a border does
    not flip the cell back and forth: the tracked cell changes only once the pose is within
    ``(0.5 - hysteresis) * cell_size`` of another cell's centre on both of the lattice's axes
    (its rows and columns, turned by its ``yaw``)."""

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
        row, col = self.lattice.to_grid(x, y)
        limit = 0.5 - self.hysteresis  # in cells
        if abs(row - candidate[0]) <= limit and abs(col - candidate[1]) <= limit:
            self.cell = candidate
        return self.cell

    def reset(self) -> None:
        self.cell = None
