"""POGEMA's action contract: indices, deltas and their inverse."""
import numpy as np
import pytest

from marlgpt_planner import actions


def test_pogema_action_order() -> None:
    # 0 wait, 1 up (row-1), 2 down (row+1), 3 left (col-1), 4 right (col+1)
    assert actions.apply((5, 5), actions.WAIT) == (5, 5)
    assert actions.apply((5, 5), actions.UP) == (4, 5)
    assert actions.apply((5, 5), actions.DOWN) == (6, 5)
    assert actions.apply((5, 5), actions.LEFT) == (5, 4)
    assert actions.apply((5, 5), actions.RIGHT) == (5, 6)


@pytest.mark.parametrize("action", range(actions.NUM_ACTIONS))
def test_between_inverts_apply(action: int) -> None:
    src = (3, 7)
    assert actions.between(src, actions.apply(src, action)) == action


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="action must be in 0..4"):
        actions.apply((0, 0), 5)
    with pytest.raises(ValueError, match="not 4-neighbours"):
        actions.between((0, 0), (1, 1))


def test_moves_from_cell_changes() -> None:
    before = np.array([[2, 2], [2, 2], [2, 2], [2, 2], [2, 2]])
    after = np.array([[2, 2], [1, 2], [3, 2], [2, 1], [2, 3]])
    assert actions.moves(before, after).tolist() == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match=r"agents \[1\] moved more than one cell"):
        actions.moves(np.array([[0, 0], [0, 0]]), np.array([[0, 1], [2, 0]]))
