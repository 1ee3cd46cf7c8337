"""The fleet's turns under the sequential resolution (pure logic): robots propose when their
turn comes, each planner deciding only for its own robots, and every planner settles the step
that the sequential resolution gives when it asks the policy directly."""
from typing import Dict, List

import numpy as np
import pytest

from marlgpt_planner.actions import DELTAS, NUM_ACTIONS
from marlgpt_planner.encoder import Encoder
from marlgpt_planner.lockstep import ARRIVED, PROPOSING, LockStep, Report
from marlgpt_planner.sequential import sequential_step
from marlgpt_planner.step_rule import SEQUENTIAL, StepRule

RADIUS = 2


def crowd(seed: int, agents: int = 12, size: int = 8):
    rng = np.random.default_rng(seed)
    cells = rng.choice(size * size, size=agents, replace=False)
    positions = np.stack([cells // size, cells % size], axis=1)
    goals = rng.integers(0, size, size=(agents, 2))
    ages = rng.integers(0, 4, agents)
    return positions, goals, ages, np.zeros((size, size), dtype=bool)


def policy(encoder: Encoder, positions: np.ndarray, salt: int):
    """A deterministic stand-in for a model that reads every claim token (legal moves only)."""

    def decide(rows, next_cells, known):
        claims = encoder.claim_values(positions, np.array(rows), next_cells, known)
        out = []
        for row, values in zip(rows, claims):
            order = np.random.default_rng(hash((salt, row, values.tobytes())) % 997) \
                .permutation(NUM_ACTIONS)
            legal = [a for a in order if not values[a] and encoder.fields.free_moves(
                positions[row:row + 1])[0, a]]
            out.append([int(a) for a in legal])
        return out

    return decide


def fleet_at(ids: List[str], positions, goals, ages) -> LockStep:
    fleet = LockStep(ids, rule=StepRule(SEQUENTIAL))
    fleet.radius = RADIUS
    for robot, cell, goal in zip(ids, positions.tolist(), goals.tolist()):
        fleet.receive(Report(robot, 0, ARRIVED, tuple(cell), tuple(cell), tuple(goal)), 0.0)
    fleet.start()
    fleet.age = dict(zip(ids, ages.tolist()))  # goals held for a while
    return fleet


def run_turns(planners: Dict[str, LockStep], owner: Dict[str, str], decide) -> List[int]:
    """Every planner replays the step and proposes for its own robots when named, until
    all can resolve; returns how many robots were asked per round."""
    rounds = []
    while not all(f.can_resolve() for f in planners.values()):
        reports = []
        for name, fleet in planners.items():
            turn = fleet.turn()
            mine = [k for k, r in enumerate(turn.robot_ids) if owner[r] == name]
            if not mine:
                continue
            rankings = decide([turn.rows[k] for k in mine], turn.next_cells, turn.known[mine])
            for k, ranking in zip(mine, rankings):
                robot = turn.robot_ids[k]
                cell = fleet.positions[robot]
                target = tuple(np.add(cell, DELTAS[ranking[0]]).tolist())
                reports.append(Report(robot, fleet.step, PROPOSING, cell, target,
                                      fleet.goals[robot], ranking=tuple(ranking)))
        assert reports, "a turn named nobody"
        rounds.append(len(reports))
        for fleet in planners.values():
            for report in reports:
                fleet.receive(report, 0.0)
    return rounds


@pytest.mark.parametrize("seed", range(4))
def test_planners_deciding_their_own_robots_in_turn_settle_the_sequential_step(seed) -> None:
    positions, goals, ages, grid = crowd(seed)
    ids = [f"r{k}" for k in range(len(positions))]
    encoder = Encoder(grid, radius=RADIUS, history=1, neighbours=4, claims=True)
    decide = policy(encoder, positions, seed)
    expected, ledger = sequential_step(positions, ages.tolist(), decide, RADIUS)
    owner = {r: f"planner{k % 3}" for k, r in enumerate(ids)}
    planners = {name: fleet_at(ids, positions, goals, ages) for name in set(owner.values())}
    rounds = run_turns(planners, owner, decide)
    assert sum(rounds) == len(ids) and len(rounds) <= ledger.calls
    for fleet in planners.values():
        outcome = fleet.resolve()
        assert outcome.to_cells == [tuple(c) for c in expected.tolist()]
        assert fleet.turns == [ledger.calls]
    assert all(f.turn() is None for f in planners.values())


def test_a_robot_silent_in_its_turn_is_lost_and_the_others_go_on() -> None:
    positions, goals, ages, grid = crowd(7, agents=6, size=5)
    ids = [f"r{k}" for k in range(len(positions))]
    encoder = Encoder(grid, radius=RADIUS, history=1, neighbours=4, claims=True)
    fleet = fleet_at(ids, positions, goals, ages)
    fleet.lost_after = 1.0
    silent = fleet.turn().robot_ids[0]  # the first robot served never proposes
    for robot in ids:
        fleet.heard(robot, 0.0)
    while not fleet.can_resolve():
        turn = fleet.turn()
        speaking = [k for k, r in enumerate(turn.robot_ids) if r != silent]
        if not speaking:
            for robot in ids:
                if robot != silent:
                    fleet.heard(robot, 5.0)
            assert fleet.check_lost(5.0) == [silent]
            continue
        decide = policy(encoder, fleet.grid_state().positions, 7)  # the live robots' rows
        rankings = decide([turn.rows[k] for k in speaking], turn.next_cells,
                          turn.known[speaking])
        for k, ranking in zip(speaking, rankings):
            robot = turn.robot_ids[k]
            cell = fleet.positions[robot]
            fleet.receive(Report(robot, fleet.step, PROPOSING, cell,
                                 tuple(np.add(cell, DELTAS[ranking[0]]).tolist()),
                                 fleet.goals[robot], ranking=tuple(ranking)), 5.0)
    outcome = fleet.resolve()
    assert silent not in outcome.robot_ids and fleet.lost == [silent]
    lost_cell = tuple(positions[ids.index(silent)].tolist())
    assert lost_cell not in outcome.to_cells  # nobody enters the lost robot's cell
