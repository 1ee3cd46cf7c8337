"""Delta data: the expert's actions on the states the model itself reaches where it falls behind.

Behaviour cloning only ever shows the model the expert's own states; once the model deviates,
in a dense crowd, it meets states no expert visited and has nothing to imitate. Delta data
(after MAPF-GPT-DDG) fixes that one episode at a time:

1. The exported model (the runtime robots use, no torch) drives a fresh generated episode,
   with the soft rule, the collision shield or the sequential resolution, exactly as it would
   be deployed.
2. The episode is cut into windows of ``window`` steps. From each window's first state the
   expert runs the same number of steps with the goals held fixed; both are credited with
   the path length they covered toward those goals (an agent that reaches its goal gets its
   whole start distance).
3. The windows where the expert covers most more than the model (the worst ``keep``) are
   restarted with a fresh expert, which labels every state the model visited in them with
   its own joint action. Those rows, tokens from the model's states, actions from the expert,
   are the episode's record: fine-tuning on old plus delta data (``marlgpt train --init``)
   teaches the model what to do where it actually goes wrong.

Each kept window is its own segment of the record (``done`` at its last step), so nothing
bootstraps across the cut. A model of encoder version 3 gets its labels as the sequential
resolution asks them: the expert's step replayed in PIBT's serve order, each agent's tokens
holding the claims made before it (:func:`marlgpt_training.envs.pogema.teacher_forced`).
The rewards are the label's (1 where it shortens the path).

With a ``teacher`` (MAGPO's guider -> learner, after Li et al. 2025), the labels come from a
sequential model instead of the expert: at each state of a kept window the teacher decides
the joint step under the sequential resolution, each agent ranking its actions knowing the
cells claimed before it, and the learner (the rolled-out model, e.g. the pure decentralized
policy under the soft rule) learns each agent's part of that step from its own observation.
``closeness`` W keeps the guider near what the learner can represent: each agent's ranking is
by ``log p_teacher + W * log p_learner`` (the learner's probabilities on its own tokens), so
with W > 0 the teacher prefers, among its good moves, those the learner already leans to. The
windows are still chosen by the expert's yardstick (where the learner falls furthest behind).
"""
import time
from dataclasses import asdict, dataclass, replace
from typing import List, Optional, Tuple

import numpy as np

from marlgpt_planner.actions import DELTAS, moves
from marlgpt_planner.encoder import Encoder, GridState
from marlgpt_planner.grid import DistanceFields, neighbour_distances
from marlgpt_planner.policy import RuntimePolicy, encoder_expectation, sha256_file
from marlgpt_planner.sequential import AskInTurn, log_softmax
from marlgpt_planner.shield import GoalAges
from marlgpt_planner.step_rule import SEQUENTIAL, SHIELD, StepRule
from marlgpt_training.data.records import EpisodeRecord
from marlgpt_training.envs.pogema import (
    ENV_ID,
    EpisodeSpec,
    GeneratorConfig,
    LifelongMapfGenerator,
    distances,
    episode_start,
    make_encoder,
    make_expert,
    new_goals,
    teacher_forced,
)
from marlgpt_training.envs.pogema import NAME as ENV_NAME


@dataclass(frozen=True)
class DeltaConfig:
    """How the model is rolled out and which windows are kept (see the module doc)."""

    model: str
    resolution: str = SHIELD
    sample: bool = False
    window: int = 16
    keep: int = 4
    path_weight: float = 0.0
    #: A sequential (encoder v3) model that labels the kept windows instead of the expert.
    teacher: Optional[str] = None
    #: The teacher's ranking: log p_teacher + closeness x log p_learner (0: the teacher's own).
    closeness: float = 0.0

    @property
    def rule(self) -> StepRule:
        """How the model's steps are settled (no search: the rollout is the model's own)."""
        return StepRule(self.resolution, self.path_weight)

    def check(self) -> None:
        self.rule  # noqa: B018  (a bad resolution or path weight raises here)
        if self.window < 1 or self.keep < 1:
            raise ValueError(f"window and keep must be at least 1, got {self.window}, "
                             f"{self.keep}")
        if not self.closeness >= 0:
            raise ValueError(f"closeness must be >= 0, got {self.closeness}")
        if self.closeness and self.teacher is None:
            raise ValueError("closeness weighs a teacher's rankings: it needs a teacher")


class Trajectory:
    """What the model did in one episode: its states, step by step."""

    def __init__(self) -> None:
        self.positions: List[np.ndarray] = []
        self.goals: List[np.ndarray] = []
        self.history: List[np.ndarray] = []
        self.ages: List[np.ndarray] = []
        self.goals_reached = 0


class DeltaGenerator(LifelongMapfGenerator):
    """``pogema-lmapf`` delta data for :func:`marlgpt_training.data.generate.generate`."""

    def __init__(self, config: GeneratorConfig, delta: DeltaConfig) -> None:
        super().__init__(config)
        delta.check()
        self.delta = delta
        self.model_sha256 = sha256_file(delta.model)
        runtime = RuntimePolicy(delta.model)  # refuses a model whose encoder is not this data's
        probe = Encoder.from_layout(np.zeros((1, 1), dtype=bool), runtime.metadata)
        runtime.check(encoder_expectation(probe))
        delta.rule.refuse_model(probe.version, delta.model)
        # The data takes the model's layout (goal ages, claims or not).
        if (probe.ages, probe.claims) != (config.ages, config.claims):
            self.config = replace(config, ages=probe.ages, claims=probe.claims)
        self.teacher_sha256 = None
        if delta.teacher is not None:
            self.teacher_sha256 = sha256_file(delta.teacher)
            teacher = RuntimePolicy(delta.teacher)
            layout = Encoder.from_layout(np.zeros((1, 1), dtype=bool), teacher.metadata)
            teacher.check(encoder_expectation(layout))
            StepRule(SEQUENTIAL).refuse_model(layout.version, delta.teacher)
        self._runtime = self._teacher = None

    def settings(self) -> dict:
        return dict(super().settings(), delta=dict(asdict(self.delta),
                                                   model_sha256=self.model_sha256,
                                                   teacher_sha256=self.teacher_sha256))

    def runtime(self) -> RuntimePolicy:
        if self._runtime is None:  # made in the worker process, one ONNX session each
            self._runtime = RuntimePolicy(self.delta.model, sample=self.delta.sample)
        return self._runtime

    def teacher(self) -> Optional[RuntimePolicy]:
        if self._teacher is None and self.delta.teacher is not None:
            self._teacher = RuntimePolicy(self.delta.teacher)
        return self._teacher

    def episode(self, index: int, tokens: bool = True) -> EpisodeRecord:
        return delta_episode(self.config.spec(index), self.config, self.delta, self.runtime(),
                             tokens, self.teacher())


def model_rollout(spec: EpisodeSpec, config: GeneratorConfig, delta: DeltaConfig,
                  runtime: RuntimePolicy, obstacles: np.ndarray, free: np.ndarray,
                  positions: np.ndarray, goals: np.ndarray, rng: np.random.Generator,
                  encoder: Encoder) -> Trajectory:
    """The model's own lifelong episode (goals redrawn on arrival), as deployed."""
    runtime.rng = np.random.default_rng(spec.seed)
    trajectory = Trajectory()
    history = np.zeros((len(positions), config.history), dtype=np.int64)
    ages = GoalAges()
    agents = range(len(positions))
    rule = delta.rule
    for _ in range(spec.steps):
        trajectory.positions.append(positions.copy())
        trajectory.goals.append(goals.copy())
        trajectory.history.append(history.copy())
        goal_ages = np.array(ages.update(agents, goals))
        trajectory.ages.append(goal_ages)
        obs = encoder.encode(GridState(positions, goals, history, goal_ages))
        path_left = (neighbour_distances(encoder.fields, positions, goals)
                     if rule.path_weight else None)
        if rule.in_turn:
            ask = AskInTurn(encoder, obs, positions, runtime.logits, rule.choose, delta.sample,
                            runtime.rng, path_left)
            next_positions = rule.settle(positions, None, goal_ages.tolist(),
                                         obstacles=obstacles, decide=ask,
                                         radius=encoder.radius)
        else:
            rankings = rule.choose(runtime.logits(obs.values), obs.action_mask, delta.sample,
                                   runtime.rng, path_left)
            next_positions = rule.settle(positions, rankings, goal_ages.tolist(),
                                         obstacles=obstacles)
        history = np.roll(history, 1, axis=1)
        history[:, 0] = moves(positions, next_positions)
        positions = next_positions
        at_goal = (positions == goals).all(axis=1)
        trajectory.goals_reached += int(at_goal.sum())
        if at_goal.any():
            goals = goals.copy()
            goals[at_goal] = new_goals(free, positions[at_goal], rng)
    return trajectory


def progress(fields: DistanceFields, path: List[np.ndarray], goals: np.ndarray) -> int:
    """Path length covered toward ``goals`` along ``path`` (cells per step, first = start):
    an agent that reached its goal on the way gets its whole start distance."""
    start = distances(fields, path[0], goals)
    reached = np.zeros(len(goals), dtype=bool)
    for cells in path[1:]:
        reached |= (cells == goals).all(axis=1)
    covered = np.where(reached, start, start - distances(fields, path[-1], goals))
    return int(covered.sum())


def expert_path(obstacles: np.ndarray, seed: int, config: GeneratorConfig, positions: np.ndarray,
                goals: np.ndarray, ages: np.ndarray, steps: int) -> List[np.ndarray]:
    """The expert's cells for ``steps`` steps from ``positions`` with ``goals`` held fixed
    (held for ``ages`` steps so far)."""
    expert = make_expert(obstacles, seed, config)
    expert.resume(goals, ages)
    path = [positions]
    for _ in range(steps):
        path.append(expert.next_cells(path[-1], goals))
    return path


def window_gaps(trajectory: Trajectory, obstacles: np.ndarray, fields: DistanceFields,
                spec: EpisodeSpec, config: GeneratorConfig,
                window: int) -> List[Tuple[int, int, int]]:
    """(start step, expert's progress, model's progress) for every whole window."""
    out = []
    steps = len(trajectory.positions)
    for start in range(0, steps - window, window):
        goals = trajectory.goals[start]
        model = progress(fields, trajectory.positions[start:start + window + 1], goals)
        path = expert_path(obstacles, spec.seed + start, config, trajectory.positions[start],
                           goals, trajectory.ages[start], window)
        out.append((start, progress(fields, path, goals), model))
    return out


class Guide:
    """A sequential model's joint step at the learner's states (the ``teacher`` of the
    module doc), kept ``closeness`` near the learner."""

    def __init__(self, teacher: RuntimePolicy, obstacles: np.ndarray, fields: DistanceFields,
                 closeness: float) -> None:
        self.teacher, self.closeness = teacher, closeness
        same_pad = int(teacher.metadata["radius"]) == fields.pad
        self.encoder = Encoder.from_layout(obstacles, teacher.metadata,
                                           fields=fields if same_pad else None)
        self.rule = StepRule(SEQUENTIAL)

    def step(self, state: GridState, learner_logits: np.ndarray) -> np.ndarray:
        """Every agent's action in the teacher's sequential step from ``state``, greedy;
        ``learner_logits`` (N, 5) are the learner's on its own tokens."""
        obs = self.encoder.encode(state)
        prior = self.closeness * log_softmax(learner_logits) if self.closeness else None
        ask = AskInTurn(self.encoder, obs, state.positions, self.teacher.logits,
                        self.rule.choose, prior=prior)
        after = self.rule.settle(state.positions, None, state.ages.tolist(), decide=ask,
                                 radius=self.encoder.radius)
        return moves(state.positions, after)


def delta_episode(spec: EpisodeSpec, config: GeneratorConfig, delta: DeltaConfig,
                  runtime: RuntimePolicy, tokens: bool = True,
                  teacher: Optional[RuntimePolicy] = None) -> EpisodeRecord:
    """Roll the model out, find its worst windows, and record the expert's (or with
    ``teacher``, :class:`Guide`'s) labels there."""
    started = time.perf_counter()
    obstacles, free, positions, goals, rng = episode_start(spec)
    n = len(positions)
    encoder = make_encoder(obstacles, config, make_expert(obstacles, spec.seed, config))
    fields = encoder.fields
    runtime.check(encoder_expectation(encoder))
    trajectory = model_rollout(spec, config, delta, runtime, obstacles, free, positions, goals,
                               rng, encoder)
    gaps = window_gaps(trajectory, obstacles, fields, spec, config, delta.window)
    worst = sorted(gaps, key=lambda g: (-(g[1] - g[2]), g[0]))[:delta.keep]
    worst.sort()
    segments = []
    ties = np.random.default_rng([spec.seed, 2])
    guide = None if teacher is None else Guide(teacher, obstacles, fields, delta.closeness)
    learner_agrees = 0
    for start, _, _ in worst:
        expert = make_expert(obstacles, spec.seed + start, config)
        expert.resume(trajectory.goals[start], trajectory.ages[start])
        for t in range(start, start + delta.window):
            state = GridState(trajectory.positions[t], trajectory.goals[t], trajectory.history[t],
                              trajectory.ages[t])
            obs = encoder.encode(state)
            if guide is None:
                actions = expert.step(state.positions, state.goals)
            else:
                logits = runtime.logits(obs.values)
                actions = guide.step(state, logits)
                greedy = np.where(obs.action_mask, logits, -np.inf).argmax(axis=1)
                learner_agrees += int((greedy == actions).sum())
            if encoder.claims:  # the expert's step as the sequential resolution asks it
                obs = teacher_forced(encoder, obs, state.positions,
                                     state.positions + DELTAS[actions],
                                     state.ages + ties.uniform(0.0, 0.5, n))
            before = distances(fields, state.positions, state.goals)
            after = distances(fields, state.positions + DELTAS[actions], state.goals)
            segments.append((state, obs, actions, after < before, t == start + delta.window - 1))
    t = len(segments)
    rec = EpisodeRecord(
        episode=spec.episode, env_id=ENV_ID,
        action=np.array([s[2] for s in segments], dtype=np.uint8).reshape(t, n),
        action_mask=np.array([s[1].action_mask for s in segments], dtype=bool).reshape(t, n, -1),
        reward=np.array([s[3] for s in segments], dtype=np.float32).reshape(t, n),
        done=np.repeat(np.array([s[4] for s in segments], dtype=bool)[:, None], n, axis=1),
        tokens=(np.array([s[1].values for s in segments], dtype=np.float16)
                .reshape(t, n, encoder.num_tokens) if tokens else None),
        state={"position": np.array([s[0].positions for s in segments], dtype=np.int16)
               .reshape(t, n, 2),
               "goal": np.array([s[0].goals for s in segments], dtype=np.int16).reshape(t, n, 2)},
        static=obstacles.astype(np.uint8),
        info=dict(asdict(spec), num_agents=n, env=ENV_NAME,
                  goals_reached=trajectory.goals_reached,
                  throughput=trajectory.goals_reached / spec.steps,
                  windows=[{"start": s, "expert": e, "model": m} for s, e, m in gaps],
                  kept=[s for s, _, _ in worst], seconds=time.perf_counter() - started))
    if guide is not None:  # how far the learner is from its teacher where it was labelled
        rec.info["learner_agreement"] = learner_agrees / max(1, t * n)
    return rec
