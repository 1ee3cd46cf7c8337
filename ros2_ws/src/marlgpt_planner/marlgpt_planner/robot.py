"""One robot's side of the lock-step protocol, as pure logic: ready, propose, move, follow,
arrive, time out.

The planner node owns a :class:`Robot` per robot it drives and feeds it what happens (poses,
the fleet's start of a step, resolved steps, Nav2's answers, the clock). Each call returns
the effects for the node to carry out, in order: :class:`Publish` a ``RobotState``, send Nav2
a waypoint (:class:`Go`), :class:`Cancel` it, or :class:`Log` a line. Nothing here touches
ROS, so every rule of the protocol is unit-tested (tests/test_robot.py). Python >= 3.8.
"""
import math
from typing import Collection, List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np

from marlgpt_planner.actions import DELTAS, WAIT
from marlgpt_planner.goals import Goals
from marlgpt_planner.lattice import CellTracker, Lattice
from marlgpt_planner.lockstep import ARRIVED, HOLDING, MOVING, PROPOSING, TIMED_OUT

Cell = Tuple[int, int]


class Publish(NamedTuple):
    """Report a RobotState (the node fills in header, id, pose and goals reached)."""

    step: int
    status: int
    current: Cell
    intended: Cell
    goal: Cell
    action: int = 0
    ranking: Tuple[int, ...] = ()
    planned: bool = False  # the ranking leads with the fleet coordinator's plan


class Go(NamedTuple):
    """Send Nav2 the centre of ``dst``, facing the way from ``src``; when Nav2 answers, call
    :meth:`Robot.nav_done` with ``step``."""

    step: int
    src: Cell
    dst: Cell


class Cancel(NamedTuple):
    """Cancel the robot's Nav2 goal."""


class Log(NamedTuple):
    level: str  # "info", "warning" or "error"
    text: str


Effect = Union[Publish, Go, Cancel, Log]


class Robot:
    """The protocol state of one robot (see the module doc).

    ``pose_timeout`` is how old a pose may be before the robot holds (``math.inf`` for event
    sources such as AMCL's, which publish only when the robot moves). The map the goals are
    drawn and checked on is set with :meth:`set_map`. ``next_goal_wait``: seconds a robot
    with external goals that has just reached its goal waits for its next one before it
    reports the arrival (the report carries the goal the fleet's next step plans with);
    0 reports at once, and the robot stays put for a step until the next goal comes.
    """

    def __init__(self, robot_id: str, lattice: Lattice, goals: Goals, hysteresis: float = 0.2,
                 pose_timeout: float = 1.0, step_timeout: float = 20.0,
                 next_goal_wait: float = 0.0) -> None:
        self.id = robot_id
        self.lattice = lattice
        self.goals = goals
        self.tracker = CellTracker(lattice, hysteresis)
        self.pose_timeout = pose_timeout
        self.step_timeout = step_timeout
        self.next_goal_wait = next_goal_wait
        #: An arrival held for the next goal: (step, cell, deadline), or None.
        self.held_arrival: Optional[Tuple[int, Cell, float]] = None
        self.pose: Optional[Tuple[float, float, float]] = None  # x, y, yaw in the map frame
        self.pose_at = -math.inf  # monotonic time the pose was taken
        self.obstacles: Optional[np.ndarray] = None
        self.blocked: Tuple[Cell, ...] = ()  # lost robots' cells
        self.ready = False
        self.lost = False
        self.status = HOLDING
        self.message = "waiting for map and pose"
        self.goal: Optional[Cell] = None  # the goal last reported
        self.action = 0
        self.ranking: Tuple[int, ...] = ()
        self.planned = False
        #: The step being moved: (step, from cell, to cell, deadline), or None.
        self.moving: Optional[Tuple[int, Cell, Cell, float]] = None
        self.leader: Optional[str] = None  # the robot this one follows this step

    # --- inputs -------------------------------------------------------------------------------
    def pose_age(self, now: float) -> float:
        return now - self.pose_at

    def pose_fresh(self, now: float) -> bool:
        return self.pose is not None and self.pose_age(now) <= self.pose_timeout

    def set_pose(self, x: float, y: float, yaw: float, taken: float) -> List[Effect]:
        """A pose taken at monotonic time ``taken``; a non-finite one is ignored."""
        if not all(math.isfinite(v) for v in (x, y, yaw)):
            return [Log("warning", f"{self.id}: pose ignored: not finite ({x}, {y}, {yaw})")]
        self.pose, self.pose_at = (x, y, yaw), taken
        cell = self.tracker.update(x, y)
        if cell is not None and not self.lattice.contains(cell):
            return [Log("warning", f"{self.id}: pose ({x:.2f}, {y:.2f}) is outside the "
                                   "lattice")]
        return []

    def set_map(self, obstacles: np.ndarray, blocked: Collection[Cell] = ()) -> List[Effect]:
        """The coarse map (and lost robots' cells) changed: re-check the current goal."""
        self.obstacles = obstacles
        self.blocked = tuple(tuple(c) for c in blocked)
        cell = self.cell()
        if cell is None or not self.lattice.contains(cell):
            return []
        change = self.goals.revalidate(obstacles, cell, self.blocked)
        return [Log("warning", f"{self.id}: {change}")] if change else []

    def cell(self) -> Optional[Cell]:
        """Where the robot stands: the step's cell while it moves, else the pose's."""
        if self.moving is not None:
            return self.moving[1]
        return self.tracker.cell

    # --- step 0 -------------------------------------------------------------------------------
    def announce_ready(self, now: float) -> List[Effect]:
        """Ready once map, a pose inside the lattice and a goal are known."""
        if self.ready or self.lost:
            return []
        if self.obstacles is None:
            self.message = "waiting for the map"
            return []
        cell = self.tracker.cell
        if cell is None or not self.pose_fresh(now):
            self.message = "waiting for a pose"
            return []
        if not self.lattice.contains(cell):
            self.message = f"pose cell {cell} is outside the lattice"
            return []
        goal = self.goals.ensure(self.obstacles, cell, self.blocked)
        if goal is None:
            self.message = "waiting for a goal"
            return []
        self.ready = True
        self.status, self.message = ARRIVED, "ready"
        return [self._report(0, ARRIVED, cell, cell, goal)]

    # --- a step -------------------------------------------------------------------------------
    def propose(self, step: int, cell: Cell, goal: Cell, ranking: Sequence[int], now: float,
                ranks: bool, planned: bool = False) -> List[Effect]:
        """Propose the first action of ``ranking`` (all of it rides along under a step rule
        that ranks, :attr:`~marlgpt_planner.step_rule.StepRule.ranks`; ``planned``: it leads
        with the fleet coordinator's plan); with a stale or missing pose the robot proposes
        to wait."""
        effects: List[Effect] = []
        ranking = [int(a) for a in ranking] or [WAIT]
        if not self.pose_fresh(now):
            ranking, planned = [WAIT], False
            self.status = HOLDING
            self.message = f"pose is {min(self.pose_age(now), 1e9):.1f} s old: holding"
            effects.append(Log("warning", f"{self.id}: {self.message}"))
        action = ranking[0]
        intended = (cell[0] + int(DELTAS[action][0]), cell[1] + int(DELTAS[action][1]))
        effects.append(self._report(step, PROPOSING, cell, intended, goal, action,
                                    ranking if ranks else (), planned))
        return effects

    def execute(self, step: int, src: Cell, dst: Cell, leader: Optional[str],
                now: float) -> List[Effect]:
        """The fleet resolved ``step``: stay (arrive at once), go, or follow ``leader`` out of
        the cell it leaves (:meth:`follow` decides when)."""
        if self.lost:
            return []
        if src == dst:
            return self.arrived(step, dst, now)
        self.moving = (step, src, dst, now + self.step_timeout)
        self.status, self.message = MOVING, f"moving {src} -> {dst}"
        # The ranking rides along, so a planner that missed the proposal resolves the same.
        effects: List[Effect] = [self._report(step, MOVING, src, dst, self.goal or dst,
                                              self.action, self.ranking, self.planned)]
        self.leader = leader
        if leader is None:
            effects.append(Go(step, src, dst))
        else:
            self.message = f"moving {src} -> {dst} once {leader} has left it"
        return effects

    def follow(self, ended: Optional[Cell], now: float) -> List[Effect]:
        """The leader ended this step at ``ended`` (None: not yet known). Go once it has
        left the target cell; if it stayed there, stay too."""
        if self.moving is None or self.leader is None or ended is None:
            return []
        step, src, dst, _ = self.moving
        leader, self.leader = self.leader, None
        if ended == dst:
            return [Log("warning", f"{self.id}: {leader} did not leave {dst}: staying at "
                                   f"{src} this step")] + self.arrived(step, src, now)
        return [Go(step, src, dst)]

    def nav_done(self, step: int, ok: bool, why: str, now: float) -> List[Effect]:
        if self.moving is None or self.moving[0] != step:
            return []  # an answer for an older step
        if ok:
            return self.arrived(step, self.moving[2], now)
        return self.timed_out(why)

    def tick(self, now: float) -> List[Effect]:
        """The clock: a move that takes longer than ``step_timeout`` times out; an arrival
        held for the next goal is reported once the goal is in or the wait is over."""
        if self.moving is not None and now > self.moving[3]:
            return self.timed_out(f"not at {self.moving[2]} after {self.step_timeout:.0f} s")
        if self.held_arrival is not None and not self.lost and (
                not self.goals.waiting or now >= self.held_arrival[2]):
            step, cell, _ = self.held_arrival
            self.held_arrival = None
            return [self._report(step, ARRIVED, cell, cell, self.goals.current or cell)]
        return []

    def arrived(self, step: int, cell: Cell, now: float) -> List[Effect]:
        self.moving = None
        reached = self.goals.arrived(self.obstacles, cell, self.blocked)
        if self.pose_fresh(now):
            self.status, self.message = ARRIVED, f"at {cell}"
        if reached and self.goals.waiting and self.next_goal_wait > 0:
            self.held_arrival = (step, cell, now + self.next_goal_wait)
            self.message = f"at {cell}; waiting up to {self.next_goal_wait:g} s for the next goal"
            return []
        return [self._report(step, ARRIVED, cell, cell, self.goals.current or cell)]

    def timed_out(self, why: str) -> List[Effect]:
        step, src, dst, _ = self.moving
        self.moving = None
        self.leader = None
        cell = self.tracker.cell if self.tracker.cell in (src, dst) else src
        self.status, self.message = TIMED_OUT, f"step {step}: {why}; at {cell}"
        self.goals.arrived(self.obstacles, cell, self.blocked)
        return [Cancel(), Log("warning", f"{self.id}: {self.message}"),
                self._report(step, TIMED_OUT, cell, cell, self.goals.current or cell)]

    def hold(self, why: str) -> List[Effect]:
        """The fleet lost this robot, or the planner failed: stop and stay."""
        self.moving = None
        self.leader = None
        self.held_arrival = None
        self.status, self.message = HOLDING, why
        return [Cancel()]

    def _report(self, step: int, status: int, current: Cell, intended: Cell, goal: Cell,
                action: int = 0, ranking: Sequence[int] = (), planned: bool = False
                ) -> Publish:
        self.goal = (int(goal[0]), int(goal[1]))
        self.action, self.ranking = int(action), tuple(int(a) for a in ranking)
        self.planned = bool(planned)
        return Publish(step, status, (int(current[0]), int(current[1])),
                       (int(intended[0]), int(intended[1])), self.goal, self.action,
                       self.ranking, self.planned)
