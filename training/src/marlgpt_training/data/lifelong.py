"""Expert rollouts in lifelong MAPF (POGEMA semantics) for the dataset.

The environment is simulated here rather than by POGEMA, for speed: the same synchronous step
with the soft collision rule (``marlgpt_planner.soft_rule``), and on reaching its goal an agent
gets a new one, drawn uniformly from the free cells other than its own. The expert plans, the
one encoder (``marlgpt_planner.encoder``) makes the tokens, and every step is recorded.

Reward (the paper's dense POGEMA reward): 1 for a step that shortens the agent's path to its
goal, 0 otherwise.
"""
import time
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

from marlgpt_planner.actions import DELTAS, moves
from marlgpt_planner.encoder import Encoder, GridState
from marlgpt_planner.grid import DistanceFields
from marlgpt_planner.shield import GoalAges
from marlgpt_planner.soft_rule import resolve
from marlgpt_training.data.maps import make_map
from marlgpt_training.data.records import EpisodeRecord
from marlgpt_training.environments import POGEMA
from marlgpt_training.expert import PibtExpert, pibt

ENV_NAME = POGEMA
ENV_ID = 0


@dataclass(frozen=True)
class EpisodeSpec:
    """Everything that determines one generated episode."""

    episode: int
    seed: int
    map_kind: str
    height: int
    width: int
    density: float
    num_agents: int
    steps: int


@dataclass(frozen=True)
class GeneratorConfig:
    """The sampling space of generated episodes (see ``marlgpt generate --help``)."""

    map_kinds: Sequence[str] = ("mazes", "random")
    sizes: Sequence[int] = (17, 21, 25, 33)
    densities: Sequence[float] = (0.1, 0.2, 0.3)
    agents: Sequence[int] = (8, 16, 32, 48, 64)
    steps: int = 256
    seed: int = 0
    radius: int = 5
    history: int = 3
    neighbours: int = 8
    ages: bool = False
    expert_candidates: int = pibt.CANDIDATES
    expert_horizon: int = pibt.HORIZON
    expert_noise: float = pibt.NOISE

    def spec(self, episode: int) -> EpisodeSpec:
        """The episode's spec, a pure function of the config and its index."""
        rng = np.random.default_rng([self.seed, episode])
        kind = self.map_kinds[int(rng.integers(len(self.map_kinds)))]
        size = int(self.sizes[int(rng.integers(len(self.sizes)))])
        return EpisodeSpec(
            episode=episode, seed=int(rng.integers(2**31)), map_kind=kind, height=size, width=size,
            density=float(self.densities[int(rng.integers(len(self.densities)))]),
            num_agents=int(self.agents[int(rng.integers(len(self.agents)))]), steps=self.steps)

    def to_json(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


class LifelongMapfGenerator:
    """The ``pogema-lmapf`` environment for :func:`marlgpt_training.data.generate.generate`."""

    name = ENV_NAME
    env_id = ENV_ID
    num_actions = len(DELTAS)

    def __init__(self, config: GeneratorConfig) -> None:
        self.config = config

    def settings(self) -> dict:
        return self.config.to_json()

    def token_layout(self) -> dict:
        encoder = Encoder(np.zeros((1, 1), dtype=bool), self.config.radius, self.config.history,
                          self.config.neighbours, ages=self.config.ages)
        return dict(encoder.metadata, indices={k: v.tolist() for k, v in encoder.indices.items()})

    def episode(self, index: int, tokens: bool = True) -> EpisodeRecord:
        return rollout(self.config.spec(index), self.config, tokens)


def episode_start(spec: EpisodeSpec) -> tuple:
    """(obstacles, free cells, start cells, first goals, goal generator) of an episode."""
    rng = np.random.default_rng(spec.seed)
    obstacles = make_map(spec.map_kind, spec.height, spec.width, rng, spec.density)
    free = np.argwhere(~obstacles)
    n = min(spec.num_agents, len(free) - 1)
    picks = rng.permutation(len(free))
    positions = free[picks[:n]].astype(np.int64)
    goals = new_goals(free, positions, rng)
    return obstacles, free, positions, goals, rng


def make_expert(obstacles: np.ndarray, seed: int, config: GeneratorConfig) -> PibtExpert:
    return PibtExpert(obstacles, seed=seed, candidates=config.expert_candidates,
                      horizon=config.expert_horizon, noise=config.expert_noise)


def make_encoder(obstacles: np.ndarray, config: GeneratorConfig, expert: PibtExpert) -> Encoder:
    """The data's encoder on ``obstacles``, its distance fields computed by the expert."""
    fields = DistanceFields(obstacles, pad=config.radius, compute=expert.distances)
    return Encoder(obstacles, config.radius, config.history, config.neighbours, fields=fields,
                   ages=config.ages)


def rollout(spec: EpisodeSpec, config: GeneratorConfig, tokens: bool = True) -> EpisodeRecord:
    """Run the expert through one episode and record every agent's every step."""
    started = time.perf_counter()
    obstacles, free, positions, goals, rng = episode_start(spec)
    n = len(positions)
    expert = make_expert(obstacles, spec.seed, config)
    encoder = make_encoder(obstacles, config, expert)
    fields = encoder.fields

    t = spec.steps
    rec_pos = np.empty((t, n, 2), dtype=np.int16)
    rec_goal = np.empty((t, n, 2), dtype=np.int16)
    rec_action = np.empty((t, n), dtype=np.uint8)
    rec_mask = np.empty((t, n, len(DELTAS)), dtype=bool)
    rec_reward = np.empty((t, n), dtype=np.float32)
    rec_tokens = np.empty((t, n, encoder.num_tokens), dtype=np.float16) if tokens else None
    history = np.zeros((n, config.history), dtype=np.int64)
    goal_ages = GoalAges()
    reached = 0
    collisions = 0
    for step in range(t):
        ages = np.array(goal_ages.update(range(n), goals))
        obs = encoder.encode(GridState(positions, goals, history, ages))
        actions = expert.step(positions, goals)
        next_positions, _ = resolve(positions, positions + DELTAS[actions], obstacles)
        collisions += int((next_positions != positions + DELTAS[actions]).any(axis=1).sum())
        rec_pos[step], rec_goal[step] = positions, goals
        rec_action[step], rec_mask[step] = actions, obs.action_mask
        if rec_tokens is not None:
            rec_tokens[step] = obs.values
        before = distances(fields, positions, goals)
        after = distances(fields, next_positions, goals)
        rec_reward[step] = after < before
        history = np.roll(history, 1, axis=1)
        history[:, 0] = moves(positions, next_positions)
        positions = next_positions
        at_goal = (positions == goals).all(axis=1)
        reached += int(at_goal.sum())
        if at_goal.any():
            goals[at_goal] = new_goals(free, positions[at_goal], rng)
    done = np.zeros((t, n), dtype=bool)
    done[-1] = True
    info = dict(asdict(spec), num_agents=n, goals_reached=reached, throughput=reached / t,
                cancelled_moves=collisions, seconds=time.perf_counter() - started)
    return EpisodeRecord(episode=spec.episode, env_id=ENV_ID, action=rec_action,
                         action_mask=rec_mask, reward=rec_reward, done=done, tokens=rec_tokens,
                         state={"position": rec_pos, "goal": rec_goal},
                         static=obstacles.astype(np.uint8), info=info)


def new_goals(free: np.ndarray, positions: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A uniformly drawn free cell for each agent, never the agent's own cell."""
    goals = free[rng.integers(len(free), size=len(positions))]
    same = (goals == positions).all(axis=1)
    while same.any():
        goals[same] = free[rng.integers(len(free), size=int(same.sum()))]
        same = (goals == positions).all(axis=1)
    return goals.astype(np.int64)


def distances(fields: DistanceFields, positions: np.ndarray, goals: np.ndarray) -> np.ndarray:
    pairs = zip(positions.tolist(), goals.tolist(), strict=True)
    return np.array([fields.distance(p, g) for p, g in pairs])
