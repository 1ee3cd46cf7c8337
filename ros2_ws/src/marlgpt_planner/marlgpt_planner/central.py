"""The central resolution's planner side, as pure logic: the coordinator's plans -> rankings.

Under ``fleet_protocol.resolution: central`` a fleet computer plans each fleet step for every
robot at once (:mod:`marlgpt_planner.coordinator`) and publishes the plan. A planner keeps the
plans it hears in :class:`Plans` and, when its robots' step starts, waits a little for the
step's plan (:meth:`Plans.waiting`): then each robot proposes its model's ranking with its
planned move put first (:meth:`Plans.lead`), marked as planned. The proposals are settled as
the shield settles them, which realises a followed plan exactly (the plan has no shared cell
and no swap, so every robot gets its first choice), and settles any mix of planned and
unplanned proposals without a collision: a robot that missed the plan ranks by its model,
and a fleet whose coordinator has stopped answering goes on by the models alone, after
waiting ``timeout`` on each of ``patience`` steps. Python >= 3.8, numpy-free.
"""
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

from marlgpt_planner.actions import between

Cell = Tuple[int, int]


class Plan(NamedTuple):
    """One step's plan: the cell each robot moves to (or stays in), on the grid of
    ``map_digest``."""

    step: int
    cells: Dict[str, Cell]
    map_digest: str = ""


class Plans:
    """The coordinator's plans as one planner hears them (see the module doc).

    Args:
        timeout: seconds a step's proposals wait for its plan.
        patience: steps without a plan after which the coordinator counts as gone: the
            planner then proposes at once, until a plan comes again. Before the first plan
            ever heard, every step waits (the coordinator may start after the robots).
        keep: plans kept, newest steps (a plan can arrive before the planner's step starts).
    """

    def __init__(self, timeout: float = 1.0, patience: int = 3, keep: int = 4) -> None:
        if timeout < 0 or patience < 1 or keep < 1:
            raise ValueError(f"timeout >= 0, patience >= 1 and keep >= 1, got {timeout}, "
                             f"{patience}, {keep}")
        self.timeout, self.patience, self.keep = timeout, patience, keep
        self._plans: Dict[int, Plan] = {}
        self.latest = 0  # the newest step a plan was heard for (0: none yet)
        #: Proposals made with and without a plan (for the planner's statistics).
        self.followed = 0
        self.missed = 0

    def receive(self, plan: Plan) -> None:
        """Keep a plan (a repeat or an old step's is harmless)."""
        self._plans[plan.step] = plan
        self.latest = max(self.latest, plan.step)
        for step in sorted(self._plans)[:-self.keep]:
            del self._plans[step]

    def get(self, step: int) -> Optional[Plan]:
        return self._plans.get(step)

    def waiting(self, step: int, started: float, now: float) -> bool:
        """Whether step ``step``'s proposals (ready at ``started``) should still wait for its
        plan at ``now``."""
        if step in self._plans or now - started >= self.timeout:
            return False
        return self.latest == 0 or self.latest >= step - self.patience

    def lead(self, step: int, robot: str, cell: Cell, ranking: Sequence[int],
             map_digest: str) -> Tuple[List[int], bool]:
        """``robot``'s ranking for ``step``, standing on ``cell``: its planned move first
        (True), or ``ranking`` as it is (False) when there is no plan for it, the plan was
        made on another grid, or its planned cell is no wait or move from ``cell``."""
        ranking = [int(a) for a in ranking]
        plan = self._plans.get(step)
        target = None if plan is None else plan.cells.get(robot)
        if target is None or (plan.map_digest and map_digest and plan.map_digest != map_digest) \
                or abs(target[0] - cell[0]) + abs(target[1] - cell[1]) > 1:
            self.missed += 1
            return ranking, False
        action = between(cell, target)
        self.followed += 1
        return [action] + [a for a in ranking if a != action], True
