"""The Level-Based Foraging expert: the actions that ``marlgpt generate --env lbf`` records.

A team heuristic: every agent heads for the same food (the one closest to all agents
together), and loads once it stands next to it. It reads the game itself (an ``lbforaging``
``ForagingEnv``): the food field, the players' positions and their valid actions.
Actions: 0 none, 1 north, 2 south, 3 west, 4 east, 5 load.
"""
import numpy as np

NUM_ACTIONS = 6


def action_mask(env) -> np.ndarray:
    """(agents, 6): the actions the game allows each player now."""
    mask = np.zeros((len(env.players), NUM_ACTIONS), dtype=bool)
    for i, player in enumerate(env.players):
        for action in env._valid_actions[player]:
            mask[i, action.value] = True
    return mask


def expert_actions(env, rng: np.random.Generator) -> np.ndarray:
    """The team heuristic: all agents to the same food, LOAD when next to it."""
    foods = np.argwhere(env.field > 0)
    positions = np.array([p.position for p in env.players])
    mask = action_mask(env)
    if not len(foods):
        return np.zeros(len(positions), dtype=np.int64)
    cost = np.abs(foods[:, None, :] - positions[None, :, :]).sum(-1).sum(-1)
    target = foods[int(np.argmin(cost))]
    moves = {1: (-1, 0), 2: (1, 0), 3: (0, -1), 4: (0, 1)}
    actions = np.zeros(len(positions), dtype=np.int64)
    for i, pos in enumerate(positions):
        if np.abs(target - pos).sum() == 1 and mask[i, 5]:
            actions[i] = 5
            continue
        best, best_d = 0, np.abs(target - pos).sum()
        for action, (dr, dc) in moves.items():
            if mask[i, action]:
                d = np.abs(target - (pos + (dr, dc))).sum()
                if 1 <= d < best_d or (d == best_d and rng.random() < 0.3):
                    best, best_d = action, d
        actions[i] = best
    return actions
