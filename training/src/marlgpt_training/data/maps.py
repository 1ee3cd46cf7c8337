"""Training maps: mazes, random obstacle maps and warehouses, always connected.

POGEMA's own random maps are not connected, and in lifelong MAPF an agent trapped in a pocket
with its goal scores a goal every step; every map made here keeps only its largest 4-connected
free component. The generators are seeded and independent of the benchmark's maps.
"""
import numpy as np

from marlgpt_planner.grid import UNREACHABLE, bfs_distances, neighbour_table

MAP_KINDS = ("mazes", "random", "warehouse")


def largest_component(obstacles: np.ndarray) -> np.ndarray:
    """``obstacles`` with every free cell outside the largest 4-connected free area filled."""
    table = neighbour_table(obstacles)
    unlabelled = ~obstacles.copy()
    best, best_size = None, 0
    while unlabelled.any():
        start = np.argwhere(unlabelled)[0]
        members = bfs_distances(obstacles, (int(start[0]), int(start[1])), table) < UNREACHABLE
        unlabelled &= ~members
        size = int(members.sum())
        if size > best_size:
            best, best_size = members, size
    if best is None:
        return obstacles.copy()
    return ~best


def random_map(height: int, width: int, density: float, rng: np.random.Generator) -> np.ndarray:
    """Obstacles dropped independently with probability ``density``, then made connected."""
    return largest_component(rng.random((height, width)) < density)


def maze_map(height: int, width: int, rng: np.random.Generator, loops: float = 0.25) -> np.ndarray:
    """A maze of 1-cell corridors (depth-first carving) with a share ``loops`` of extra openings.

    Cells at even (row, col) are rooms; carving opens the wall cell between two rooms. Extra
    openings turn the tree into a graph with cycles, as in POGEMA's maze maps.
    """
    obstacles = np.ones((height, width), dtype=bool)
    rooms_r, rooms_c = (height + 1) // 2, (width + 1) // 2
    visited = np.zeros((rooms_r, rooms_c), dtype=bool)
    start = (int(rng.integers(rooms_r)), int(rng.integers(rooms_c)))
    stack = [start]
    visited[start] = True
    obstacles[2 * start[0], 2 * start[1]] = False
    steps = ((-1, 0), (1, 0), (0, -1), (0, 1))
    while stack:
        r, c = stack[-1]
        options = [(r + dr, c + dc) for dr, dc in steps
                   if 0 <= r + dr < rooms_r and 0 <= c + dc < rooms_c
                   and not visited[r + dr, c + dc]]
        if not options:
            stack.pop()
            continue
        nr, nc = options[int(rng.integers(len(options)))]
        visited[nr, nc] = True
        obstacles[2 * nr, 2 * nc] = False
        obstacles[r + nr, c + nc] = False  # the wall between (2r, 2c) and (2nr, 2nc)
        stack.append((nr, nc))
    # Extra openings: walls between two free cells in a line.
    walls = np.argwhere(obstacles)
    for r, c in walls[rng.random(len(walls)) < loops]:
        vertical = 0 < r < height - 1 and not obstacles[r - 1, c] and not obstacles[r + 1, c]
        horizontal = 0 < c < width - 1 and not obstacles[r, c - 1] and not obstacles[r, c + 1]
        if vertical or horizontal:
            obstacles[r, c] = False
    return largest_component(obstacles)


def warehouse_map(height: int, width: int, rng: np.random.Generator,
                  margin: int = 2) -> np.ndarray:
    """A warehouse floor: blocks of shelves two cells deep (each shelf cell faces an aisle),
    3 to 6 cells long, with one-cell aisles between block rows, two-cell aisles between block
    columns and an open ``margin`` around them (the stations' side). Block lengths are drawn
    per column of blocks, so no two maps are alike; a map too small for one block is open."""
    obstacles = np.zeros((height, width), dtype=bool)
    col = margin
    while True:
        length = int(rng.integers(3, 7))
        if col + length > width - margin:
            break
        for row in range(margin, height - margin - 1, 3):  # 2 shelf rows, 1 aisle row
            obstacles[row:row + 2, col:col + length] = True
        col += length + 2
    return largest_component(obstacles)


def make_map(kind: str, height: int, width: int, rng: np.random.Generator,
             density: float = 0.2) -> np.ndarray:
    """A connected training map of ``kind`` (one of ``MAP_KINDS``)."""
    if kind == "mazes":
        return maze_map(height, width, rng)
    if kind == "random":
        return random_map(height, width, density, rng)
    if kind == "warehouse":
        return warehouse_map(height, width, rng)
    raise ValueError(f"unknown map kind {kind!r}: choose from {', '.join(MAP_KINDS)}")
