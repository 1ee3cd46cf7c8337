"""Lifelong goals for one robot: a seeded generator, or a sequence from outside (pure logic).

Either way a robot always has a current goal; when it reaches it, :meth:`Goals.advance` moves
on to the next: a fresh random free cell reachable from where it stands (``generator``), or
the next goal in the external sequence, which a topic or service delivers and which may
arrive later than the arrival (``external``; until then the robot's goal is where it stands,
so it waits there). Python >= 3.8, numpy.
"""
from typing import Dict, Optional, Tuple

import numpy as np

from marlgpt_planner.grid import UNREACHABLE, bfs_distances

Cell = Tuple[int, int]
SOURCES = ("generator", "external")


def random_goal(obstacles: np.ndarray, cell: Cell, rng: np.random.Generator) -> Cell:
    """A uniformly drawn free cell other than ``cell`` that ``cell`` can reach (``cell`` itself
    when it can reach nothing else)."""
    reachable = bfs_distances(obstacles, cell) < UNREACHABLE
    reachable[cell] = False
    options = np.argwhere(reachable)
    if len(options) == 0:
        return cell
    row, col = options[int(rng.integers(len(options)))]
    return int(row), int(col)


class Goals:
    """The goals of one robot (see the module doc)."""

    def __init__(self, source: str, seed: int = 0) -> None:
        if source not in SOURCES:
            raise ValueError(f"goal source must be one of {SOURCES}, got {source!r}")
        self.source = source
        self.rng = np.random.default_rng(seed)
        self.current: Optional[Cell] = None
        self.sequence = 0  # number of the current goal in the robot's series
        self.reached = 0
        #: True while an external robot stands on its reached goal with no next one yet.
        self.waiting = False
        self._queued: Dict[int, Cell] = {}

    def offer(self, sequence: int, cell: Cell) -> None:
        """An external goal: number ``sequence`` of this robot's series (older ones ignored)."""
        if sequence > self.sequence:
            self._queued[int(sequence)] = (int(cell[0]), int(cell[1]))
        if self.current is None or self.waiting:
            self.poll()

    def replace(self, cell: Cell) -> None:
        """Set the current goal now (a service call), keeping the series' numbering."""
        self.current = (int(cell[0]), int(cell[1]))
        self.waiting = False

    def ensure(self, obstacles: np.ndarray, cell: Cell) -> Optional[Cell]:
        """The current goal, drawing the first one for a generator; None while an external
        source has not sent one."""
        if self.current is None and self.source == "generator":
            self.current = random_goal(obstacles, cell, self.rng)
            self.sequence = 1
        return self.current

    def arrived(self, obstacles: np.ndarray, cell: Cell) -> bool:
        """Update after the robot ended a step at ``cell``; True if that reached its goal."""
        if self.current is None or self.waiting or tuple(cell) != self.current:
            return False
        self.reached += 1
        if self.source == "generator":
            self.current = random_goal(obstacles, cell, self.rng)
            self.sequence += 1
        else:
            self.waiting = True
            self.poll()
        return True

    def poll(self) -> bool:
        """Take the next queued external goal if the robot needs one; True if it did."""
        if self.sequence + 1 not in self._queued or not (self.current is None or self.waiting):
            return False
        self.sequence += 1
        self.current = self._queued.pop(self.sequence)
        self.waiting = False
        for stale in [s for s in self._queued if s <= self.sequence]:
            del self._queued[stale]
        return True
