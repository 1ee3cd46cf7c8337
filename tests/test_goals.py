"""Goal checks: every source is judged the same way, and a refused goal changes nothing."""
import math

import numpy as np
import pytest

from marlgpt_planner.goals import Goals, goal_problem, random_goal, reachable_cells
from marlgpt_planner.grid import parse_grid

MAP = parse_grid("""
.....
.###.
.#...
.#.#.
.....
""".strip())


@pytest.mark.parametrize("cell, reason", [
    ((-1, 0), "outside"), ((0, 5), "outside"), ((9, 9), "outside"),
    ((1, 1), "obstacle"), ((math.nan, 1), "whole numbers"), ((1.5, 2), "whole numbers"),
    ((math.inf, 0), "whole numbers"), ("ab", "not a cell"), (None, "not a cell"),
    ((4, 4), "lost robot"),
])
def test_bad_goals_are_named_with_their_reason(cell, reason) -> None:
    problem = goal_problem(cell, MAP, start=(0, 0), blocked=[(4, 4)])
    assert problem is not None and reason in problem


def test_reachability_counts_lost_robots_as_walls() -> None:
    assert goal_problem((3, 2), MAP, start=(0, 0)) is None
    # (3, 2) is reached only through (2, 2)-(2, 3)... block the way in: (4, 2) and (2, 2).
    problem = goal_problem((3, 2), MAP, start=(0, 0), blocked=[(4, 2), (2, 2)])
    assert problem is not None and "cannot be reached" in problem
    assert goal_problem((0, 0), MAP, start=(0, 0)) is None  # its own cell is fine
    assert not reachable_cells(MAP, (1, 1))[0, 0]  # from a wall nothing is reachable


def test_generated_goals_avoid_lost_robots_and_unreachable_cells() -> None:
    rng = np.random.default_rng(0)
    blocked = [(4, 2), (2, 2)]
    drawn = {random_goal(MAP, (0, 0), rng, blocked) for _ in range(300)}
    assert drawn and all(goal_problem(c, MAP, (0, 0), blocked) is None for c in drawn)
    assert (3, 2) not in drawn and (0, 0) not in drawn


def test_a_refused_goal_keeps_the_previous_one_on_every_path() -> None:
    refused = []
    goals = Goals("external", check=lambda c: goal_problem(c, MAP, (0, 0)),
                  refused=lambda c, why: refused.append((c, why)))
    assert goals.offer(1, (0, 4)) and goals.current == (0, 4)
    assert not goals.offer(2, (1, 1))  # a wall, on the topic
    assert goals.replace((7, 7)) is not None  # off the map, on the service
    assert goals.current == (0, 4) and goals.sequence == 1 and len(refused) == 2
    # A queued goal that turned bad by the time it is due is skipped, the next one taken.
    goals.offer(2, (2, 2))
    goals.offer(3, (4, 0))
    goals.check = lambda c: "closed" if c == (2, 2) else None
    goals.arrived(MAP, (0, 4))
    assert goals.current == (4, 0) and goals.sequence == 3


def test_revalidation_after_a_map_change() -> None:
    closed = MAP.copy()
    closed[0, 4] = True
    external = Goals("external", check=lambda c: goal_problem(c, closed, (0, 0)))
    external.current, external.sequence = (0, 4), 1
    assert "waiting at (0, 0)" in external.revalidate(closed, (0, 0))
    assert external.current == (0, 0) and external.waiting
    generator = Goals("generator", seed=1, check=lambda c: goal_problem(c, closed, (0, 0)))
    generator.current = (0, 4)
    assert "new goal" in generator.revalidate(closed, (0, 0))
    assert goal_problem(generator.current, closed, (0, 0)) is None
    assert generator.revalidate(closed, (0, 0)) is None  # nothing to do the second time
