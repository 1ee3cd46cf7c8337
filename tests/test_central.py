"""The central resolution (pure logic): the coordinator's plans, the planners' rankings led by
them, the shield realising a followed plan, and the fleet going on without the coordinator."""
from typing import Dict, List, Optional, Sequence

import numpy as np
import pytest

from marlgpt_planner.actions import DELTAS, WAIT, between
from marlgpt_planner.central import Plan, Plans
from marlgpt_planner.coordinator import Coordinator
from marlgpt_planner.expert import PibtExpert
from marlgpt_planner.grid import DistanceFields, grid_digest
from marlgpt_planner.lockstep import ARRIVED, PROPOSING, LockStep, Report
from marlgpt_planner.shield import shield
from marlgpt_planner.step_rule import CENTRAL, StepRule


def test_a_plan_leads_the_ranking_and_a_missing_or_foreign_plan_leaves_it() -> None:
    plans = Plans(timeout=1.0)
    plans.receive(Plan(3, {"a": (2, 3), "b": (5, 5), "c": (0, 0)}, "grid1"))
    assert plans.lead(3, "a", (2, 2), [3, 0, 4], "grid1") == ([4, 3, 0], True)
    assert plans.lead(3, "b", (5, 5), [1, 2], "grid1") == ([WAIT, 1, 2], True)
    assert plans.lead(4, "a", (2, 2), [3, 0], "grid1") == ([3, 0], False)  # no plan for 4
    assert plans.lead(3, "d", (1, 1), [3, 0], "grid1") == ([3, 0], False)  # not in the plan
    assert plans.lead(3, "a", (2, 2), [3, 0], "grid2") == ([3, 0], False)  # another grid
    assert plans.lead(3, "c", (4, 4), [3, 0], "grid1") == ([3, 0], False)  # not a move
    assert (plans.followed, plans.missed) == (2, 4)


def test_proposals_wait_for_the_plan_until_it_is_late_and_not_for_a_silent_coordinator(
        ) -> None:
    plans = Plans(timeout=1.0, patience=3)
    # No plan heard yet: every step waits (the coordinator may start after the robots).
    assert plans.waiting(1, started=10.0, now=10.5) and not plans.waiting(1, 10.0, 11.0)
    assert plans.waiting(2, 20.0, 20.9)
    plans.receive(Plan(2, {"a": (0, 0)}))
    assert not plans.waiting(2, 20.0, 20.1)  # it is in
    assert plans.waiting(3, 30.0, 30.5) and plans.waiting(5, 50.0, 50.5)
    assert not plans.waiting(6, 60.0, 60.1)  # 4 steps without a plan: the coordinator is gone
    plans.receive(Plan(7, {"a": (0, 0)}))  # it is back
    assert plans.waiting(8, 80.0, 80.5)
    for step in range(8, 20):
        plans.receive(Plan(step, {}))
    assert plans.get(8) is None and plans.get(19) is not None  # only the newest are kept
    with pytest.raises(ValueError):
        Plans(timeout=-1.0)


def lifelong_expert_steps(obstacles: np.ndarray, agents: int, steps: int, seed: int):
    """(positions, next cells) of an expert's lifelong episode with random new goals."""
    rng = np.random.default_rng(seed)
    free = np.argwhere(~obstacles)
    positions = free[rng.choice(len(free), agents, replace=False)]
    goals = free[rng.choice(len(free), agents)]
    expert = PibtExpert(obstacles, seed=seed, iterations=20)
    for _ in range(steps):
        after = expert.next_cells(positions, goals)
        yield positions, after
        positions = after
        reached = (positions == goals).all(axis=1)
        goals[reached] = free[rng.choice(len(free), int(reached.sum()))]


def test_the_shield_realises_any_plan_that_every_robot_follows() -> None:
    """A plan has no shared cell and no swap, so PIBT over rankings led by it gives every
    robot its first choice, whatever the priorities (rotations and following included)."""
    rng = np.random.default_rng(1)
    obstacles = rng.random((16, 16)) < 0.2
    checked = 0
    for positions, plan in lifelong_expert_steps(obstacles, agents=64, steps=25, seed=1):
        actions = [between(tuple(p), tuple(q)) for p, q in zip(positions, plan)]
        rankings = [[a] + [b for b in rng.permutation(5).tolist() if b != a] for a in actions]
        ages = rng.integers(0, 30, len(positions)).tolist()
        assert shield(positions, rankings, ages).tolist() == plan.tolist()
        checked += int((plan != positions).any(axis=1).sum())
    assert checked > 200  # the plans moved robots (not a fleet of waits)


IDS = [f"r{i}" for i in range(6)]


class Fleet:
    """Six robots on a small map, run by the planners' lock-step logic (one view stands for
    every planner's: they compute the same) and a coordinator, with lifelong goals."""

    def __init__(self, rule: StepRule, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.obstacles = rng.random((8, 8)) < 0.15
        self.free = np.argwhere(~self.obstacles)
        self.rng = rng
        cells = self.free[rng.choice(len(self.free), len(IDS), replace=False)]
        self.cells = {r: tuple(int(v) for v in c) for r, c in zip(IDS, cells)}
        self.goals = {r: self._goal() for r in IDS}
        self.digest = grid_digest(self.obstacles)
        self.fields = DistanceFields(self.obstacles, pad=5)
        self.planners = LockStep(IDS, rule=rule)
        self.coordinator = Coordinator(IDS, seed=seed, iterations=20)
        self.coordinator.set_map(self.obstacles, self.digest)
        self.report_ends(step=0)

    def _goal(self):
        return tuple(int(v) for v in self.free[self.rng.integers(len(self.free))])

    def report_ends(self, step: int, skip: Sequence[str] = ()) -> None:
        for robot in IDS:
            if robot in skip or robot in self.planners.lost:
                continue
            report = Report(robot, step, ARRIVED, self.cells[robot], self.cells[robot],
                            self.goals[robot])
            self.planners.receive(report, 0.0)
            self.coordinator.receive(report, 0.0)

    def step(self, plans: Plans, follow: Optional[Dict[str, bool]] = None,
             coordinator_up: bool = True) -> List[tuple]:
        """One step: the coordinator plans (if up), each robot proposes a ranking (its
        path-to-goal order) led by the plan where ``follow`` says so; returns the outcome's
        cells."""
        if coordinator_up:
            for plan in self.coordinator.poll(0.0):
                plans.receive(plan)
        self.planners.start()
        step = self.planners.step
        for robot in self.planners.live:
            cell = self.cells[robot]
            own = sorted(range(5), key=lambda a: self._left(cell, a, self.goals[robot]))
            ranking, planned = own, False
            if (follow or {}).get(robot, True):
                ranking, planned = plans.lead(step, robot, cell, own, self.digest)
            target = tuple(int(v) for v in np.add(cell, DELTAS[ranking[0]]))
            report = Report(robot, step, PROPOSING, cell, target, self.goals[robot],
                            ranking=tuple(ranking), map_digest=self.digest,
                            step_rule=self.planners.rule.agreement(), planned=planned)
            self.planners.receive(report, 0.0)
            self.coordinator.receive(report, 0.0)
        outcome = self.planners.resolve(self.fields, self.digest)
        for robot, cell in zip(outcome.robot_ids, outcome.to_cells):
            self.cells[robot] = cell
            if cell == self.goals[robot]:
                self.goals[robot] = self._goal()
        self.report_ends(step)
        return outcome.to_cells

    def _left(self, cell, action: int, goal) -> float:
        r, c = np.add(cell, DELTAS[action])
        if not (0 <= r < 8 and 0 <= c < 8) or self.obstacles[r, c]:
            return 1e9
        return float(self.fields.field(goal)[r, c])


def test_a_fleet_that_follows_the_coordinator_moves_as_the_expert_and_never_searches() -> None:
    fleet = Fleet(StepRule(CENTRAL, search=16))
    plans = Plans()
    expert = PibtExpert(fleet.obstacles, seed=0, iterations=20)
    for _ in range(30):
        positions = np.array([fleet.cells[r] for r in IDS])
        goals = np.array([fleet.goals[r] for r in IDS])
        expected = expert.next_cells(positions, goals)
        assert fleet.step(plans) == [tuple(c) for c in expected.tolist()]
    assert fleet.planners.searched_steps == 0  # the search never overrides a followed plan
    assert plans.followed == 30 * len(IDS) and plans.missed == 0
    assert len(fleet.coordinator.plan_ms) == 30


def test_without_the_coordinator_the_fleet_settles_by_the_rankings_and_searches() -> None:
    fleet = Fleet(StepRule(CENTRAL, search=16))
    plans = Plans()
    fleet.step(plans)
    for _ in range(5):  # the coordinator is gone: no plans, the planners' own search runs
        cells = fleet.step(plans, coordinator_up=False)
        assert len(set(cells)) == len(cells)
    assert fleet.planners.searched_steps == 5
    # A step in which some robots follow a plan and others do not: no search, no collision.
    mixed = Fleet(StepRule(CENTRAL, search=16), seed=3)
    cells = mixed.step(Plans(), follow={"r0": False, "r3": False})
    assert len(set(cells)) == len(cells) and mixed.planners.searched_steps == 0


def test_a_lost_robots_cell_is_closed_in_the_coordinators_plans() -> None:
    fleet = Fleet(StepRule(CENTRAL))
    plans = Plans()
    fleet.step(plans)
    fleet.planners.mark_lost("r2")
    fleet.coordinator.mark_lost(["r2"])
    lost_cell = fleet.cells["r2"]
    fleet.goals["r0"] = lost_cell  # a goal nobody can reach now: r0 must not be sent there
    for step in range(2, 30):
        fleet.step(plans)
        plan = plans.get(step)
        assert "r2" not in plan.cells and lost_cell not in plan.cells.values()
    assert plans.missed == 0
