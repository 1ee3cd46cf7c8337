"""``pogema-lmapf``: POGEMA lifelong multi-agent path finding, the robots' task.

**Data.** Expert rollouts in lifelong MAPF (POGEMA semantics) on generated maps. The
environment is simulated here rather than by POGEMA, for speed: the same synchronous step
with the soft collision rule (``marlgpt_planner.soft_rule``), and on reaching its goal an agent
gets a new one, drawn uniformly from the free cells other than its own. The expert plans, the
one encoder (``marlgpt_planner.encoder``) makes the tokens, and every step is recorded.

Reward (the paper's dense POGEMA reward): 1 for a step that shortens the agent's path to its
goal, 0 otherwise.

The pieces of an episode are public for other drivers of the same world (delta data,
``data.delta``; scripts): :func:`episode_start` (map, starts, first goals), :func:`make_expert`,
:func:`make_encoder`, :func:`new_goals` (the lifelong goal draw) and :func:`distances`.

**Evaluation** (``marlgpt eval``, :func:`run_eval`): the POGEMA benchmark itself, on a map set
in its format (``marlgpt_training.benchmark``), beside the set's published results.

The registry entry (``marlgpt_training.envs``): the module-level names below.
"""
import argparse
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import List, Sequence

import numpy as np

from marlgpt_planner import step_rule
from marlgpt_planner.actions import DELTAS, moves
from marlgpt_planner.encoder import ENCODER_NAME, TEAM_NEIGHBOUR, Encoder, GridState, Observation
from marlgpt_planner.expert import PibtExpert, pibt
from marlgpt_planner.grid import DistanceFields
from marlgpt_planner.sequential import sequential_step
from marlgpt_planner.shield import GoalAges
from marlgpt_planner.soft_rule import resolve
from marlgpt_training.data.maps import make_map
from marlgpt_training.data.records import EpisodeRecord
from marlgpt_training.envs import common

NAME = "pogema-lmapf"
SUMMARY = "POGEMA lifelong multi-agent path finding (the robots' task)"
EVALUATION = "throughput on a benchmark map set (--map-set), beside the published results"
SCORE_UNIT = "goals/step"
#: The one grid encoder (docs/encoder.md); a checkpoint acts through policies.model.ModelPolicy.
ENCODER = ENCODER_NAME
VECTOR = False
DELTA_DATA = True
#: Token teams whose slots are interchangeable (``data.shuffle_agents``): the neighbours.
EXCHANGEABLE = (TEAM_NEIGHBOUR,)
PACKAGE = ("pogema", "benchmark environment", "pogema")
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
    #: Encoder v3: each agent's tokens as the sequential resolution asks it, the cells
    #: claimed by the agents served before it (serve order: the expert's step replayed in
    #: PIBT's order, ties shuffled); implies ``ages``.
    claims: bool = False
    expert_candidates: int = pibt.CANDIDATES
    expert_horizon: int = pibt.HORIZON
    expert_noise: float = pibt.NOISE
    expert_window: int = pibt.WINDOW
    expert_iterations: int = pibt.ITERATIONS
    expert_group: int = pibt.GROUP

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

    name = NAME
    env_id = ENV_ID
    num_actions = len(DELTAS)

    def __init__(self, config: GeneratorConfig) -> None:
        self.config = config

    def settings(self) -> dict:
        return self.config.to_json()

    def token_layout(self) -> dict:
        encoder = Encoder(np.zeros((1, 1), dtype=bool), self.config.radius, self.config.history,
                          self.config.neighbours, ages=self.config.ages,
                          claims=self.config.claims)
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
    """The data's expert on ``obstacles`` (PIBT with ``config``'s search and LNS), seeded."""
    return PibtExpert(obstacles, seed=seed, candidates=config.expert_candidates,
                      horizon=config.expert_horizon, noise=config.expert_noise,
                      window=config.expert_window, iterations=config.expert_iterations,
                      group=config.expert_group)


def make_encoder(obstacles: np.ndarray, config: GeneratorConfig, expert: PibtExpert) -> Encoder:
    """The data's encoder on ``obstacles``, its distance fields computed by the expert."""
    fields = DistanceFields(obstacles, pad=config.radius, compute=expert.distances)
    return Encoder(obstacles, config.radius, config.history, config.neighbours, fields=fields,
                   ages=config.ages, claims=config.claims)


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
    ties = np.random.default_rng([spec.seed, 1])
    reached = 0
    collisions = 0
    for step in range(t):
        ages = np.array(goal_ages.update(range(n), goals))
        obs = encoder.encode(GridState(positions, goals, history, ages))
        actions = expert.step(positions, goals)
        if encoder.claims:
            obs = teacher_forced(encoder, obs, positions, positions + DELTAS[actions],
                                 ages + ties.uniform(0.0, 0.5, n))
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


def teacher_forced(encoder: Encoder, obs: Observation, positions: np.ndarray,
                   next_cells: np.ndarray, priorities: np.ndarray) -> Observation:
    """``obs`` (a version 3 encoding of the step's start) as the sequential resolution would
    have asked each agent during the joint step ``next_cells`` (no shared cells, no swaps):
    served in ``priorities``' order (higher first) with PIBT's inheritance, each agent sees
    the claims of the agents served before it; its action mask drops the claimed cells, so
    the step's own action is always allowed."""
    n = len(positions)
    taken = moves(positions, next_cells)

    def replay(rows, claimed, known):
        return [[int(taken[row])] for row in rows]

    _, ledger = sequential_step(positions, priorities, replay, encoder.radius)
    rank = np.empty(n, dtype=np.int64)
    rank[ledger.order] = np.arange(n)
    known = rank[None, :] < rank[:, None]
    values = obs.values.copy()
    claims = encoder.claim_values(positions, np.arange(n), next_cells, known)
    values[:, encoder.claims_start:] = claims
    mask = obs.action_mask & (claims[:, :len(DELTAS)] == 0)
    if not mask[np.arange(n), taken].all():
        raise ValueError("a replayed step's own action is claimed: the step has a conflict")
    return Observation(values, mask)


def new_goals(free: np.ndarray, positions: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A uniformly drawn free cell for each agent, never the agent's own cell."""
    goals = free[rng.integers(len(free), size=len(positions))]
    same = (goals == positions).all(axis=1)
    while same.any():
        goals[same] = free[rng.integers(len(free), size=int(same.sum()))]
        same = (goals == positions).all(axis=1)
    return goals.astype(np.int64)


def distances(fields: DistanceFields, positions: np.ndarray, goals: np.ndarray) -> np.ndarray:
    """Each agent's shortest-path length from its position to its goal."""
    pairs = zip(positions.tolist(), goals.tolist(), strict=True)
    return np.array([fields.distance(p, g) for p, g in pairs])


# --- the registry entry -----------------------------------------------------------------------

def make_generator(settings: dict) -> LifelongMapfGenerator:
    """The generator of ``settings`` (:class:`GeneratorConfig`'s fields; lists as tuples)."""
    return LifelongMapfGenerator(GeneratorConfig(
        **{k: tuple(v) if isinstance(v, list) else v for k, v in settings.items()}))


def generator_settings(args: argparse.Namespace) -> dict:
    """``marlgpt generate``'s map, agent, step, seed and expert options."""
    return GeneratorConfig(
        map_kinds=tuple(args.map_kinds), sizes=tuple(args.sizes),
        densities=tuple(args.densities),
        agents=tuple(args.agents) if args.agents is not None else GeneratorConfig().agents,
        steps=args.steps,
        seed=args.seed, expert_candidates=args.expert_candidates,
        expert_horizon=args.expert_horizon, expert_window=args.expert_window,
        expert_iterations=args.expert_iterations, ages=args.ages, claims=args.claims).to_json()


def check_generate(args: argparse.Namespace) -> List[str]:
    problems = common.no_scenarios(args)
    for name, least in (("expert_candidates", 1), ("expert_horizon", 1), ("expert_window", 0),
                        ("expert_iterations", 0)):
        value = getattr(args, name, least)
        if value < least:
            problems.append(f"--{name.replace('_', '-')} must be at least {least}, got {value}")
    return problems


def check_eval(args: argparse.Namespace) -> List[str]:
    if args.map_set is None:
        return [f"--map-set DIR is required for {NAME}"]
    return []


def run_eval(args: argparse.Namespace) -> dict:
    """The benchmark on ``--map-set``: its table printed, its report (per agent count and
    per instance) returned."""
    import multiprocessing

    from marlgpt_training.benchmark.evaluate import evaluate
    from marlgpt_training.benchmark.mapset import MapSet

    try:
        map_set = MapSet.load(args.map_set)
    except OSError as exc:
        raise ValueError(str(exc)) from None
    if args.json is not None and args.json.is_dir():
        raise ValueError(f"--json {args.json} is a directory")
    if args.max_instances is not None and args.max_instances < 1:
        raise ValueError("--max-instances must be at least 1")
    if args.first_instance < 1:
        raise ValueError("--first-instance must be at least 1")
    workers = args.workers or multiprocessing.cpu_count()
    rule = step_rule.StepRule(args.resolution, args.path_weight, args.search,
                              not args.no_rotations)
    report = evaluate(map_set, args.policy, agent_counts=args.agents,
                      max_instances=args.max_instances, workers=workers,
                      progress=not args.no_progress, sample=args.sample, rule=rule,
                      first_instance=args.first_instance)
    print(report.table())
    return report.to_json()


def save_untrained(out: Path, size: str, seed: int = 0) -> Path:
    """A freshly initialised ``size`` model as a POGEMA checkpoint at
    ``OUT/checkpoints/step-000000`` (:func:`marlgpt_training.model.checkpoint.save_untrained`
    with this environment's token layout): what latency benchmarks and export tests need."""
    from marlgpt_training.model import checkpoint

    return checkpoint.save_untrained(out, size, LifelongMapfGenerator(GeneratorConfig()), seed)
