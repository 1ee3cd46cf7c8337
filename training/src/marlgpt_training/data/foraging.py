"""Level-Based Foraging (``lbforaging``), the second environment, for data, training and eval.

Agents with levels collect food on a grid; a food is collected when agents standing next to
it, whose levels add up to at least the food's level, all pick LOAD in the same step. Tasks
vary the field size, the number of agents and of foods.

Tokens (layout ``lbf-vector`` v1, 18 tokens): LBF's own observation vector, each element a
token. Foods first (up to 3: row, col, level; team 2, agent index 1..3), then the observing
agent (team 0, index 0) and the other agents (team 1, index 1..2), each (row, col, level).
Coordinates are divided by the field size, levels by 3; absent foods and agents read -1.
Actions: 0 none, 1 north, 2 south, 3 west, 4 east, 5 load; unavailable ones are masked.

The expert is a team heuristic: every agent heads for the same food (the one closest to all
agents together), and loads once it stands next to it.
"""
import warnings
from dataclasses import asdict, dataclass
from typing import Callable, Dict, List, Sequence, Tuple

import numpy as np

from marlgpt_training.data.records import EpisodeRecord
from marlgpt_training.environments import LBF

ENV_NAME = LBF
ENV_ID = 1
NUM_ACTIONS = 6
MAX_FOODS, MAX_PLAYERS, MAX_LEVEL = 3, 3, 3
TOKEN_NAMES = ("row", "col", "level")
#: (field size, agents, foods) of the tasks; an episode draws one.
TASKS = ((8, 2, 2), (8, 3, 2), (10, 3, 3), (10, 2, 3))
MAX_STEPS = 50


def layout() -> dict:
    """The token layout: encoder name, version and the four index arrays."""
    attr, team, agent, time = [], [], [], []
    for food in range(MAX_FOODS):
        for k in range(3):
            attr.append(k)
            team.append(2)
            agent.append(food + 1)
            time.append(0)
    for player in range(MAX_PLAYERS):
        for k in range(3):
            attr.append(3 + k)
            team.append(0 if player == 0 else 1)
            agent.append(player)
            time.append(0)
    return {"encoder": "lbf-vector", "encoder_version": 1, "num_tokens": len(attr),
            "num_actions": NUM_ACTIONS,
            "indices": {"attr": attr, "team": team, "agent": agent, "time": time}}


def make_env(task: Tuple[int, int, int]):
    from lbforaging.foraging.environment import ForagingEnv

    size, players, foods = task
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ForagingEnv(players=players, min_player_level=1, max_player_level=MAX_LEVEL,
                           min_food_level=1, max_food_level=None, field_size=(size, size),
                           max_num_food=foods, sight=size, max_episode_steps=MAX_STEPS,
                           force_coop=False)


def tokens(obs: Sequence[np.ndarray], task: Tuple[int, int, int]) -> np.ndarray:
    """(N, 18) token values from LBF's per-agent observation vectors."""
    size, players, foods = task
    out = np.full((len(obs), 3 * (MAX_FOODS + MAX_PLAYERS)), -1.0, dtype=np.float32)
    scale = np.array([size, size, MAX_LEVEL], dtype=np.float32)
    for i, vector in enumerate(obs):
        v = np.asarray(vector, dtype=np.float32).reshape(-1, 3)
        food, agent = v[:foods], v[foods:foods + players]
        food = np.where(food[:, 2:3] > 0, food / scale, -1.0)
        out[i, :3 * foods] = food.reshape(-1)
        out[i, 3 * MAX_FOODS:3 * MAX_FOODS + 3 * players] = (agent / scale).reshape(-1)
    return out


def action_mask(env) -> np.ndarray:
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


@dataclass(frozen=True)
class ForagingConfig:
    seed: int = 0


class ForagingGenerator:
    """The ``lbf`` environment for :func:`marlgpt_training.data.generate.generate`."""

    name = ENV_NAME
    env_id = ENV_ID
    num_actions = NUM_ACTIONS

    def __init__(self, config: ForagingConfig = ForagingConfig()) -> None:
        self.config = config

    def settings(self) -> dict:
        return dict(asdict(self.config), tasks=[list(t) for t in TASKS], max_steps=MAX_STEPS)

    def token_layout(self) -> dict:
        return layout()

    def episode(self, index: int, tokens_: bool = True) -> EpisodeRecord:
        rng = np.random.default_rng([self.config.seed, index])
        task = TASKS[int(rng.integers(len(TASKS)))]
        seed = int(rng.integers(2**31))
        record, score = run_episode(task, seed, lambda env, toks, mask: expert_actions(env, rng))
        record.episode = index
        record.info.update(map_kind=f"{task[0]}x{task[0]}-{task[1]}p-{task[2]}f", seed=seed,
                           throughput=score, goals_reached=int(record.info["foods"]))
        if not tokens_:
            record.tokens = None
        return record


def run_episode(task: Tuple[int, int, int], seed: int,
                act: Callable[[object, np.ndarray, np.ndarray], np.ndarray]
                ) -> Tuple[EpisodeRecord, float]:
    """One episode with ``act(env, tokens, mask) -> actions``; the record and its score.

    Score: the team's normalised return (1.0 when every food is collected).
    """
    env = make_env(task)
    obs, _ = env.reset(seed=seed)
    rows: Dict[str, List[np.ndarray]] = {"tokens": [], "action": [], "mask": [], "reward": []}
    score, done = 0.0, False
    foods = int((env.field > 0).sum())
    while not done:
        toks, mask = tokens(obs, task), action_mask(env)
        actions = np.asarray(act(env, toks, mask), dtype=np.int64)
        obs, reward, terminated, truncated, _ = env.step(actions.tolist())
        rows["tokens"].append(toks)
        rows["action"].append(actions)
        rows["mask"].append(mask)
        rows["reward"].append(np.asarray(reward, dtype=np.float32))
        score += float(np.sum(reward))
        done = bool(terminated) or bool(truncated)
    steps = len(rows["action"])
    done_flags = np.zeros((steps, task[1]), dtype=bool)
    done_flags[-1] = True
    collected = foods - int((env.field > 0).sum())
    record = EpisodeRecord(episode=0, env_id=ENV_ID, action=np.stack(rows["action"]),
                           action_mask=np.stack(rows["mask"]),
                           reward=np.stack(rows["reward"]), done=done_flags,
                           tokens=np.stack(rows["tokens"]).astype(np.float16),
                           info={"foods": collected, "steps": steps, "task": list(task)})
    return record, score


def evaluate(act: Callable[[object, np.ndarray, np.ndarray], np.ndarray], episodes: int,
             seed: int = 10_000) -> Dict[str, float]:
    """Mean normalised team return over ``episodes`` seeded episodes (tasks in turn)."""
    scores: Dict[str, List[float]] = {}
    for k in range(episodes):
        task = TASKS[k % len(TASKS)]
        _, score = run_episode(task, seed + k, act)
        scores.setdefault(f"{task[0]}x{task[0]}-{task[1]}p-{task[2]}f", []).append(score)
    out = {name: float(np.mean(v)) for name, v in scores.items()}
    out["score"] = float(np.mean([s for v in scores.values() for s in v]))
    return out
