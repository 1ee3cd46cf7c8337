"""The pogema-ctg encoder on hand-checked states."""
import re

import numpy as np
import pytest

from marlgpt_planner.actions import DOWN, LEFT, RIGHT, UP, WAIT
from marlgpt_planner.encoder import (
    ABSENT,
    BLOCKED,
    ENCODER_NAME,
    ENCODER_VERSION,
    ENCODER_VERSION_AGES,
    Encoder,
    GridState,
    layout,
    layout_digest,
    markdown_table,
)
from marlgpt_planner.grid import parse_grid
from tests.conftest import REPO

MAP = parse_grid("""
    .....
    .##..
    .....
    ...#.
""")


def encoder(**kwargs) -> Encoder:
    options = dict(radius=1, history=2, neighbours=2)
    options.update(kwargs)
    return Encoder(MAP, **options)


def token(enc: Encoder, values: np.ndarray, name: str, agent: int = 0, time: int = 0) -> float:
    matches = [i for i, s in enumerate(enc.specs)
               if s.name == name and s.agent == agent and s.time == time]
    assert len(matches) == 1, (name, agent, time)
    return float(values[matches[0]])


def test_layout_indices() -> None:
    enc = encoder()
    # 9 window cells + 4 shortens + 2 goal offset + goal distance + 2 moves x 2 + 2 x 8
    assert enc.num_tokens == 9 + 4 + 3 + 4 + 2 * 8
    assert enc.indices["attr"].shape == (enc.num_tokens,)
    assert enc.indices["team"].tolist().count(1) == 16
    assert set(enc.indices["agent"].tolist()) == {0, 1, 2}
    # Equivalent features share attributes across agents and time (paper, appendix A).
    attrs = {(s.name, s.attr) for s in enc.specs if not s.name.startswith("ctg")}
    assert len({name for name, _ in attrs}) == len(attrs)
    assert enc.metadata["encoder"] == ENCODER_NAME and enc.metadata["encoder_version"] == 1
    assert ENCODER_VERSION == 1


def test_hand_checked_state() -> None:
    enc = encoder()
    # Agent 0 at (2, 1), goal (0, 0); agent 1 at (2, 2), goal (3, 4); agent 2 far away.
    state = GridState(positions=np.array([[2, 1], [2, 2], [0, 4]]),
                      goals=np.array([[0, 0], [3, 4], [0, 3]]),
                      history=np.array([[RIGHT, DOWN], [UP, WAIT], [LEFT, LEFT]]))
    obs = enc.encode(state)
    v = obs.values[0]
    assert obs.values.shape == (3, enc.num_tokens) and obs.values.dtype == np.float32
    # Cost-to-go window around (2, 1): d(2,1) = 3 (left, up, up). Scale 2r = 2.
    window = v[:9].reshape(3, 3)
    assert window[0, 0] == pytest.approx((1 - 3) / 2)  # (1, 0): d = 1
    assert window[0, 1] == BLOCKED  # (1, 1) is a wall
    assert window[0, 2] == BLOCKED  # (1, 2) is a wall
    assert window[1, 0] == pytest.approx((2 - 3) / 2)  # (2, 0): d = 2
    assert window[1, 1] == 0.0  # the agent's own cell
    assert window[1, 2] == pytest.approx((4 - 3) / 2)  # (2, 2): d = 4
    assert window[2, 0] == pytest.approx((3 - 3) / 2)  # (3, 0): d = 3
    assert window[2, 2] == pytest.approx(1.0)  # (3, 2): d = 5, clipped at +2r
    assert [token(enc, v, f"shortens[{m}]") for m in ("up", "down", "left", "right")] == \
        [0, 0, 1, 0]
    assert token(enc, v, "goal_offset[row]") == pytest.approx(-2 / 32)
    assert token(enc, v, "goal_offset[col]") == pytest.approx(-1 / 32)
    assert token(enc, v, "goal_distance") == pytest.approx(np.log1p(3) / np.log1p(256))
    assert (token(enc, v, "move[row]", time=1), token(enc, v, "move[col]", time=1)) == (0, 1)
    assert (token(enc, v, "move[row]", time=2), token(enc, v, "move[col]", time=2)) == (1, 0)
    # Neighbour 1 is agent 1, one cell to the right; agent 2 is outside the 3x3 square.
    assert token(enc, v, "offset[row]", agent=1) == 0.0
    assert token(enc, v, "offset[col]", agent=1) == pytest.approx(1.0)
    # Agent 1 at (2, 2) to (3, 4): d = 3 via right, right, down; only right shortens
    # (down leads to (3, 2), walled off from (3, 4) by (3, 3)).
    assert [token(enc, v, f"shortens[{m}]", agent=1) for m in ("up", "down", "left", "right")] \
        == [0, 0, 0, 1]
    assert (token(enc, v, "move[row]", agent=1, time=1),
            token(enc, v, "move[col]", agent=1, time=1)) == (-1, 0)
    second = [i for i, s in enumerate(enc.specs) if s.agent == 2]
    assert (v[second] == ABSENT).all()
    # Masks: agent 0 cannot move up into the wall; agent 2 at the top-right corner.
    assert obs.action_mask[0].tolist() == [True, False, True, True, True]
    assert obs.action_mask[2].tolist() == [True, False, True, True, False]
    # Outside the map reads BLOCKED: agent 2's window row above the map.
    assert (obs.values[2, :3] == BLOCKED).all()


def test_neighbours_sorted_by_distance_then_row_major() -> None:
    enc = Encoder(np.zeros((7, 7), dtype=bool), radius=2, history=1, neighbours=3)
    positions = np.array([[3, 3], [3, 5], [2, 3], [4, 3], [5, 5]])
    goals = np.zeros_like(positions)
    obs = enc.encode(GridState(positions, goals, np.zeros((5, 1), dtype=int)))
    v = obs.values[0]
    offsets = [(token(enc, v, "offset[row]", agent=j) * 2,
                token(enc, v, "offset[col]", agent=j) * 2) for j in (1, 2, 3)]
    # Distance 1: (-1, 0) before (+1, 0) (row-major); then distance 2: (0, +2). (2, 2) is 4 away.
    assert offsets == [(-1, 0), (1, 0), (0, 2)]


def test_bad_input_is_refused() -> None:
    enc = encoder()
    with pytest.raises(ValueError, match="2 positions but 1 goals"):
        enc.encode(GridState(np.array([[0, 0], [0, 1]]), np.array([[0, 0]]), np.zeros((2, 2))))
    with pytest.raises(ValueError, match="outside the map"):
        enc.encode(GridState(np.array([[9, 0]]), np.array([[0, 0]]), np.zeros((1, 2))))
    with pytest.raises(ValueError, match="history has 1 steps"):
        enc.encode(GridState(np.array([[0, 0]]), np.array([[0, 0]]), np.zeros((1, 1))))


def test_goal_ages_version_2_hand_checked() -> None:
    enc = encoder(ages=True)
    v1 = encoder()
    # One more token for the deciding agent, one more per neighbour slot.
    assert enc.num_tokens == v1.num_tokens + 1 + 2
    assert enc.metadata["encoder_version"] == ENCODER_VERSION_AGES == 2
    assert enc.layout_digest != v1.layout_digest
    assert v1.layout_digest == layout_digest(1, 2, 2)  # version 1 is unchanged
    state = GridState(positions=np.array([[2, 1], [2, 2], [2, 0]]),
                      goals=np.array([[0, 0], [3, 4], [0, 3]]),
                      history=np.zeros((3, 2), dtype=int), ages=np.array([5, 9, 300]))
    obs = enc.encode(state)
    v = obs.values[0]
    assert token(enc, v, "goal_age") == pytest.approx(np.log1p(5) / np.log1p(256))
    assert token(enc, obs.values[2], "goal_age") == pytest.approx(1.0)  # capped at 256
    # Neighbours of agent 0: agents 1 (right) and 2 (left), both at distance 1; row-major
    # order puts (2, 0) first. Leads: agent 2 is 295 steps older (clipped), agent 1 is 4.
    assert token(enc, v, "offset[col]", agent=1) == pytest.approx(-1.0)
    assert token(enc, v, "age_lead", agent=1) == pytest.approx(1.0)
    assert token(enc, v, "age_lead", agent=2) == pytest.approx(4 / 8)
    # Agent 1's only neighbour in its 3x3 square is agent 0, 4 steps younger.
    assert token(enc, obs.values[1], "age_lead", agent=1) == pytest.approx(-4 / 8)
    assert token(enc, obs.values[1], "age_lead", agent=2) == ABSENT
    # Every other token reads exactly what version 1 writes.
    shared = [i for i, s in enumerate(enc.specs) if s.name not in ("goal_age", "age_lead")]
    np.testing.assert_array_equal(obs.values[:, shared], v1.encode(state).values)


def test_version_2_needs_the_ages_and_layouts_pick_the_version() -> None:
    enc = encoder(ages=True)
    with pytest.raises(ValueError, match="needs the goal ages"):
        enc.encode(GridState(np.array([[0, 0]]), np.array([[0, 1]]), np.zeros((1, 2))))
    with pytest.raises(ValueError, match="1 positions but 2 goal ages"):
        enc.encode(GridState(np.array([[0, 0]]), np.array([[0, 1]]), np.zeros((1, 2)),
                             np.array([1, 2])))
    for ages in (False, True):
        made = Encoder.from_layout(MAP, encoder(ages=ages).metadata)
        assert made.ages is ages and made.layout_digest == encoder(ages=ages).layout_digest
    # A model file's metadata holds strings.
    as_strings = {k: str(v) for k, v in encoder(ages=True).metadata.items()}
    assert Encoder.from_layout(MAP, as_strings).ages
    with pytest.raises(ValueError, match="reads encoder pogema-ctg v4"):
        Encoder.from_layout(MAP, dict(encoder().metadata, encoder_version=4))
    made = Encoder.from_layout(MAP, dict(encoder().metadata, encoder_version=3))
    assert made.claims and made.ages and made.version == 3
    with pytest.raises(ValueError, match="reads encoder other v1"):
        Encoder.from_layout(MAP, dict(encoder().metadata, encoder="other"))


def test_docs_list_every_token_of_the_default_layout() -> None:
    doc = (REPO / "docs/encoder.md").read_text()
    assert markdown_table() in doc, "docs/encoder.md is stale: regenerate its table with " \
        "'python -m marlgpt_planner.encoder'"
    assert re.search(rf"{ENCODER_NAME}.*version {ENCODER_VERSION}", doc)
    assert len(layout(5, 3, 8)) == 198
