"""The sequential resolution (marlgpt_planner.sequential): a learned PIBT that asks each agent
in turn, knowing the claims before it; its batching, its final check and its teacher data."""
import numpy as np
import pytest

from marlgpt_planner.actions import NUM_ACTIONS, RIGHT, UP, WAIT
from marlgpt_planner.encoder import Encoder, GridState
from marlgpt_planner.grid import DistanceFields, parse_grid
from marlgpt_planner.lookahead import pibt_rankings
from marlgpt_planner.sequential import check_step, sequential_step
from marlgpt_planner.shield import shield
from marlgpt_planner.step_rule import SEQUENTIAL, SHIELD, StepRule


def crowd(seed: int, size: int = 12, agents: int = 30):
    rng = np.random.default_rng(seed)
    obstacles = rng.random((size, size)) < 0.15
    free = np.argwhere(~obstacles)
    picks = rng.choice(len(free), size=2 * agents, replace=False)
    return rng, obstacles, free[picks[:agents]], free[picks[agents:]]


def conflict_free(positions: np.ndarray, after: np.ndarray) -> bool:
    try:
        check_step(positions, after)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("seed", range(8))
def test_rankings_blind_to_the_claims_give_the_shields_step(seed) -> None:
    rng, obstacles, positions, goals = crowd(seed)
    rankings = pibt_rankings(DistanceFields(obstacles, pad=2), positions, goals)
    ages = rng.integers(0, 6, len(positions)).tolist()
    asked = []

    def decide(rows, claimed, known):
        asked.extend(rows)
        return [rankings[r] for r in rows]

    after, ledger = sequential_step(positions, ages, decide, radius=2)
    assert (after == shield(positions, rankings, ages)).all()
    # Every agent asked exactly once, served in the shield's order.
    assert sorted(asked) == list(range(len(positions))) and ledger.rows == len(positions)
    assert ledger.order[0] == min(range(len(ages)), key=lambda k: (-ages[k], k))


def claim_aware(encoder: Encoder, positions: np.ndarray, salt: int):
    """A deterministic 'policy' whose ranking depends on every claim token it is shown."""

    def decide(rows, claimed, known):
        claims = encoder.claim_values(positions, np.array(rows), claimed, known)
        out = []
        for row, values in zip(rows, claims):
            key = hash((salt, row, values.tobytes())) % 120
            order = np.random.default_rng(key).permutation(NUM_ACTIONS)
            out.append([int(a) for a in order if not values[a]])
        return out

    return decide


@pytest.mark.parametrize("seed", range(6))
def test_batching_never_changes_a_decision(seed) -> None:
    rng, obstacles, positions, goals = crowd(seed, size=14, agents=40)
    encoder = Encoder(obstacles, radius=2, history=1, neighbours=4, claims=True)
    ages = rng.integers(0, 4, len(positions)).tolist()
    decide = claim_aware(encoder, positions, seed)
    batched, ledger = sequential_step(positions, ages, decide, radius=2)
    # A radius that covers the map: nobody is ever ready early, one agent per call.
    one_by_one, alone = sequential_step(positions, ages, decide, radius=100)
    assert (batched == one_by_one).all() and conflict_free(positions, batched)
    assert alone.calls == len(positions) and ledger.calls < alone.calls
    assert ledger.rows == alone.rows == len(positions)


@pytest.mark.parametrize("seed", range(10))
def test_no_shared_cell_and_no_swap_whatever_the_policy_says(seed) -> None:
    rng, obstacles, positions, goals = crowd(seed, agents=50)
    decide_rng = np.random.default_rng(seed)

    def decide(rows, claimed, known):  # claimed cells and swaps included on purpose
        return [[int(a) for a in decide_rng.permutation(NUM_ACTIONS)] for _ in rows]

    after, _ = sequential_step(positions, rng.integers(0, 9, len(positions)).tolist(),
                               decide, radius=3)
    assert len({tuple(c) for c in after.tolist()}) == len(after)
    assert conflict_free(positions, after)


def test_the_final_check_refuses_shared_cells_swaps_and_jumps() -> None:
    positions = np.array([[0, 0], [0, 1], [2, 2]])
    with pytest.raises(ValueError, match="share cell"):
        check_step(positions, np.array([[0, 1], [0, 1], [2, 2]]))
    with pytest.raises(ValueError, match="swap"):
        check_step(positions, np.array([[0, 1], [0, 0], [2, 2]]))
    with pytest.raises(ValueError, match="more than one cell"):
        check_step(positions, np.array([[0, 0], [0, 1], [4, 2]]))
    check_step(positions, np.array([[0, 1], [1, 1], [2, 2]]))  # following is allowed


CORRIDOR = parse_grid("""
    .....
    #.###
""")


def test_a_pushed_agent_knows_who_pushes_it() -> None:
    # Agent 0 (older goal) at (0, 1) moves right into agent 1's cell (0, 2).
    positions = np.array([[0, 1], [0, 2]])
    encoder = Encoder(CORRIDOR, radius=2, history=1, neighbours=2, claims=True)
    seen = {}

    def decide(rows, claimed, known):
        values = encoder.claim_values(positions, np.array(rows), claimed, known)
        seen.update({r: v for r, v in zip(rows, values)})
        return [[RIGHT] if r == 0 else [WAIT, RIGHT] for r in rows]

    after, ledger = sequential_step(positions, [5, 0], decide, radius=2)
    assert ledger.order == [0, 1] and ledger.calls == 2
    assert seen[0][:NUM_ACTIONS].tolist() == [0, 0, 0, 0, 0] and seen[0][5:7].tolist() == [0, 0]
    # Agent 1: its own cell is claimed (it may not wait), by the agent on its left.
    assert seen[1][WAIT] == 1 and seen[1][5:7].tolist() == [0, -1]
    assert seen[1][7:10].tolist() == [1.0, 0.0, 0.0]  # neighbour 0: served, claims (0, 2)
    assert after.tolist() == [[0, 2], [0, 3]]


def test_a_push_that_cannot_be_followed_falls_back() -> None:
    # Agent 0 at (0, 1) wants down into agent 1's cell; agent 1 only offers up (a swap) and
    # waiting (its cell is claimed), so it cannot leave: 0 takes its next action, 1 stays.
    positions = np.array([[0, 1], [1, 1]])
    after, _ = sequential_step(positions, [3, 0], lambda rows, c, k: [
        [2, 4] if r == 0 else [UP, WAIT] for r in rows], radius=2)
    assert after.tolist() == [[0, 2], [1, 1]]


def test_the_step_rule_asks_in_turn_and_refuses_old_models() -> None:
    rule = StepRule(SEQUENTIAL)
    assert rule.in_turn and rule.ranks and not StepRule(SHIELD).in_turn
    assert rule.agreement() == "sequential" and rule.label() == "sequential"
    positions = np.array([[0, 1], [0, 2]])
    with pytest.raises(ValueError, match="decide="):
        rule.settle(positions, None, [0, 0])
    with pytest.raises(ValueError, match=r"reads encoder v1, without the claim tokens"):
        rule.refuse_model(1, "m.onnx")
    rule.refuse_model(3, "m.onnx")
    StepRule(SHIELD).refuse_model(1, "m.onnx")
    decided = rule.settle(positions, None, [5, 0], decide=lambda rows, c, k: [
        [RIGHT] if r == 0 else [RIGHT] for r in rows], radius=2)
    assert decided.tolist() == [[0, 2], [0, 3]]


def test_the_search_over_sequential_steps_starts_from_the_sequential_step() -> None:
    rng, obstacles, positions, goals = crowd(4)
    fields = DistanceFields(obstacles, pad=2)
    rankings = pibt_rankings(fields, positions, goals)
    ages = rng.integers(0, 6, len(positions)).tolist()

    def decide(rows, claimed, known):
        return [rankings[r] for r in rows]

    searched = StepRule(SEQUENTIAL, search=8).settle(positions, None, ages, goals, fields, seed=3,
                                                     decide=decide, radius=2)
    shielded = StepRule(SHIELD, search=8).settle(positions, rankings, ages, goals, fields, seed=3)
    assert (searched == shielded).all()


def test_encoder_v3_claim_tokens() -> None:
    grid = parse_grid("""
        .....
        .....
        .....
    """)
    encoder = Encoder(grid, radius=1, history=1, neighbours=2, claims=True)
    assert encoder.version == 3 and encoder.ages
    assert Encoder.from_layout(grid, encoder.metadata).claims
    positions = np.array([[1, 1], [1, 2], [0, 1]])
    state = GridState(positions, positions[::-1], np.zeros((3, 1), int), np.array([1, 2, 3]))
    values = encoder.encode(state).values
    nobody = encoder.claim_values(positions, np.arange(3), positions, np.zeros((3, 3), bool))
    assert (values[:, encoder.claims_start:] == nobody).all()
    # Agent 1 claims agent 0's cell and agent 2 (above agent 0) stays: agent 0 sees its up
    # cell claimed, its own cell claimed (pushed, from the right) and right as a swap.
    claimed = np.array([[0, 0], [1, 1], [0, 1]])
    known = np.array([[False, True, True]])
    row = encoder.claim_values(positions, np.array([0]), claimed, known)[0]
    assert row[:NUM_ACTIONS].tolist() == [1, 1, 0, 0, 1]  # wait (pushed), up, and right (swap)
    assert row[5:7].tolist() == [0, 1]
    with pytest.raises(ValueError, match="version 3"):
        Encoder(grid, radius=1).claim_values(positions, np.arange(3), positions,
                                            np.zeros((3, 3), bool))


def test_teacher_data_replays_the_experts_step_in_serve_order() -> None:
    from marlgpt_training.envs.pogema import (
        GeneratorConfig,
        LifelongMapfGenerator,
        teacher_forced,
    )

    config = GeneratorConfig(map_kinds=("random",), sizes=(12,), agents=(24,), steps=12,
                             claims=True, radius=2, history=1, neighbours=3)
    record = LifelongMapfGenerator(config).episode(0)
    steps, agents = record.action.shape
    rows = np.arange(agents)
    assert record.action_mask[np.arange(steps)[:, None], rows, record.action].all()
    encoder = Encoder(record.static.astype(bool), 2, 1, 3, claims=True)
    start = encoder.claims_start
    # Somebody decides knowing somebody else's claim, and somebody is pushed.
    served = record.tokens[:, :, start + 7::3].astype(np.float32)
    assert (served == 1).any() and (record.tokens[:, :, start] == 1).any()
    # A step in which two agents swap cannot be replayed.
    positions, swapped = np.array([[0, 0], [0, 1]]), np.array([[0, 1], [0, 0]])
    small = Encoder(np.zeros((3, 3), bool), 1, 1, 2, claims=True)
    obs = small.encode(GridState(positions, swapped, np.zeros((2, 1), int), np.zeros(2)))
    with pytest.raises(ValueError, match="conflict"):
        teacher_forced(small, obs, positions, swapped, np.array([1.0, 0.0]))
