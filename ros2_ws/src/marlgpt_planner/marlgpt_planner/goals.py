"""Lifelong goals for one robot: a seeded generator, or a sequence from outside (pure logic).

Either way a robot always has a current goal; when it reaches it, :meth:`Goals.advance` moves
on to the next: a fresh random free cell reachable from where it stands (``generator``), or
the next goal in the external sequence, which a topic or service delivers and which may
arrive later than the arrival (``external``; until then the robot's goal is where it stands,
so it waits there). Python >= 3.8, numpy.

Every goal, from any source, passes :func:`goal_problem` before it becomes a robot's goal: it
must lie inside the lattice, on a free cell, not on a lost robot's cell, and be reachable from
where the robot stands. A refused goal leaves the robot's previous goal in place.
"""
import math
from typing import Callable, Collection, Dict, Optional, Tuple

import numpy as np

from marlgpt_planner.grid import UNREACHABLE, bfs_distances

Cell = Tuple[int, int]
SOURCES = ("generator", "external")


def goal_problem(cell, obstacles: np.ndarray, start: Optional[Cell] = None,
                 blocked: Collection[Cell] = ()) -> Optional[str]:
    """Why ``cell`` cannot be a goal (None when it can): not two whole numbers, outside the
    lattice, an obstacle, a lost robot's cell (``blocked``), or out of reach from ``start``
    (the robot's cell, when known) around obstacles and ``blocked`` cells."""
    try:
        row, col = (float(v) for v in cell)
    except (TypeError, ValueError):
        return f"{cell!r} is not a cell (row, col)"
    if not (math.isfinite(row) and math.isfinite(col)) or row != int(row) or col != int(col):
        return f"{cell!r} is not a cell of whole numbers"
    cell = (int(row), int(col))
    rows, cols = obstacles.shape
    if not (0 <= cell[0] < rows and 0 <= cell[1] < cols):
        return f"cell {cell} is outside the {rows}x{cols} lattice"
    if obstacles[cell]:
        return f"cell {cell} is an obstacle"
    if cell in {tuple(b) for b in blocked}:
        return f"cell {cell} is held by a lost robot"
    if start is not None and tuple(start) != cell:
        if not reachable_cells(obstacles, tuple(start), blocked)[cell]:
            return f"cell {cell} cannot be reached from {tuple(start)}"
    return None


def reachable_cells(obstacles: np.ndarray, cell: Cell, blocked: Collection[Cell] = ()
                    ) -> np.ndarray:
    """Cells reachable from ``cell`` (bool (rows, cols)) around obstacles and ``blocked``."""
    free = obstacles.copy()
    for b in blocked:
        if tuple(b) != tuple(cell) and 0 <= b[0] < free.shape[0] and 0 <= b[1] < free.shape[1]:
            free[tuple(b)] = True
    if not (0 <= cell[0] < free.shape[0] and 0 <= cell[1] < free.shape[1]) or free[cell]:
        return np.zeros_like(free, dtype=bool)
    return bfs_distances(free, cell) < UNREACHABLE


def random_goal(obstacles: np.ndarray, cell: Cell, rng: np.random.Generator,
                blocked: Collection[Cell] = ()) -> Cell:
    """A uniformly drawn free cell other than ``cell`` that ``cell`` can reach, avoiding
    ``blocked`` cells (``cell`` itself when it can reach nothing else)."""
    reachable = reachable_cells(obstacles, cell, blocked)
    reachable[cell] = False
    options = np.argwhere(reachable)
    if len(options) == 0:
        return cell
    row, col = options[int(rng.integers(len(options)))]
    return int(row), int(col)


#: check(cell) -> None if the cell may be the robot's goal, else the reason it may not.
Check = Callable[[Cell], Optional[str]]
#: refused(cell, reason): called for every goal that is refused.
Refused = Callable[[Cell, str], None]


class Goals:
    """The goals of one robot (see the module doc). ``check`` judges every goal before it
    is taken (default: anything goes); ``refused`` hears about each goal it turns down."""

    def __init__(self, source: str, seed: int = 0, check: Optional[Check] = None,
                 refused: Optional[Refused] = None) -> None:
        if source not in SOURCES:
            raise ValueError(f"goal source must be one of {SOURCES}, got {source!r}")
        self.source = source
        self.rng = np.random.default_rng(seed)
        self.check: Check = check or (lambda cell: None)
        self.refused: Refused = refused or (lambda cell, reason: None)
        self.current: Optional[Cell] = None
        self.sequence = 0  # number of the current goal in the robot's series
        self.reached = 0
        #: True while an external robot stands on its reached goal with no next one yet.
        self.waiting = False
        self._queued: Dict[int, Cell] = {}

    def _accept(self, cell) -> Optional[Cell]:
        reason = self.check(cell)
        if reason is not None:
            self.refused(cell, reason)
            return None
        return int(cell[0]), int(cell[1])

    def offer(self, sequence: int, cell: Cell) -> bool:
        """An external goal: number ``sequence`` of this robot's series (older ones ignored).
        False if it was refused."""
        if self._accept(cell) is None:
            return False
        if sequence > self.sequence:
            self._queued[int(sequence)] = (int(cell[0]), int(cell[1]))
        if self.current is None or self.waiting:
            self.poll()
        return True

    def replace(self, cell: Cell) -> Optional[str]:
        """Set the current goal now (a service call), keeping the series' numbering; returns
        why it was refused, or None when it was taken."""
        reason = self.check(cell)
        if reason is not None:
            self.refused(cell, reason)
            return reason
        self.current = (int(cell[0]), int(cell[1]))
        self.waiting = False
        return None

    def ensure(self, obstacles: np.ndarray, cell: Cell, blocked: Collection[Cell] = ()
               ) -> Optional[Cell]:
        """The current goal, drawing the first one for a generator; None while an external
        source has not sent one."""
        if self.current is None and self.source == "generator":
            self.current = random_goal(obstacles, cell, self.rng, blocked)
            self.sequence = 1
        return self.current

    def arrived(self, obstacles: np.ndarray, cell: Cell, blocked: Collection[Cell] = ()
                ) -> bool:
        """Update after the robot ended a step at ``cell``; True if that reached its goal."""
        if self.current is None or self.waiting or tuple(cell) != self.current:
            return False
        self.reached += 1
        if self.source == "generator":
            self.current = random_goal(obstacles, cell, self.rng, blocked)
            self.sequence += 1
        else:
            self.waiting = True
            self.poll()
        return True

    def revalidate(self, obstacles: np.ndarray, cell: Cell, blocked: Collection[Cell] = ()
                   ) -> Optional[str]:
        """After the map or the lost robots changed: a generator whose goal is no longer
        valid draws a new one; an external goal that is no longer valid is dropped and the
        robot waits where it stands for the next. Returns what happened, or None."""
        if self.current is None or self.waiting or self.current == tuple(cell):
            return None
        reason = self.check(self.current)
        if reason is None:
            return None
        old = self.current
        if self.source == "generator":
            self.current = random_goal(obstacles, cell, self.rng, blocked)
            self.sequence += 1
            return f"goal {old} dropped ({reason}); new goal {self.current}"
        self.current = (int(cell[0]), int(cell[1]))
        self.waiting = True
        self.poll()
        return f"goal {old} dropped ({reason}); waiting at {self.current} for the next"

    def poll(self) -> bool:
        """Take the next queued external goal if the robot needs one; True if it did."""
        while self.sequence + 1 in self._queued and (self.current is None or self.waiting):
            self.sequence += 1
            cell = self._queued.pop(self.sequence)
            for stale in [s for s in self._queued if s <= self.sequence]:
                del self._queued[stale]
            if self._accept(cell) is not None:
                self.current = cell
                self.waiting = False
                return True
        return False
