"""Steps without rotations (marlgpt_planner.rotations): rings found, never closed by PIBT (the
shield, the sequential resolution, the search), cancelled under the soft rule, refused by the
last check, agreed on by a fleet, and refereed by POGEMA in marlgpt eval."""
import numpy as np
import pytest

from marlgpt_planner.actions import DELTAS, DOWN, LEFT, NUM_ACTIONS, RIGHT, UP, WAIT
from marlgpt_planner.grid import DistanceFields
from marlgpt_planner.lookahead import Search, pibt_rankings, search_step
from marlgpt_planner.parameters import DEFAULTS, step_rule
from marlgpt_planner.rotations import closes_rotation, rings, without_rotations
from marlgpt_planner.sequential import check_step, sequential_step
from marlgpt_planner.shield import shield
from marlgpt_planner.step_rule import SEQUENTIAL, SHIELD, SOFT, StepRule

SQUARE = np.array([(0, 0), (0, 1), (1, 1), (1, 0)], dtype=np.int64)
ROUND = [[RIGHT], [DOWN], [LEFT], [UP]]  # each into the next one's cell: a ring of four


def crowded(seed: int, size: int = 7, agents: int = 30):
    """A crowded open room: rankings drawn at random, every move on the map allowed."""
    rng = np.random.default_rng(seed)
    cells = np.argwhere(np.ones((size, size), dtype=bool))
    positions = cells[rng.choice(len(cells), size=agents, replace=False)].astype(np.int64)
    goals = cells[rng.choice(len(cells), size=agents, replace=False)].astype(np.int64)
    rankings = []
    for r, c in positions.tolist():
        order = [int(a) for a in rng.permutation(NUM_ACTIONS)]
        rankings.append([a for a in order if 0 <= r + DELTAS[a][0] < size
                         and 0 <= c + DELTAS[a][1] < size])
    return rng, positions, goals, rankings, rng.integers(0, 9, agents).tolist()


def assert_safe(positions: np.ndarray, after: np.ndarray) -> None:
    check_step(positions, after, rotations=False)  # no jump, shared cell, swap or ring


def test_rings_are_found_and_chains_and_swaps_are_not() -> None:
    ring = np.roll(SQUARE, -1, axis=0)
    assert [sorted(r) for r in rings(SQUARE, ring)] == [[0, 1, 2, 3]]
    chain = SQUARE + np.array([0, 1])  # everybody one cell right: a chain that ends
    assert rings(SQUARE, chain) == []
    swap = SQUARE[[1, 0, 2, 3]]
    assert rings(SQUARE, swap) == []  # a ring of two: the swap check's business
    assert rings(SQUARE, SQUARE) == []
    # A ring of six round a 2 x 3 block, beside an agent that waits and one that moves.
    block = np.array([(0, 0), (0, 1), (0, 2), (1, 2), (1, 1), (1, 0), (2, 0), (2, 2)])
    after = np.concatenate([np.roll(block[:6], -1, axis=0), [(2, 0), (2, 3)]])
    assert [sorted(r) for r in rings(block, after)] == [[0, 1, 2, 3, 4, 5]]


def test_closes_rotation_follows_the_chain_of_moves_chosen_so_far() -> None:
    occupant = {tuple(c): i for i, c in enumerate(SQUARE.tolist())}
    nxt = [(0, 1), (1, 1), (1, 0), None]
    assert closes_rotation(3, (0, 0), occupant, nxt)  # agent 3 into agent 0's cell
    assert not closes_rotation(3, (2, 0), occupant, nxt)  # an empty cell
    assert not closes_rotation(3, (1, 0), occupant, nxt)  # its own cell: a wait
    nxt[1] = None  # agent 1 has not chosen: the ring is not closed yet
    assert not closes_rotation(3, (0, 0), occupant, nxt)
    nxt[1] = (0, 1)  # agent 1 stays
    assert not closes_rotation(3, (0, 0), occupant, nxt)


def test_without_rotations_stops_the_ring_and_nobody_else() -> None:
    # The ring of four; agent 4 moves down out of (0, 2), agent 5 follows it in, agent 6
    # moves on its own.
    positions = np.concatenate([SQUARE, [(0, 2), (0, 3), (2, 2)]])
    after = np.concatenate([np.roll(SQUARE, -1, axis=0), [(1, 2), (0, 2), (2, 3)]])
    stopped = without_rotations(positions, after)
    assert stopped[:4].tolist() == SQUARE.tolist()
    assert stopped[4:].tolist() == [[1, 2], [0, 2], [2, 3]]
    assert_safe(positions, stopped)


def test_the_shield_without_rotations_takes_the_best_step_without_a_ring() -> None:
    assert rings(SQUARE, shield(SQUARE, ROUND, [3, 2, 1, 0])) != []  # POGEMA's semantics
    # With one choice each, nobody can move without closing the ring: all wait.
    assert shield(SQUARE, ROUND, [3, 2, 1, 0], rotations=False).tolist() == SQUARE.tolist()
    # Given a second choice, the last of the chain steps out and the chain follows it.
    second = ROUND[:3] + [[UP, LEFT, WAIT]]
    after = shield(np.array(SQUARE) + [0, 1], second, [3, 2, 1, 0], rotations=False)
    assert after.tolist() == [[0, 2], [1, 2], [1, 1], [1, 0]]


@pytest.mark.parametrize("seed", range(25))
def test_no_resolution_closes_a_ring_when_rotations_are_banned(seed) -> None:
    rng, positions, goals, rankings, ages = crowded(seed)
    assert_safe(positions, shield(positions, rankings, ages, rotations=False))

    def decide(rows, next_cells, known):
        return [rankings[row] for row in rows]

    after, _ = sequential_step(positions, ages, decide, radius=2, rotations=False)
    assert_safe(positions, after)
    fields = DistanceFields(np.zeros((7, 7), dtype=bool), pad=1)
    searched = search_step(fields, positions, goals, pibt_rankings(fields, positions, goals),
                           ages, seed, Search(candidates=8, rotations=False))
    assert_safe(positions, searched)
    first = [[r[0]] if r else [] for r in rankings]
    soft = StepRule(SOFT, rotations=False).settle(positions, first, ages,
                                                   obstacles=np.zeros((7, 7), dtype=bool))
    assert_safe(positions, soft)


def test_rings_happen_in_crowds_unless_banned() -> None:
    """The random crowds above do close rings when rotations are allowed: the ban is what
    keeps them out, not the states."""
    found = 0
    for seed in range(25):
        rng, positions, goals, rankings, ages = crowded(seed)
        found += len(rings(positions, shield(positions, rankings, ages)))
    assert found > 0


def test_the_last_check_refuses_a_ring_only_when_banned() -> None:
    ring = np.roll(SQUARE, -1, axis=0)
    check_step(SQUARE, ring)
    with pytest.raises(ValueError, match=r"agents \[0, 1, 2, 3\] would move round a ring"):
        check_step(SQUARE, ring, rotations=False)


def test_a_fleet_agrees_on_the_ban() -> None:
    banned = StepRule(SHIELD, search=16, rotations=False)
    assert banned.agreement() == "shield+no-rotations/search=16"
    assert banned.label() == "shield, search 16, no rotations"
    assert StepRule(SOFT, rotations=False).label() == "soft, no rotations"
    # A planner that allows rotations settles unlike one that bans them, both ways; a planner
    # that compares only the resolution's name (before the ban existed) sees another one too.
    assert banned.settles_unlike("shield/search=16")
    assert StepRule(SHIELD, search=16).settles_unlike("shield+no-rotations/search=16")
    assert "shield+no-rotations/search=16".split("/")[0] != "shield"
    assert not banned.settles_unlike("shield+no-rotations")
    assert not StepRule(SEQUENTIAL).settles_unlike("sequential")
    assert StepRule.lenient(SOFT, 0.5, 16, False) == StepRule(SOFT, rotations=False)
    # The node's parameter makes the fleet's rule; POGEMA's semantics by default.
    assert step_rule(dict(DEFAULTS)).rotations
    assert not step_rule(dict(DEFAULTS, **{"fleet_protocol.rotations": False})).rotations


@pytest.mark.parametrize("resolution", [SOFT, SHIELD])
def test_marlgpt_eval_without_rotations_is_refereed_by_pogema(resolution) -> None:
    from marlgpt_training.benchmark.episode import run_episode
    from marlgpt_training.benchmark.mapset import Instance
    from marlgpt_training.policies import make_policy

    grid = "\n".join(["........", ".#.##.#.", "........", ".##.#.#.", "........",
                      ".#.#.##.", "........", "........"])
    instance = Instance("crowded", 0, 24, 64, grid)

    def ring_count(rule):
        trace = []
        result = run_episode(instance, make_policy("bfs"), rule, trace=trace)
        return sum(len(rings(a, b)) for a, b in zip(trace, trace[1:])), result

    allowed, _ = ring_count(StepRule(resolution))
    banned, result = ring_count(StepRule(resolution, rotations=False))
    assert banned == 0 and result.goals > 0
    if resolution == SHIELD:
        assert allowed > 0  # plain PIBT in a crowd rotates, as POGEMA lets it


def test_ring_steps_counts_what_the_ban_removes() -> None:
    """scripts/ring_steps.py on the first shared maze with 64 agents: plain PIBT closes rings
    there (the count the docs report), and its table says so."""
    import subprocess
    import sys

    from tests.conftest import REPO

    map_set = REPO.parent / "shared" / "benchmarks" / "pogema-lmapf" / "02-mazes"
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "ring_steps.py"), "--map-set",
                           str(map_set), "--agents", "64", "--maps", "1"],
                          capture_output=True, text=True, timeout=300, check=True)
    row = done.stdout.strip().splitlines()[-1].split("|")
    assert row[1].strip() == "64" and int(row[2]) == 127
    assert int(row[4]) > 0 and int(row[5]) >= 3 * int(row[4])
    bad = subprocess.run([sys.executable, str(REPO / "scripts" / "ring_steps.py"), "--map-set",
                          str(map_set / "nowhere")], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and bad.stderr.startswith("ring_steps: ")
