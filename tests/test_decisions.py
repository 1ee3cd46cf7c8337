"""The policy's part of a step (marlgpt_planner.decisions), without ROS."""
import pytest

from marlgpt_planner.decisions import Decider
from marlgpt_planner.encoder import Encoder, GridState
from marlgpt_planner.grid import parse_grid
from marlgpt_planner.lockstep import ARRIVED, LockStep, Report
from marlgpt_planner.policy import ModelError, RuntimePolicy
from marlgpt_planner.step_rule import StepRule
from tests.conftest import REPO, model_with_metadata

MODEL = REPO / "ros2_ws" / "src" / "marlgpt_planner" / "models" / "marlgpt.onnx"
MAP = parse_grid("""
........
.##..##.
........
..#..#..
........
""".strip())


def started_fleet(goals, resolution="shield") -> LockStep:
    ids = [f"r{i}" for i in range(len(goals))]
    fleet = LockStep(ids, rule=StepRule(resolution))
    starts = [(0, 0), (2, 3), (4, 7)][:len(goals)]
    for robot, start, goal in zip(ids, starts, goals):
        fleet.receive(Report(robot, 0, ARRIVED, start, start, goal), 0.0)
    fleet.start()
    return fleet


def test_rankings_are_the_policys_on_the_whole_fleets_state() -> None:
    policy = RuntimePolicy(MODEL)
    decider = Decider(policy)
    fleet = started_fleet([(4, 4), (0, 7), (2, 0)])
    rankings = decider.rankings(fleet, MAP, ["r2", "r0"])
    meta = policy.metadata
    encoder = Encoder(MAP, int(meta["radius"]), int(meta["history"]), int(meta["neighbours"]))
    observation = encoder.encode(GridState(*fleet.grid_state()))
    expected = policy.rank(observation.values[[2, 0]], observation.action_mask[[2, 0]])
    assert rankings == expected and len(rankings[0]) >= 2
    soft = Decider(policy).rankings(started_fleet([(4, 4), (0, 7), (2, 0)], "soft"), MAP,
                                    ["r0"])
    assert soft == [[expected[1][0]]]  # the soft rule: the best action alone


def test_a_goal_this_map_cannot_hold_is_encoded_as_the_robots_own_cell() -> None:
    decider = Decider(RuntimePolicy(MODEL))
    fleet = started_fleet([(1, 1), (0, 7)])  # r0's goal is a wall on this map
    bad = decider.rankings(fleet, MAP, ["r0", "r1"])
    same = decider.rankings(started_fleet([(0, 0), (0, 7)]), MAP, ["r0", "r1"])
    assert bad == same


def test_the_encoder_is_rebuilt_only_when_the_grid_changes() -> None:
    decider = Decider(RuntimePolicy(MODEL))
    first = decider.encoder_for(MAP, [], [(0, 0)])
    assert decider.encoder_for(MAP.copy(), [], [(0, 0)]) is first
    closed = decider.encoder_for(MAP, [(2, 2)], [(0, 0)])
    assert closed is not first and closed.fields.obstacles[2, 2]
    noisy = MAP.copy()
    noisy[0, 0] = True  # a noisy map marks a robot's cell: it stays open
    assert not decider.encoder_for(noisy, [], [(0, 0)]).fields.obstacles[0, 0]


def test_a_model_for_another_encoder_is_refused_at_check(tmp_path) -> None:
    other = model_with_metadata(tmp_path / "other.onnx", "num_tokens", "7")
    Decider(RuntimePolicy(MODEL)).check(MAP.shape)
    with pytest.raises(ModelError, match="num_tokens"):
        Decider(RuntimePolicy(other)).check(MAP.shape)


SEQUENTIAL_MODEL = MODEL.with_name("marlgpt-sequential.onnx")


def test_rankings_in_turn_read_the_claims_the_turn_names() -> None:
    policy = RuntimePolicy(SEQUENTIAL_MODEL)
    decider = Decider(policy)
    fleet = started_fleet([(4, 4), (0, 7), (2, 0)], "sequential")
    fleet.radius = int(policy.metadata["radius"])
    fleet.age = {"r0": 0, "r1": 5, "r2": 1}  # r1 is served first
    turn = fleet.turn()
    assert turn.robot_ids[0] == "r1"
    got = decider.rankings_in_turn(fleet, MAP, turn, turn.robot_ids)
    # The same rankings as asking the encoder and the model directly in that context.
    encoder = Encoder.from_layout(MAP, policy.metadata)
    state = GridState(*fleet.grid_state())
    observation = encoder.encode(state)
    claims = encoder.claim_values(state.positions, turn.rows, turn.next_cells, turn.known)
    values = observation.values[turn.rows]
    values[:, encoder.claims_start:] = claims
    legal = observation.action_mask[turn.rows] & (claims[:, :5] == 0)
    assert got == policy.rank(values, legal)
