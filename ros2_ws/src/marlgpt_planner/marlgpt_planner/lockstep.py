"""The fleet's lock-step protocol as pure logic: one planner's view of the whole fleet.

Every planner keeps a :class:`LockStep` fed with every ``RobotState`` it hears (its own robots'
included) and asks it what may happen next. Step ``s`` (from 1) runs:

1. **start**: every live robot has reported ``ARRIVED`` or ``TIMED_OUT`` for step ``s - 1``
   (step 0: the robot is ready), with its cell and its goal for step ``s``. From these every
   planner knows the same positions, goals and move history.
2. **propose**: each planner runs the policy for its own robots and reports ``PROPOSING``
   with the intended cell.
3. **resolve**: once every live robot's proposal for ``s`` is in, every planner applies
   the fleet's resolution to the same inputs in the same order (the fleet description's) and
   gets the same outcome, with no leader: the fleet's step rule
   (:class:`~marlgpt_planner.step_rule.StepRule`: POGEMA's soft rule on the intended cells,
   or the collision shield over every robot's ranking of its actions, with or without the
   rollout search).
4. **move**: each planner sends its robots to their resolved cells and reports ``ARRIVED``
   (or ``TIMED_OUT`` with the cell it ended in), which is step ``s + 1``'s start.

Under the central resolution (:mod:`marlgpt_planner.central`) a fleet computer plans step
``s`` from the same start reports and each planner's proposal leads with its robot's planned
move; step 3 is the shield's, which settles a followed plan exactly as planned.

Under the sequential resolution (:mod:`marlgpt_planner.sequential`) step 2 runs in turns:
a robot proposes when its turn comes, its ranking made knowing the cells claimed by the
robots served before it. Every planner replays the step from the proposals it has
(:meth:`LockStep.turn`): the replay stops at the first robots whose proposals are missing, and
names them with the claims they must see; those robots' planners decide and report
``PROPOSING``, and the replay goes on. Robots whose decisions cannot touch each other are
asked in the same turn. No planner computes another's decision: each robot's own planner
does, so planners whose models differ in the last bits (TensorRT engines built on different
robots) still settle every step alike.

A robot not heard from for ``lost_after`` seconds while the fleet waits on it is lost: it is
dropped from the fleet and its last cell (and the cell it was last sent to) become obstacles,
entered by nobody, for every later step. Pure Python + numpy, Python >= 3.8.
"""
from typing import Dict, Iterable, List, NamedTuple, Optional, Sequence, Set, Tuple

import numpy as np

from marlgpt_planner.actions import WAIT, between, moves
from marlgpt_planner.encoder import GridState
from marlgpt_planner.grid import DistanceFields
from marlgpt_planner.rankings import clean_ranking
from marlgpt_planner.sequential import sequential_step
from marlgpt_planner.shield import GoalAges
from marlgpt_planner.step_rule import SOFT_RULE, StepRule

Cell = Tuple[int, int]

# RobotState status values (marlgpt_msgs/RobotState; kept here so this module needs no ROS).
UNKNOWN, PROPOSING, MOVING, ARRIVED, TIMED_OUT, HOLDING = range(6)
#: Moves remembered per robot (the encoder reads the most recent ones).
HISTORY = 8


class Report(NamedTuple):
    """The parts of a RobotState the protocol reads."""

    robot_id: str
    step: int
    status: int
    current: Cell
    intended: Cell
    goal: Cell
    goals_reached: int = 0
    ranking: Tuple[int, ...] = ()
    map_digest: str = ""
    step_rule: str = ""
    planned: bool = False  # the ranking leads with the fleet coordinator's plan


class Turn(NamedTuple):
    """The robots whose proposals the sequential step needs next, and what they must know:
    rows of :meth:`LockStep.grid_state` (fleet order), every live robot's claimed next cell
    (N, 2) and which claims each of them sees (R, N)."""

    robot_ids: List[str]
    rows: List[int]
    next_cells: np.ndarray
    known: np.ndarray


class _Pending(Exception):
    def __init__(self, turn: Turn) -> None:
        super().__init__()
        self.turn = turn


class Outcome(NamedTuple):
    """A resolved step: per live robot, in fleet order."""

    step: int
    robot_ids: List[str]
    from_cells: List[Cell]
    to_cells: List[Cell]
    moved: List[bool]
    lost: List[str]


class LockStep:
    """One planner's view of the fleet (see the module doc).

    Args:
        robot_ids: every robot of the fleet, in the fleet description's order (the soft
            rule's agent numbering).
        lost_after: seconds of silence after which a robot the fleet waits on is lost.
        startup_timeout: the same before the first step (planners start at their own pace).
        rule: how a step's proposals are settled (see the module doc); every planner of a
            fleet must use the same resolution, rotations and search (a search runs only on
            steps whose proposals all name this planner's :meth:`StepRule.agreement`).
    """

    def __init__(self, robot_ids: Sequence[str], lost_after: float = 5.0,
                 startup_timeout: float = 60.0, rule: StepRule = SOFT_RULE) -> None:
        if len(set(robot_ids)) != len(robot_ids) or not robot_ids:
            raise ValueError(f"robot ids must be unique and non-empty, got {list(robot_ids)}")
        self.rule = rule
        #: Robots whose last proposal named another resolution (or rotations) than this
        #: planner's: while any does, the fleet's planners could settle one step differently,
        #: so nobody moves.
        self.disagreeing: List[str] = []
        #: Steps the rollout search chose (the rest were plain shielded or soft steps).
        self.searched_steps = 0
        #: The policy's field of view, which bounds what the sequential resolution's claim
        #: tokens read (the planner sets it from its model); it groups robots into turns and
        #: never changes a decision.
        self.radius = 5
        #: Turns (rounds of proposals) per resolved step, under the sequential resolution.
        self.turns: List[int] = []
        self._turn: Optional[Tuple[tuple, Optional[Turn]]] = None  # (key, the turn)
        self.ages = GoalAges()
        self.age: Dict[str, int] = {}
        self.order = list(robot_ids)
        self.lost_after = lost_after
        self.startup_timeout = startup_timeout
        self.step = 1
        self.live: List[str] = list(robot_ids)
        self.lost: List[str] = []
        self.lost_cells: Set[Cell] = set()
        self.history: Dict[str, List[int]] = {r: [0] * HISTORY for r in robot_ids}
        self.positions: Dict[str, Cell] = {}
        self.goals: Dict[str, Cell] = {}
        self.goals_reached: Dict[str, int] = {r: 0 for r in robot_ids}
        self.last_heard: Dict[str, float] = {}
        self.last_to: Dict[str, Cell] = {}
        self._reports: Dict[Tuple[str, int, str], Report] = {}
        self._started = 0  # last step whose start state has been taken

    # --- input -------------------------------------------------------------------------------
    def receive(self, report: Report, now: float) -> None:
        """Record a robot's report (duplicates and stale steps are harmless)."""
        if report.robot_id not in self.history:
            return
        self.last_heard[report.robot_id] = now
        if report.step + 1 < self.step:
            return
        robot, step = report.robot_id, report.step
        if report.status in (ARRIVED, TIMED_OUT):
            self._reports[robot, step, "end"] = report
        elif report.status in (PROPOSING, MOVING):
            # A proposal for s means the robot ended s - 1 where it stands, with that goal;
            # a move in s was its proposal (its intended cell is where it was sent).
            self._reports.setdefault((robot, step, "proposal"), report)
            if step >= 1:
                self._reports.setdefault((robot, step - 1, "end"), report._replace(
                    step=step - 1, status=ARRIVED, intended=report.current))

    def heard(self, robot_id: str, now: float) -> None:
        """Any sign of life from a robot (e.g. a heartbeat with another status)."""
        if robot_id in self.history:
            self.last_heard[robot_id] = now

    # --- step start ---------------------------------------------------------------------------
    def waiting_for_start(self) -> List[str]:
        return [r for r in self.live if (r, self.step - 1, "end") not in self._reports]

    def can_start(self) -> bool:
        return self._started < self.step and not self.waiting_for_start()

    def start(self) -> Dict[str, Tuple[Cell, Cell]]:
        """Take step ``self.step``'s start state; returns robot -> (cell, goal)."""
        if not self.can_start():
            raise RuntimeError(f"step {self.step} cannot start yet: waiting for "
                               f"{self.waiting_for_start()}")
        for robot in self.live:
            report = self._reports[robot, self.step - 1, "end"]
            cell = tuple(report.current)
            before = self.positions.get(robot)
            if before is not None:
                adjacent = abs(before[0] - cell[0]) + abs(before[1] - cell[1]) <= 1
                move = int(moves(np.array([before]), np.array([cell]))[0]) if adjacent else 0
                self.history[robot] = [move] + self.history[robot][:-1]
            self.positions[robot] = cell
            self.goals[robot] = tuple(report.goal)
            self.goals_reached[robot] = report.goals_reached
        self._started = self.step
        self.age = dict(zip(self.live, self.ages.update(self.live, [self.goals[r]
                                                                    for r in self.live])))
        return {r: (self.positions[r], self.goals[r]) for r in self.live}

    def grid_state(self) -> GridState:
        """Positions, goals, history and goal ages of the live robots in fleet order."""
        positions = np.array([self.positions[r] for r in self.live], dtype=np.int64)
        goals = np.array([self.goals[r] for r in self.live], dtype=np.int64)
        history = np.array([self.history[r] for r in self.live], dtype=np.int64)
        ages = np.array([self.age.get(r, 0) for r in self.live], dtype=np.int64)
        return GridState(positions.reshape(-1, 2), goals.reshape(-1, 2),
                         history.reshape(-1, HISTORY), ages)

    # --- turns (the sequential resolution) ------------------------------------------------------
    def turn(self) -> Optional[Turn]:
        """The robots whose proposals the sequential step needs next (None: none, or the rule
        does not ask in turn, or the step has not started). Robots already proposing are
        never named again in the same step."""
        if not self.rule.in_turn or self._started != self.step:
            return None
        have = sum((r, self.step, "proposal") in self._reports for r in self.live)
        key = (self.step, have, tuple(self.live))
        if self._turn is not None and self._turn[0] == key:
            return self._turn[1]
        ids = list(self.live)
        n = len(ids)
        positions, ages, blockers = self._step_cells(ids)

        def decide(rows, next_cells, known):
            missing = [k for k, row in enumerate(rows)
                       if row < n and (ids[row], self.step, "proposal") not in self._reports]
            if missing:
                raise _Pending(Turn([ids[rows[k]] for k in missing],
                                    [rows[k] for k in missing], next_cells[:n].copy(),
                                    np.asarray(known)[missing][:, :n].copy()))
            return self._rankings(ids, rows)

        try:
            sequential_step(positions, ages, decide, self.radius)
            pending = None
        except _Pending as stop:
            pending = stop.turn
        self._turn = (key, pending)
        return pending

    def _step_cells(self, ids: Sequence[str]) -> Tuple[np.ndarray, List[float], List[Cell]]:
        """Start cells of ``ids`` and then of the lost robots' cells (agents that always
        wait, served last), and their priorities."""
        start = [self.positions[r] for r in ids]
        blockers = sorted(self.lost_cells - set(start))
        positions = np.array(start + blockers, dtype=np.int64).reshape(-1, 2)
        ages = [float(self.age.get(r, 0)) for r in ids] + [-1.0] * len(blockers)
        return positions, ages, blockers

    def _rankings(self, ids: Sequence[str], rows: Iterable[int]) -> List[List[int]]:
        """The proposed rankings of ``rows`` (past the live robots: lost cells, which wait).
        A robot that sent no ranking (e.g. under the soft rule) ranks its intended move, then
        waiting; an intended cell that is no wait or 4-neighbour move is a wait."""
        out = []
        for row in rows:
            if row >= len(ids):
                out.append([WAIT])
                continue
            proposal = self._reports[ids[row], self.step, "proposal"]
            cell = self.positions[ids[row]]
            target = tuple(proposal.intended)
            if abs(target[0] - cell[0]) + abs(target[1] - cell[1]) > 1:
                target = cell
            ranking = clean_ranking(proposal.ranking) if self.rule.ranks else []
            out.append(ranking or [between(cell, target), WAIT])
        return out

    def proposed(self, robot: str) -> bool:
        """Whether ``robot``'s proposal for the current step is in."""
        return (robot, self.step, "proposal") in self._reports

    # --- resolution ---------------------------------------------------------------------------
    def waiting_for_proposals(self) -> List[str]:
        return [r for r in self.live if (r, self.step, "proposal") not in self._reports]

    def can_resolve(self) -> bool:
        return self._started == self.step and not self.waiting_for_proposals()

    def resolve(self, fields: Optional[DistanceFields] = None, map_digest: str = "") -> Outcome:
        """Settle step ``self.step``'s proposals by the step rule and advance to the next
        step. A searching rule searches over ``fields`` (this planner's grid, lost robots'
        cells closed) when every proposal names ``map_digest``, the digest of that grid's
        map, and this rule's agreement: planners on different maps or with other settings
        could search their way to different steps, so then the plain step is taken."""
        if not self.can_resolve():
            raise RuntimeError(f"step {self.step} cannot resolve yet: waiting for "
                               f"{self.waiting_for_proposals()}")
        ids = list(self.live)
        n = len(ids)
        start = [self.positions[r] for r in ids]
        proposals = [self._reports[robot, self.step, "proposal"] for robot in ids]
        # Lost robots' cells act as agents that always wait (served last): nobody enters them.
        positions, ages, blockers = self._step_cells(ids)
        turns: List[int] = []

        def replay(rows, next_cells, known):  # the sequential resolution: proposals in turn
            turns.append(len(rows))
            return self._rankings(ids, rows)

        in_turn = self.rule.in_turn
        rankings = None if in_turn else self._rankings(ids, range(len(positions)))
        decide = replay if in_turn else None
        if self._can_search(fields, map_digest, proposals, blockers):
            goals = np.array([self.goals[r] for r in ids], dtype=np.int64).reshape(-1, 2)
            closed = fields.obstacles[goals[:, 0], goals[:, 1]]  # as the encoder does
            goals[closed] = positions[:n][closed]
            live = self.rule.settle(positions[:n], None if rankings is None else rankings[:n],
                                    ages[:n], goals, fields, seed=self.step, decide=decide,
                                    radius=self.radius)
            after = np.concatenate([live, positions[n:]])
            self.searched_steps += 1
        else:
            after = self.rule.settle(positions, rankings, ages, seed=self.step, decide=decide,
                                     radius=self.radius)
        if in_turn:
            self.turns.append(len(turns))
        self.disagreeing = [r for r, p in zip(ids, proposals)
                            if self.rule.settles_unlike(p.step_rule)]
        if self.disagreeing:  # every planner sees the same proposals: all hold alike
            after = positions
        moved = (after != positions).any(axis=1)
        to_cells = [tuple(int(v) for v in cell) for cell in after[:len(ids)]]
        outcome = Outcome(self.step, ids, start, to_cells, [bool(m) for m in moved[:len(ids)]],
                          list(self.lost))
        self.last_to.update(zip(ids, to_cells))
        self._forget(self.step - 1)
        self.step += 1
        return outcome

    def _can_search(self, fields: Optional[DistanceFields], map_digest: str,
                    proposals: Sequence[Report], blockers: Sequence[Cell]) -> bool:
        """Search only on a grid every proposal agrees on, in which lost robots' cells are
        closed (so no searched step can enter one), and on no step a robot follows the fleet
        coordinator's plan in (the search could choose another step than the plan)."""
        if not self.rule.searches or fields is None or not map_digest:
            return False
        if any(p.planned for p in proposals):
            return False
        agreement = self.rule.agreement()
        if any(p.map_digest != map_digest or p.step_rule != agreement for p in proposals):
            return False
        rows, cols = fields.shape
        return all(0 <= r < rows and 0 <= c < cols and fields.obstacles[r, c]
                   for r, c in blockers)

    def end_cell(self, robot: str, step: int) -> Optional[Cell]:
        """Where ``robot`` reported ending ``step`` (None while it has not)."""
        report = self._reports.get((robot, step, "end"))
        return None if report is None else tuple(report.current)

    # --- failures -----------------------------------------------------------------------------
    def check_lost(self, now: float) -> List[str]:
        """Drop robots the fleet waits on that have been silent for ``lost_after`` seconds."""
        waiting = (self.waiting_for_start() if self._started < self.step
                   else self.waiting_for_proposals())
        limit = self.startup_timeout if self.step == 1 and self._started == 0 else self.lost_after
        newly = [r for r in waiting if now - self.last_heard.get(r, now) > limit]
        for robot in newly:
            self.mark_lost(robot)
        return newly

    def mark_lost(self, robot: str) -> None:
        if robot not in self.live:
            return
        self.live.remove(robot)
        self.lost.append(robot)
        for cell in (self.positions.get(robot), self.last_to.get(robot)):
            if cell is not None:
                self.lost_cells.add(cell)

    def start_waiting(self, robots: Sequence[str], now: float) -> None:
        """Begin the silence clock of robots never heard from (at start-up)."""
        for robot in robots:
            self.last_heard.setdefault(robot, now)

    def _forget(self, step: int) -> None:
        for key in [k for k in self._reports if k[1] < step]:
            del self._reports[key]

    def lost_obstacles(self) -> Optional[List[Cell]]:
        return sorted(self.lost_cells) if self.lost_cells else None


def followed(outcome: Outcome, robot: str) -> Optional[str]:
    """The robot whose cell ``robot`` moves into while that one leaves it in the same step
    (POGEMA allows following), unless the chain of such robots closes into a rotation.
    A follower waits for that robot to arrive before it starts, so they never meet."""
    index = {r: i for i, r in enumerate(outcome.robot_ids)}
    leaving = {outcome.from_cells[i]: r for i, r in enumerate(outcome.robot_ids)
               if outcome.moved[i] and outcome.from_cells[i] != outcome.to_cells[i]}
    me = index[robot]
    leader = leaving.get(outcome.to_cells[me]) if outcome.moved[me] else None
    current, seen = leader, {robot}
    while current is not None and current not in seen:
        seen.add(current)
        current = leaving.get(outcome.to_cells[index[current]])
    return None if current == robot else leader
