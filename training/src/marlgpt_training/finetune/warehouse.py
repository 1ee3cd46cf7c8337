"""Multi-robot warehouse (RWARE) episodes for fine-tuning: the tasks, tokens (the errand
included), action mask and score of :mod:`marlgpt_training.envs.rware`.

RWARE rewards the robot that delivers a requested shelf (1 per delivery); with
``rollout.team_reward`` every robot gets the team's deliveries. The score is deliveries per
step, ``marlgpt eval --env rware``'s number. A memoryless policy that always takes its most
likely action locks robots facing each other for good, so the evaluation samples by default
(``eval_sample``), as ``marlgpt eval --env rware --sample`` does.
"""
from typing import Callable, List, Tuple

import numpy as np

from marlgpt_planner.rankings import choose
from marlgpt_training.envs import rware
from marlgpt_training.expert.warehouse import action_mask
from marlgpt_training.finetune.checks import check_layout, with_defaults

NAME = rware.NAME
#: Settings (``settings:`` in the config) and their defaults: the tasks of ``marlgpt generate
#: --env rware``'s default, RWARE's episode length, a sampled evaluation.
DEFAULTS = {"sizes": list(rware.DEFAULT_SIZES), "agents": list(rware.DEFAULT_AGENTS),
            "steps": rware.MAX_STEPS, "eval_sample": True}
#: Seeds of the evaluation episodes: ``marlgpt eval --env rware``'s (tasks in turn).
EVAL_SEED = 10_000


class WarehouseEpisode:
    """One RWARE episode of ``task`` from ``seed`` (see :class:`~.vector.Episode`)."""

    def __init__(self, task: rware.Task, seed: int, steps: int, team_reward: bool) -> None:
        self.task, self.steps, self.team_reward = task, steps, team_reward
        self.env = rware.make_env(task, steps)
        self.obs, _ = self.env.reset(seed=seed)
        self.num_agents = task[1]
        self.fields: dict = {}  # the errands' distance fields, kept for the episode
        self.t = 0
        self.deliveries = 0.0

    def observe(self) -> Tuple[np.ndarray, np.ndarray]:
        mask = action_mask(self.env)
        return rware.tokens(self.obs, self.env, self.fields, mask), mask

    def step(self, logits: np.ndarray, sample: bool, rng: np.random.Generator
             ) -> Tuple[np.ndarray, np.ndarray, bool, bool]:
        actions = choose(logits, action_mask(self.env), sample, rng).astype(np.int64)
        self.obs, reward, terminated, truncated, _ = self.env.step(actions.tolist())
        reward = np.asarray(reward, dtype=np.float32)
        self.deliveries += float(reward.sum())
        self.t += 1
        if self.team_reward:
            reward = np.full_like(reward, reward.sum())
        # A warehouse never runs out of requests: RWARE's "done" is its step limit (or its
        # inactivity limit), a cut to bootstrap from, not an end.
        return actions, reward, False, bool(terminated) or bool(truncated)

    def score(self) -> float:
        """Deliveries per step."""
        return self.deliveries / max(self.t, 1)


class WarehouseWorld:
    """Fine-tuning in ``rware`` (settings: :data:`DEFAULTS`)."""

    name = NAME

    def __init__(self, settings: dict, layout: dict, team_reward: bool, seed: int) -> None:
        values = with_defaults(NAME, settings, DEFAULTS)
        expected = rware.layout()
        check_layout(NAME, layout, expected)
        self.tasks = rware.check_tasks([str(s) for s in values["sizes"]],
                                       [int(n) for n in values["agents"]])
        self.steps = int(values["steps"])
        if self.steps < 1:
            raise ValueError(f"{NAME} settings: steps must be at least 1, got {self.steps}")
        self.eval_sample = bool(values["eval_sample"])
        self.settings = values
        self.layout = layout
        self.team_reward = team_reward
        self.seed = seed
        self.max_agents = max(n for _, n in self.tasks)
        self.num_tokens = int(expected["num_tokens"])
        self.num_actions = rware.NUM_ACTIONS

    def episode(self, index: int) -> WarehouseEpisode:
        rng = np.random.default_rng([self.seed, index])
        task = self.tasks[int(rng.integers(len(self.tasks)))]
        return WarehouseEpisode(task, int(rng.integers(2**31)), self.steps, self.team_reward)

    def eval_scores(self, logits_of: Callable[[np.ndarray], np.ndarray],
                    episodes: int) -> List[float]:
        """Deliveries per step per episode on ``marlgpt eval --env rware``'s episodes (the same
        seeds, the tasks in turn), the policy sampled unless ``eval_sample`` is false."""
        def policy(rng: np.random.Generator) -> rware.Act:
            return lambda env, tokens, mask: choose(logits_of(tokens), mask,
                                                    self.eval_sample, rng)

        return [value for _, value in rware.episode_scores(policy, episodes, self.tasks,
                                                           EVAL_SEED, self.steps)]

    def describe(self) -> str:
        tasks = ", ".join(rware.task_name(t) for t in self.tasks)
        mode = "sampled" if self.eval_sample else "greedy"
        return f"{NAME}: tasks {tasks}, {self.steps} steps, evaluation {mode}"
