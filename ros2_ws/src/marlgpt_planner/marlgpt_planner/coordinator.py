"""The fleet coordinator as pure logic: the fleet's reports -> the expert's plan of each step.

A fleet with a computer for it runs one coordinator (``ros2 run marlgpt_planner
coordinator``, :mod:`marlgpt_planner.ros.coordinator`) beside the robots' planners under
``fleet_protocol.resolution: central``. It is no member of the fleet: it listens to every
robot's states with its own :class:`~marlgpt_planner.lockstep.LockStep`, so it knows each
step's start (cells, goals, goal ages, lost robots) exactly as the planners do, and as soon as
a step can start it plans every live robot's move with the expert
(:class:`~marlgpt_planner.expert.PibtExpert`: PIBT, rollout search and windowed LNS, the
training data's teacher) and publishes the plan. The planners put the plan first in their
rankings (:mod:`marlgpt_planner.central`); nothing waits on the coordinator for longer than
the planners' ``fleet_protocol.plan_timeout``, so a coordinator that stops answering costs the
fleet a few seconds, then the robots go on by their models.

The expert is built on the grid with lost robots' cells closed (and the live robots' cells
open: a noisy map may mark a robot), and rebuilt when that grid changes, taking over the
priorities the fleet's goal ages give (:meth:`PibtExpert.resume`). Python >= 3.8, numpy.
"""
import time
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from marlgpt_planner.central import Plan
from marlgpt_planner.expert import PibtExpert
from marlgpt_planner.lockstep import LockStep, Report
from marlgpt_planner.step_rule import CENTRAL, StepRule

Cell = Tuple[int, int]


class Coordinator:
    """Plans the fleet's steps (see the module doc).

    Args:
        fleet: every robot of the fleet, in the fleet description's order.
        lost_after, startup_timeout: as the planners' (``fleet_protocol.*``): the coordinator
            drops silent robots when they do.
        expert: :class:`PibtExpert` keyword settings (seed, candidates, horizon, window,
            iterations, group).
    """

    def __init__(self, fleet: Sequence[str], lost_after: float = 5.0,
                 startup_timeout: float = 60.0, **expert: float) -> None:
        self.fleet = LockStep(fleet, lost_after, startup_timeout, StepRule(CENTRAL))
        self.settings = dict(expert)
        self.obstacles: Optional[np.ndarray] = None
        self.map_digest = ""
        self._expert: Optional[PibtExpert] = None
        self._grid: Optional[np.ndarray] = None
        self._agents: Tuple[str, ...] = ()
        #: Milliseconds the expert took per planned step.
        self.plan_ms: List[float] = []

    # --- inputs ---------------------------------------------------------------------------------
    def set_map(self, obstacles: np.ndarray, map_digest: str) -> None:
        """The fleet's coarse grid (the planners' ``map_digest`` of it)."""
        self.obstacles = np.asarray(obstacles, dtype=bool)
        self.map_digest = map_digest

    def receive(self, report: Report, now: float) -> None:
        self.fleet.receive(report, now)

    def mark_lost(self, robots: Iterable[str]) -> None:
        """Robots a planner reported lost (the fleet's step topic). A planner reports a loss
        after settling the step it has proposals for, so that step is settled here first
        (the lost robot's cell and the cell it was sent to are closed, as the planners do)."""
        robots = [r for r in robots if r in self.fleet.live]
        if robots and self.fleet.can_resolve():
            self.fleet.resolve()
        for robot in robots:
            self.fleet.mark_lost(robot)

    # --- planning -------------------------------------------------------------------------------
    def poll(self, now: float) -> List[Plan]:
        """The plans of every step that can start now (normally none or one); steps whose
        proposals are all in are settled, so the next step's start is recognised."""
        self.fleet.check_lost(now)
        plans = []
        while True:
            if self.fleet.can_start() and self.obstacles is not None:
                self.fleet.start()
                plans.append(self.plan())
            elif self.fleet.can_resolve():
                self.fleet.resolve()  # only to advance: the planners move the robots
            else:
                return plans

    def plan(self) -> Plan:
        """The expert's plan of the step the fleet has started."""
        ids = tuple(self.fleet.live)
        positions = np.array([self.fleet.positions[r] for r in ids], dtype=np.int64)
        goals = np.array([self.fleet.goals[r] for r in ids], dtype=np.int64).reshape(-1, 2)
        grid = self.obstacles.copy()
        for cell in self.fleet.lost_cells:
            if 0 <= cell[0] < grid.shape[0] and 0 <= cell[1] < grid.shape[1]:
                grid[cell] = True
        positions = positions.reshape(-1, 2)
        inside = ((positions >= 0) & (positions < grid.shape)).all(axis=1)
        grid[positions[inside, 0], positions[inside, 1]] = False
        on_map = ((goals >= 0) & (goals < grid.shape)).all(axis=1)
        closed = ~on_map
        closed[on_map] = grid[goals[on_map, 0], goals[on_map, 1]]
        goals[closed] = positions[closed]  # a goal the grid cannot hold: stay (as the search)
        if self._expert is None or ids != self._agents or not np.array_equal(grid, self._grid):
            self._expert = PibtExpert(grid, **self.settings)
            self._grid, self._agents = grid, ids
            if self.fleet.step > 1:  # an episode under way: take over its priorities
                self._expert.resume(goals, [self.fleet.age.get(r, 0) for r in ids])
        started = time.perf_counter()
        cells = self._expert.next_cells(positions, goals)
        self.plan_ms.append((time.perf_counter() - started) * 1e3)
        return Plan(self.fleet.step, {r: (int(c[0]), int(c[1])) for r, c in zip(ids, cells)},
                    self.map_digest)

    def stats(self) -> Dict[str, object]:
        """What the coordinator has done, for its stats file."""
        return {"steps": self.fleet.step - 1, "planned_steps": len(self.plan_ms),
                "lost": list(self.fleet.lost), "plan_ms": self.plan_ms}
