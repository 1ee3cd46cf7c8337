"""The fleet's lock-step protocol (pure logic): start, resolve, failures, following."""
import numpy as np
import pytest

from marlgpt_planner.goals import Goals, random_goal
from marlgpt_planner.lockstep import (
    ARRIVED,
    MOVING,
    PROPOSING,
    TIMED_OUT,
    LockStep,
    Outcome,
    Report,
    followed,
)
from marlgpt_planner.soft_rule import resolve

IDS = ["a", "b", "c"]


def ready(fleet: LockStep, cells, goals, step=0, now=0.0, status=ARRIVED) -> None:
    for robot, cell, goal in zip(IDS, cells, goals):
        fleet.receive(Report(robot, step, status, cell, cell, goal), now)


def propose(fleet: LockStep, intended, now=0.0, skip=()) -> None:
    for robot, target in zip(IDS, intended):
        if robot not in skip:
            fleet.receive(Report(robot, fleet.step, PROPOSING, fleet.positions[robot], target,
                                 fleet.goals[robot]), now)


def test_a_step_starts_when_all_ended_and_resolves_with_the_soft_rule() -> None:
    fleet = LockStep(IDS)
    cells = [(0, 0), (0, 2), (2, 2)]
    ready(fleet, cells[:2], [(5, 5)] * 2)
    assert not fleet.can_start() and fleet.waiting_for_start() == ["c"]
    ready(fleet, cells, [(5, 5)] * 3)
    assert fleet.start() == {"a": ((0, 0), (5, 5)), "b": ((0, 2), (5, 5)),
                             "c": ((2, 2), (5, 5))}
    intended = [(0, 1), (0, 1), (1, 2)]  # a and b contest (0, 1): a, lower-numbered, wins
    propose(fleet, intended[:2])
    assert not fleet.can_resolve()
    propose(fleet, intended)
    outcome = fleet.resolve()
    expected, moved = resolve(np.array(cells), np.array(intended))
    assert outcome.to_cells == [tuple(c) for c in expected.tolist()]
    assert outcome.moved == moved.tolist() == [True, False, True]
    assert fleet.step == 2


def test_history_comes_from_the_reported_cells() -> None:
    fleet = LockStep(IDS)
    ready(fleet, [(1, 1), (3, 3), (5, 5)], [(9, 9)] * 3)
    fleet.start()
    propose(fleet, [(1, 2), (3, 3), (4, 5)])
    fleet.resolve()
    ready(fleet, [(1, 2), (3, 3), (4, 5)], [(9, 9)] * 3, step=1)
    fleet.start()
    history = fleet.grid_state().history
    assert history[:, 0].tolist() == [4, 0, 1]  # right, wait, up


def test_goal_ages_count_steps_since_each_goal_changed() -> None:
    fleet = LockStep(IDS)
    ready(fleet, [(1, 1), (3, 3), (5, 5)], [(9, 9)] * 3)
    fleet.start()
    assert fleet.grid_state().ages.tolist() == [0, 0, 0]
    for step in (1, 2):
        propose(fleet, [(1, 1), (3, 3), (5, 5)])
        fleet.resolve()
        goals = [(9, 9), (8, 8) if step == 2 else (9, 9), (9, 9)]
        ready(fleet, [(1, 1), (3, 3), (5, 5)], goals, step=step)
        fleet.start()
    # b's goal changed at step 2; a and c have held theirs for two steps.
    assert fleet.grid_state().ages.tolist() == [2, 0, 2]


def test_a_proposal_or_a_move_stands_in_for_a_missed_message() -> None:
    fleet = LockStep(IDS)
    ready(fleet, [(0, 0), (0, 2)], [(5, 5)] * 2)
    # c's ARRIVED for step 0 was missed; its proposal for step 1 says where it stands.
    fleet.receive(Report("c", 1, PROPOSING, (2, 2), (2, 3), (7, 7)), 0.0)
    assert fleet.can_start()
    assert fleet.start()["c"] == ((2, 2), (7, 7))
    fleet.receive(Report("a", 1, MOVING, (0, 0), (1, 0), (5, 5)), 0.0)  # a's MOVING
    propose(fleet, [(1, 0), (0, 3), (2, 3)], skip=("a", "c"))
    assert fleet.resolve().to_cells == [(1, 0), (0, 3), (2, 3)]


def test_a_silent_robot_is_lost_and_its_cells_block_everyone() -> None:
    fleet = LockStep(IDS, lost_after=2.0, startup_timeout=10.0)
    fleet.start_waiting(IDS, 0.0)
    ready(fleet, [(0, 0), (0, 2)], [(5, 5)] * 2, now=1.0)
    assert fleet.check_lost(5.0) == []  # the start-up grace period
    ready(fleet, [(0, 0), (0, 2), (2, 2)], [(5, 5)] * 3, now=6.0)
    fleet.start()
    propose(fleet, [(0, 1), (1, 2), (2, 1)], now=6.5)
    outcome = fleet.resolve()
    assert outcome.to_cells == [(0, 1), (1, 2), (2, 1)]
    ready(fleet, [(0, 1), (1, 2)], [(5, 5)] * 2, step=1, now=7.0)
    assert fleet.check_lost(8.0) == []
    assert fleet.check_lost(9.1) == ["c"]  # silent since 6.5
    assert fleet.lost == ["c"] and fleet.lost_cells == {(2, 2), (2, 1)}
    fleet.start()
    propose(fleet, [(1, 1), (2, 2)], now=9.2)  # b tries to enter c's old cell
    outcome = fleet.resolve()
    assert outcome.robot_ids == ["a", "b"] and outcome.lost == ["c"]
    assert outcome.to_cells == [(1, 1), (1, 2)] and outcome.moved == [True, False]


def test_invalid_proposals_wait_and_timed_out_robots_keep_their_cell() -> None:
    fleet = LockStep(IDS)
    ready(fleet, [(0, 0), (0, 2), (2, 2)], [(5, 5)] * 3)
    fleet.start()
    propose(fleet, [(0, 1), (4, 4), (2, 3)])  # b proposes a jump: it waits
    outcome = fleet.resolve()
    assert outcome.to_cells == [(0, 1), (0, 2), (2, 3)]
    fleet.receive(Report("a", 1, ARRIVED, (0, 1), (0, 1), (5, 5)), 0.0)
    fleet.receive(Report("b", 1, ARRIVED, (0, 2), (0, 2), (5, 5)), 0.0)
    fleet.receive(Report("c", 1, TIMED_OUT, (2, 2), (2, 2), (5, 5)), 0.0)
    assert fleet.start()["c"] == ((2, 2), (5, 5))
    assert fleet.end_cell("c", 1) == (2, 2)


def test_followers_wait_for_their_leader_unless_the_chain_is_a_rotation() -> None:
    chain = Outcome(1, ["a", "b", "c"], [(0, 0), (0, 1), (5, 5)], [(0, 1), (0, 2), (5, 5)],
                    [True, True, False], [])
    assert followed(chain, "a") == "b" and followed(chain, "b") is None
    assert followed(chain, "c") is None
    ring = Outcome(1, ["a", "b", "c", "d"], [(0, 0), (0, 1), (1, 1), (1, 0)],
                   [(0, 1), (1, 1), (1, 0), (0, 0)], [True] * 4, [])
    assert all(followed(ring, r) is None for r in "abcd")


def test_fleet_ids_must_be_unique() -> None:
    with pytest.raises(ValueError):
        LockStep(["a", "a"])


def test_generated_goals_are_reachable_free_cells_and_advance_on_arrival() -> None:
    obstacles = np.zeros((5, 5), bool)
    obstacles[:, 2] = True  # two halves
    rng = np.random.default_rng(0)
    for _ in range(50):
        goal = random_goal(obstacles, (1, 1), rng)
        assert goal[1] < 2 and goal != (1, 1)
    goals = Goals("generator", seed=1)
    first = goals.ensure(obstacles, (0, 0))
    assert goals.arrived(obstacles, (4, 4)) is False and goals.current == first
    assert goals.arrived(obstacles, first) is True
    assert goals.reached == 1 and goals.current != first and goals.sequence == 2


def test_external_goals_arrive_in_sequence_and_the_robot_waits_for_the_next() -> None:
    obstacles = np.zeros((5, 5), bool)
    goals = Goals("external")
    assert goals.ensure(obstacles, (0, 0)) is None
    goals.offer(2, (3, 3))  # out of order: kept for later
    assert goals.current is None
    goals.offer(1, (1, 1))
    assert goals.current == (1, 1) and goals.sequence == 1
    assert goals.arrived(obstacles, (1, 1)) and goals.current == (3, 3)
    assert goals.arrived(obstacles, (3, 3)) and goals.waiting
    assert not goals.arrived(obstacles, (3, 3))  # standing on a reached goal counts once
    goals.offer(3, (4, 4))
    assert not goals.waiting and goals.current == (4, 4) and goals.reached == 2
    goals.offer(1, (0, 0))  # stale: ignored
    assert goals.current == (4, 4)


def test_planners_with_different_resolutions_hold_the_fleet_alike() -> None:
    """A soft and a shielded planner could settle one step differently and send two robots
    into one cell: while any proposal names another resolution, every planner holds."""
    from marlgpt_planner.step_rule import StepRule

    cells = {"a": (0, 0), "b": (0, 2)}
    outcomes = {}
    for mine, theirs in (("soft", "shield/search=16"), ("shield/search=16", "soft")):
        resolution = mine.split("/")[0]
        fleet = LockStep(["a", "b"], rule=StepRule.lenient(resolution, search=16))
        for robot, cell in cells.items():
            fleet.receive(Report(robot, 0, ARRIVED, cell, cell, (0, 4)), 0.0)
        fleet.start()
        fleet.receive(Report("a", 1, PROPOSING, (0, 0), (0, 1), (0, 4), ranking=(4, 0),
                             step_rule=mine), 0.0)
        fleet.receive(Report("b", 1, PROPOSING, (0, 2), (0, 3), (0, 4), ranking=(4, 0),
                             step_rule=theirs), 0.0)
        outcomes[mine] = fleet.resolve()
        assert fleet.disagreeing == ["b"]
        assert outcomes[mine].moved == [False, False]
    # Agreeing planners (or proposals that name no rule) move as usual.
    fleet = LockStep(["a", "b"], rule=StepRule("shield"))
    for robot, cell in cells.items():
        fleet.receive(Report(robot, 0, ARRIVED, cell, cell, (0, 4)), 0.0)
    fleet.start()
    fleet.receive(Report("a", 1, PROPOSING, (0, 0), (0, 1), (0, 4), ranking=(4, 0),
                         step_rule="shield"), 0.0)
    fleet.receive(Report("b", 1, PROPOSING, (0, 2), (0, 3), (0, 4), ranking=(4, 0)), 0.0)
    assert fleet.resolve().moved == [True, True] and fleet.disagreeing == []


def test_a_fleet_that_bans_rotations_never_settles_a_ring_and_holds_for_one_that_does() -> None:
    """Four robots in a 2 x 2 block, each proposing the next one's cell: POGEMA's ring, which
    a fleet of real robots bans (fleet_protocol.rotations: false)."""
    from marlgpt_planner.actions import DOWN, LEFT, RIGHT, UP, WAIT
    from marlgpt_planner.step_rule import StepRule

    ids = ["a", "b", "c", "d"]
    square = [(0, 0), (0, 1), (1, 1), (1, 0)]
    rankings = [(RIGHT, WAIT), (DOWN, WAIT), (LEFT, WAIT), (UP, WAIT)]

    def settle(rule, agreements):
        fleet = LockStep(ids, rule=rule)
        for robot, cell in zip(ids, square):
            fleet.receive(Report(robot, 0, ARRIVED, cell, cell, (5, 5)), 0.0)
        fleet.start()
        for robot, cell, ranking, said in zip(ids, square, rankings, agreements):
            fleet.receive(Report(robot, 1, PROPOSING, cell, cell, (5, 5), ranking=ranking,
                                 step_rule=said), 0.0)
        return fleet, fleet.resolve()

    allowed = StepRule("shield")
    _, ring = settle(allowed, [allowed.agreement()] * 4)
    assert ring.moved == [True] * 4  # POGEMA's semantics: the ring turns
    banned = StepRule("shield", rotations=False)
    assert banned.agreement() == "shield+no-rotations"
    fleet, outcome = settle(banned, [banned.agreement()] * 4)
    assert fleet.disagreeing == [] and outcome.moved == [False] * 4  # nobody else can move
    # A planner that allows rotations hearing three that ban them holds the step (as they
    # do, hearing it): the ring it would settle does not turn.
    fleet, outcome = settle(allowed, [banned.agreement()] * 3 + ["shield"])
    assert fleet.disagreeing == ["a", "b", "c"] and outcome.moved == [False] * 4
