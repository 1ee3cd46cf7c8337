"""One robot's protocol logic (marlgpt_planner.robot), without ROS."""
import math

import numpy as np
import pytest

from marlgpt_planner.actions import DOWN, RIGHT, UP, WAIT
from marlgpt_planner.goals import Goals
from marlgpt_planner.lattice import Lattice
from marlgpt_planner.lockstep import ARRIVED, HOLDING, MOVING, PROPOSING, TIMED_OUT
from marlgpt_planner.robot import Cancel, Go, Log, Publish, Robot

LATTICE = Lattice(0.0, 1.5, 0.3, 5, 5)
FREE = np.zeros((5, 5), bool)


def robot(source: str = "external", pose_timeout: float = 1.0) -> Robot:
    return Robot("r1", LATTICE, Goals(source, seed=3), pose_timeout=pose_timeout,
                 step_timeout=10.0)


def at(r: Robot, cell, now: float = 0.0) -> None:
    x, y = LATTICE.centre(cell)
    assert r.set_pose(x, y, 0.0, now) == []


def test_ready_needs_map_pose_and_goal_then_reports_arrived_for_step_0() -> None:
    r = robot()
    assert r.announce_ready(0.0) == [] and r.message == "waiting for the map"
    r.set_map(FREE)
    assert r.announce_ready(0.0) == [] and r.message == "waiting for a pose"
    at(r, (1, 1))
    assert r.announce_ready(0.0) == [] and r.message == "waiting for a goal"
    r.goals.offer(1, (3, 3))
    (report,) = r.announce_ready(0.5)
    assert report == Publish(0, ARRIVED, (1, 1), (1, 1), (3, 3))
    assert r.ready and r.announce_ready(0.6) == []  # only once


def test_an_old_pose_is_no_pose_for_streams_but_any_pose_for_event_sources() -> None:
    stream, events = robot(), robot(pose_timeout=math.inf)
    for r in (stream, events):
        r.set_map(FREE)
        at(r, (1, 1), now=0.0)
        r.goals.offer(1, (3, 3))
    assert stream.announce_ready(5.0) == [] and stream.message == "waiting for a pose"
    assert events.announce_ready(500.0)[0].status == ARRIVED  # AMCL is silent while standing


def test_a_stale_pose_proposes_to_wait_and_holds() -> None:
    r = robot()
    r.set_map(FREE)
    at(r, (1, 1))
    effects = r.propose(1, (1, 1), (3, 3), [RIGHT, DOWN, WAIT], now=0.5, ranks=True)
    assert effects == [Publish(1, PROPOSING, (1, 1), (1, 2), (3, 3), RIGHT,
                               (RIGHT, DOWN, WAIT))]
    effects = r.propose(2, (1, 1), (3, 3), [RIGHT], now=3.0, ranks=False)
    assert isinstance(effects[0], Log) and "holding" in effects[0].text
    assert effects[1] == Publish(2, PROPOSING, (1, 1), (1, 1), (3, 3), WAIT, ())
    assert r.status == HOLDING


def test_a_move_goes_arrives_and_draws_the_next_generated_goal() -> None:
    r = robot("generator")
    r.set_map(FREE)
    at(r, (1, 1))
    goal = r.announce_ready(0.0)[0].goal
    r.propose(1, (1, 1), goal, [DOWN], 0.0, ranks=True)
    effects = r.execute(1, (1, 1), (2, 1), None, now=0.1)
    assert effects == [Publish(1, MOVING, (1, 1), (2, 1), goal, DOWN, (DOWN,)), Go(1, (1, 1),
                                                                                     (2, 1))]
    assert r.status == MOVING and r.cell() == (1, 1)
    assert r.nav_done(0, True, "", 0.2) == []  # an answer for another step
    (report,) = r.nav_done(1, True, "succeeded", 0.3)
    assert report.status == ARRIVED and report.current == (2, 1) and r.moving is None
    # Reaching the goal draws a new, different one.
    r2 = robot("generator")
    r2.set_map(FREE)
    at(r2, (1, 1))
    r2.goals.current = (2, 1)
    r2.announce_ready(0.0)
    r2.execute(1, (1, 1), (2, 1), None, 0.0)
    (report,) = r2.nav_done(1, True, "", 0.1)
    assert r2.goals.reached == 1 and report.goal != (2, 1)


def test_a_wait_arrives_at_once_and_a_follower_waits_for_its_leader() -> None:
    r = robot()
    r.set_map(FREE)
    at(r, (1, 1))
    r.goals.offer(1, (3, 3))
    r.announce_ready(0.0)
    assert [e.status for e in r.execute(1, (1, 1), (1, 1), None, 0.0)] == [ARRIVED]
    effects = r.execute(2, (1, 1), (1, 2), "r2", 0.0)
    assert [type(e) for e in effects] == [Publish] and r.leader == "r2"
    assert r.follow(None, 0.1) == []  # the leader has not ended the step yet
    assert r.follow((1, 3), 0.2) == [Go(2, (1, 1), (1, 2))]
    # A leader that stays where this robot wanted to go: stay too.
    r.execute(3, (1, 1), (1, 2), "r2", 0.0)
    effects = r.follow((1, 2), 0.3)
    assert isinstance(effects[0], Log) and effects[1].status == ARRIVED
    assert effects[1].current == (1, 1)


def test_a_move_that_takes_too_long_times_out_where_the_robot_is() -> None:
    r = robot()
    r.set_map(FREE)
    at(r, (1, 1))
    r.goals.offer(1, (3, 3))
    r.announce_ready(0.0)
    r.execute(1, (1, 1), (1, 2), None, now=0.0)
    assert r.tick(5.0) == []
    at(r, (1, 2), now=9.0)  # it got there, but Nav2 never said so
    effects = r.tick(10.5)
    assert isinstance(effects[0], Cancel) and effects[-1].status == TIMED_OUT
    assert effects[-1].current == (1, 2) and r.moving is None
    # Failure from Nav2: the same, at the cell it started from.
    r.execute(2, (1, 2), (1, 3), None, now=11.0)
    effects = r.nav_done(2, False, "goal aborted", 11.5)
    assert effects[-1] == Publish(2, TIMED_OUT, (1, 2), (1, 2), (3, 3))


def test_a_non_finite_pose_is_ignored_and_one_off_the_lattice_is_reported() -> None:
    r = robot()
    assert "not finite" in r.set_pose(math.nan, 0.0, 0.0, 0.0)[0].text and r.pose is None
    x, y = LATTICE.centre((-3, 1))
    assert "outside the lattice" in r.set_pose(x, y, 0.0, 0.0)[0].text


def test_a_map_change_that_closes_the_goal_replaces_it() -> None:
    r = robot("generator")
    r.set_map(FREE)
    at(r, (1, 1))
    goal = r.announce_ready(0.0)[0].goal
    r.goals.check = lambda cell: "closed" if cell == goal else None
    closed = FREE.copy()
    closed[goal] = True
    (log,) = r.set_map(closed)
    assert "dropped" in log.text and r.goals.current != goal and not closed[r.goals.current]


def test_a_lost_robot_holds_and_ignores_the_fleet() -> None:
    r = robot()
    r.set_map(FREE)
    at(r, (1, 1))
    r.goals.offer(1, (3, 3))
    r.announce_ready(0.0)
    r.execute(1, (1, 1), (1, 2), None, 0.0)
    r.lost = True
    assert r.hold("lost") == [Cancel()] and r.moving is None and r.status == HOLDING
    assert r.execute(2, (1, 1), (1, 2), None, 0.0) == []


@pytest.mark.parametrize("ranking", [[], [UP]])
def test_proposals_are_moves_from_the_cell(ranking) -> None:
    r = robot()
    at(r, (2, 2))
    (report,) = r.propose(1, (2, 2), (0, 0), ranking, 0.0, ranks=True)
    assert report.intended == ((1, 2) if ranking else (2, 2))


@pytest.mark.parametrize("next_goal_in", [0.3, None], ids=["goal-in-time", "no-goal"])
def test_an_arrival_on_a_topic_goal_waits_for_the_next_goal(next_goal_in) -> None:
    """With ``next_goal_wait``, a robot that reached its external goal reports the arrival
    with its next goal once that comes in (the fleet's next step plans with it), or with the
    reached cell once the wait is over; without it, at once with the reached cell."""
    def arrive(wait: float) -> Robot:
        r = Robot("r1", LATTICE, Goals("external"), step_timeout=10.0, next_goal_wait=wait)
        r.set_map(FREE)
        at(r, (1, 1))
        r.goals.offer(1, (2, 1))
        r.announce_ready(0.0)
        r.propose(1, (1, 1), (2, 1), [DOWN], 0.0, ranks=True)
        r.execute(1, (1, 1), (2, 1), None, now=0.1)
        at(r, (2, 1), now=0.2)
        return r

    at_once = arrive(0.0)
    (report,) = at_once.nav_done(1, True, "", 0.2)
    assert report.status == ARRIVED and report.goal == (2, 1)  # no next goal yet: stays

    r = arrive(1.0)
    assert r.nav_done(1, True, "", 0.2) == [] and r.held_arrival is not None
    assert r.tick(0.4) == []  # still waiting for the goal
    if next_goal_in is not None:
        r.goals.offer(2, (4, 4))
        (report,) = r.tick(0.2 + next_goal_in)
        assert report == Publish(1, ARRIVED, (2, 1), (2, 1), (4, 4))
    else:
        assert r.tick(1.1) == []
        (report,) = r.tick(1.2)  # the wait is over: the reached cell, as without a wait
        assert report == Publish(1, ARRIVED, (2, 1), (2, 1), (2, 1))
    assert r.held_arrival is None and r.tick(5.0) == []
    # A wait that is no arrival on a goal is reported at once.
    other = arrive(1.0)
    other.goals.offer(2, (4, 4))
    other.nav_done(1, True, "", 0.2)
    other.propose(2, (2, 1), (4, 4), [WAIT], 0.3, ranks=True)
    (report,) = other.execute(2, (2, 1), (2, 1), None, now=0.4)
    assert report.status == ARRIVED and report.goal == (4, 4)


def test_a_held_arrival_is_dropped_when_the_robot_holds() -> None:
    r = Robot("r1", LATTICE, Goals("external"), step_timeout=10.0, next_goal_wait=1.0)
    r.set_map(FREE)
    at(r, (1, 1))
    r.goals.offer(1, (1, 1))
    r.announce_ready(0.0)
    r.propose(1, (1, 1), (1, 1), [WAIT], 0.0, ranks=True)
    assert r.execute(1, (1, 1), (1, 1), None, now=0.1) == []  # on its goal: held
    assert "waiting up to 1 s for the next goal" in r.message
    r.lost = True
    r.hold("the fleet lost this robot")
    r.goals.offer(2, (3, 3))
    assert r.tick(0.2) == [] and r.tick(5.0) == []
