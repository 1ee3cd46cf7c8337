"""Grid maps and exact BFS distance fields (pure numpy + stdlib, Python >= 3.8).

A grid is a 2-D boolean array of obstacles, indexed ``[row, col]`` in POGEMA's convention.
Distances are 4-connected path lengths around obstacles; cells that cannot reach the goal get
``UNREACHABLE``. Fields are cached per goal, since in lifelong MAPF every agent asks for the
field of its current goal at every step and goals change only when reached.
"""
import hashlib
from collections import OrderedDict
from typing import Callable, Optional, Tuple

import numpy as np

from marlgpt_planner.actions import DELTAS

#: Distance of a cell that cannot reach the goal (and of cells outside the map in padded fields).
UNREACHABLE = 1 << 20

Cell = Tuple[int, int]


def parse_grid(text: str) -> np.ndarray:
    """Obstacle array from POGEMA's text: ``.`` free, ``#`` or ``@`` obstacle, a row a line."""
    rows = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not rows:
        raise ValueError("empty grid")
    width = len(rows[0])
    for index, row in enumerate(rows):
        if len(row) != width:
            raise ValueError(f"grid row {index} has {len(row)} cells, expected {width}")
        bad = set(row) - set(".#@")
        if bad:
            raise ValueError(f"grid row {index} has unknown cell characters {sorted(bad)}")
    return np.array([[ch != "." for ch in row] for row in rows], dtype=bool)


def render_grid(obstacles: np.ndarray) -> str:
    """The inverse of :func:`parse_grid`."""
    return "\n".join("".join("#" if cell else "." for cell in row) for row in obstacles)


def neighbour_table(obstacles: np.ndarray) -> np.ndarray:
    """(H*W + 1, 4) int64 flat indices of each cell's free 4-neighbours.

    Missing neighbours (edge, obstacle) point at the extra sink index ``H*W``; the sink's own
    row points at itself. Obstacles have no neighbours.
    """
    height, width = obstacles.shape
    sink = height * width
    walled = np.pad(obstacles, 1, constant_values=True)
    index = np.full((height + 2, width + 2), sink, dtype=np.int64)
    index[1:-1, 1:-1] = np.arange(sink).reshape(height, width)
    index[walled] = sink
    table = np.full((sink + 1, 4), sink, dtype=np.int64)
    for k, (d_row, d_col) in enumerate(DELTAS[1:].tolist()):
        shifted = index[1 + d_row:height + 1 + d_row, 1 + d_col:width + 1 + d_col]
        table[:sink, k] = shifted.reshape(-1)
    table[:sink][obstacles.reshape(-1)] = sink
    return table


def bfs_distances(obstacles: np.ndarray, goal: Cell,
                  table: Optional[np.ndarray] = None) -> np.ndarray:
    """Exact 4-connected path length from every cell to ``goal`` (int32, ``UNREACHABLE`` if none).

    A vectorised wavefront BFS: one numpy pass per distance level. ``table`` is the map's
    :func:`neighbour_table`, passed in to reuse it across goals. Raises ValueError when the
    goal lies outside the grid or on an obstacle.
    """
    height, width = obstacles.shape
    row, col = int(goal[0]), int(goal[1])
    if not (0 <= row < height and 0 <= col < width):
        raise ValueError(f"goal {goal} is outside the {height}x{width} grid")
    if obstacles[row, col]:
        raise ValueError(f"goal {goal} is an obstacle")
    if table is None:
        table = neighbour_table(obstacles)
    sink = height * width
    dist = np.full(sink + 1, UNREACHABLE, dtype=np.int32)
    dist[sink] = -1  # the sink counts as visited, so it is never expanded
    frontier = np.array([row * width + col])
    level = 0
    while frontier.size:
        dist[frontier] = level
        level += 1
        candidates = table[frontier].reshape(-1)
        candidates = candidates[dist[candidates] == UNREACHABLE]
        frontier = np.unique(candidates)
    return dist[:sink].reshape(height, width)


class DistanceFields:
    """BFS distance fields of one map, computed on demand and kept in an LRU cache per goal.

    ``padded(goal)`` returns the field padded by ``pad`` cells of ``UNREACHABLE`` on every
    side, so that a (2*pad+1)-square window around any cell of the map is a plain slice.
    ``compute`` replaces the numpy BFS with another exact one (the data generator passes the
    expert's compiled BFS); it must return the same (H, W) int32 field.
    """

    def __init__(self, obstacles: np.ndarray, pad: int = 0, max_fields: int = 1024,
                 compute: Optional[Callable[[Cell], np.ndarray]] = None) -> None:
        self.obstacles = np.asarray(obstacles, dtype=bool)
        self._compute = compute
        self.pad = int(pad)
        self.max_fields = int(max_fields)
        self._table = neighbour_table(self.obstacles)
        self._walled = np.pad(self.obstacles, 1, constant_values=True)
        self._cache: OrderedDict = OrderedDict()
        self.computed = 0

    @property
    def shape(self) -> Tuple[int, int]:
        return self.obstacles.shape  # type: ignore[return-value]

    def padded(self, goal: Cell) -> np.ndarray:
        """The padded field of ``goal`` (shape ``(H + 2*pad, W + 2*pad)``)."""
        key = (int(goal[0]), int(goal[1]))
        field = self._cache.get(key)
        if field is not None:
            self._cache.move_to_end(key)
            return field
        if self._compute is not None:
            field = np.asarray(self._compute(key), dtype=np.int32)
        else:
            field = bfs_distances(self.obstacles, key, self._table)
        if self.pad:
            field = np.pad(field, self.pad, constant_values=UNREACHABLE)
        field.setflags(write=False)
        self._cache[key] = field
        self.computed += 1
        if len(self._cache) > self.max_fields:
            self._cache.popitem(last=False)
        return field

    def field(self, goal: Cell) -> np.ndarray:
        """The unpadded field of ``goal`` (a view into the cached padded one)."""
        p = self.pad
        padded = self.padded(goal)
        return padded[p:padded.shape[0] - p, p:padded.shape[1] - p] if p else padded

    def free_moves(self, positions: np.ndarray) -> np.ndarray:
        """(N, 5) bool: action a from each position lands on a free cell of the map (waiting
        always does)."""
        pos = np.asarray(positions, dtype=np.int64).reshape(-1, 2)
        out = ~self._walled[pos[:, 0:1] + 1 + DELTAS[:, 0], pos[:, 1:2] + 1 + DELTAS[:, 1]]
        out[:, 0] = True
        return out

    def distance(self, cell: Cell, goal: Cell) -> int:
        p = self.pad
        return int(self.padded(goal)[cell[0] + p, cell[1] + p])


def neighbour_distances(fields: DistanceFields, positions: np.ndarray,
                        goals: np.ndarray) -> np.ndarray:
    """Each agent's goal distance at its own cell and after each of the 5 actions.

    Returns int32 ``(N, 5)``: column ``a`` is the distance from the cell that action ``a``
    leads to (``UNREACHABLE`` for obstacles and outside the map); column 0 is the agent's own
    cell. Needs ``fields.pad >= 1``.
    """
    if fields.pad < 1:
        raise ValueError("neighbour_distances needs DistanceFields(pad >= 1)")
    p = fields.pad
    out = np.empty((len(positions), len(DELTAS)), dtype=np.int32)
    rows = positions[:, 0] + p
    cols = positions[:, 1] + p
    for i, goal in enumerate(goals.tolist()):
        field = fields.padded(goal)
        out[i] = field[rows[i] + DELTAS[:, 0], cols[i] + DELTAS[:, 1]]
    return out


def occupied_targets(positions: np.ndarray, shape: Tuple[int, int]) -> np.ndarray:
    """(N, 5) bool: the cell action a leads to is occupied by another agent now (never the
    wait column)."""
    height, width = shape
    pos = np.asarray(positions, dtype=np.int64).reshape(-1, 2)
    occupied = np.zeros((height + 2, width + 2), dtype=bool)
    occupied[pos[:, 0] + 1, pos[:, 1] + 1] = True
    out = occupied[pos[:, 0:1] + 1 + DELTAS[:, 0], pos[:, 1:2] + 1 + DELTAS[:, 1]]
    out[:, 0] = False
    return out


def grid_digest(obstacles: np.ndarray) -> str:
    """A short digest of an obstacle grid (its shape and cells): planners compare maps by it."""
    grid = np.ascontiguousarray(obstacles, dtype=bool)
    text = f"{grid.shape[0]}x{grid.shape[1]}:".encode() + np.packbits(grid).tobytes()
    return hashlib.sha256(text).hexdigest()[:16]
