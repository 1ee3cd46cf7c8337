"""The loopback simulator's world: robots gliding between cell centres, and its own
collision count, kept independently of the planners (pure Python + numpy)."""
import math
from typing import Dict, List, NamedTuple, Optional, Set, Tuple

from marlgpt_planner.lattice import Lattice

Cell = Tuple[int, int]


class Motion(NamedTuple):
    start: Tuple[float, float]
    end: Tuple[float, float]
    yaw: float
    t0: float
    duration: float


class World:
    """Robot poses over time on ``lattice``; counts collisions as the simulator sees them.

    A vertex collision is two robots whose centres lie in the same cell at the same moment; a
    swap collision is two robots travelling in opposite directions between the same two cells
    at overlapping times. Each pair's continuing contact counts once.
    """

    def __init__(self, lattice: Lattice, robots: List[str], starts: List[Cell]) -> None:
        self.lattice = lattice
        self.robots = list(robots)
        self.pose: Dict[str, Tuple[float, float, float]] = {}
        for robot, cell in zip(robots, starts):
            x, y = lattice.centre(cell)
            self.pose[robot] = (x, y, 0.0)
        self.motion: Dict[str, Optional[Motion]] = {r: None for r in robots}
        self.collisions = {"vertex": 0, "swap": 0}
        self.events: List[dict] = []
        self._touching: Set[Tuple[str, str, str]] = set()
        self.distance = {r: 0.0 for r in robots}

    def start(self, robot: str, target: Tuple[float, float], yaw: float, now: float,
              duration: float) -> None:
        x, y, _ = self.pose[robot]
        self.motion[robot] = Motion((x, y), target, yaw, now, max(duration, 1e-3))

    def stop(self, robot: str) -> None:
        self.motion[robot] = None

    def advance(self, now: float, step: int = 0) -> List[str]:
        """Move every robot to time ``now``; returns robots whose motion finished."""
        finished = []
        for robot, motion in self.motion.items():
            if motion is None:
                continue
            fraction = min(1.0, (now - motion.t0) / motion.duration)
            x = motion.start[0] + fraction * (motion.end[0] - motion.start[0])
            y = motion.start[1] + fraction * (motion.end[1] - motion.start[1])
            old = self.pose[robot]
            self.distance[robot] += math.hypot(x - old[0], y - old[1])
            self.pose[robot] = (x, y, motion.yaw)
            if fraction >= 1.0:
                self.motion[robot] = None
                finished.append(robot)
        self._count(step)
        return finished

    def cell(self, robot: str) -> Cell:
        x, y, _ = self.pose[robot]
        return self.lattice.cell_at(x, y)

    def _count(self, step: int) -> None:
        touching = set()
        cells = {r: self.cell(r) for r in self.robots}
        for i, a in enumerate(self.robots):
            for b in self.robots[i + 1:]:
                if cells[a] == cells[b]:
                    touching.add((a, b, "vertex"))
                if self._swapping(a, b):
                    touching.add((a, b, "swap"))
        for a, b, kind in touching - self._touching:
            self.collisions[kind] += 1
            self.events.append({"kind": kind, "robots": [a, b], "step": step,
                                "cells": [list(cells[a]), list(cells[b])]})
        self._touching = touching

    def _swapping(self, a: str, b: str) -> bool:
        ma, mb = self.motion[a], self.motion[b]
        if ma is None or mb is None:
            return False
        cell = self.lattice.cell_at
        return (cell(*ma.start) == cell(*mb.end) and cell(*ma.end) == cell(*mb.start)
                and cell(*ma.start) != cell(*ma.end))
