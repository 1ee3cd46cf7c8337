"""Level-Based Foraging episodes for fine-tuning (the environment of
:mod:`marlgpt_training.envs.lbf`: its tasks, tokens, action mask and scoring)."""
from typing import Callable, List, Tuple

import numpy as np

from marlgpt_planner.rankings import choose
from marlgpt_training.envs import lbf
from marlgpt_training.expert.foraging import action_mask
from marlgpt_training.finetune.checks import check_layout

NAME = lbf.NAME
#: Seeds of the evaluation episodes: ``marlgpt eval --env lbf``'s (tasks in turn).
EVAL_SEED = 10_000


class ForagingEpisode:
    """One LBF episode of a task drawn by ``seed`` (see :class:`~.vector.Episode`)."""

    def __init__(self, seed: "int | List[int]", team_reward: bool) -> None:
        rng = np.random.default_rng(seed)
        self.task: Tuple[int, int, int] = lbf.TASKS[int(rng.integers(len(lbf.TASKS)))]
        self._start(self.task, int(rng.integers(2**31)), team_reward)

    @classmethod
    def of_task(cls, task: Tuple[int, int, int], seed: int,
                team_reward: bool) -> "ForagingEpisode":
        episode = cls.__new__(cls)
        episode.task = task
        episode._start(task, seed, team_reward)
        return episode

    def _start(self, task: Tuple[int, int, int], seed: int, team_reward: bool) -> None:
        self.env = lbf.make_env(task)
        self.obs, _ = self.env.reset(seed=seed)
        self.num_agents = task[1]
        self.team_reward = team_reward
        self.total = 0.0

    def observe(self) -> Tuple[np.ndarray, np.ndarray]:
        return lbf.tokens(self.obs, self.task), action_mask(self.env)

    def step(self, logits: np.ndarray, sample: bool, rng: np.random.Generator
             ) -> Tuple[np.ndarray, np.ndarray, bool, bool]:
        actions = choose(logits, action_mask(self.env), sample, rng).astype(np.int64)
        self.obs, reward, done, truncated, _ = self.env.step(actions.tolist())
        reward = np.asarray(reward, dtype=np.float32)
        self.total += float(reward.sum())
        if self.team_reward:
            reward = np.full_like(reward, reward.sum())
        ended = bool(done) or bool(truncated)
        # LBF reports its step limit as game over: it is a truncation when food is left.
        cut = ended and self.env.field.sum() > 0 and self.env.current_step >= lbf.MAX_STEPS
        return actions, reward, ended and not cut, cut

    def score(self) -> float:
        """The normalised team return (1.0: every food collected)."""
        return self.total


class ForagingWorld:
    """Fine-tuning in ``lbf``: no settings (the task mix is the environment's)."""

    name = NAME

    def __init__(self, settings: dict, layout: dict, team_reward: bool, seed: int) -> None:
        if settings:
            raise ValueError(f"{NAME} takes no settings, got {sorted(settings)}")
        expected = lbf.layout()
        check_layout(NAME, layout, expected, keys=("encoder", "indices"))
        self.layout = layout
        self.team_reward = team_reward
        self.seed = seed
        self.max_agents = lbf.MAX_PLAYERS
        self.num_tokens = int(expected["num_tokens"])
        self.num_actions = lbf.NUM_ACTIONS

    def episode(self, index: int) -> ForagingEpisode:
        return ForagingEpisode([self.seed, index], self.team_reward)

    def eval_scores(self, logits_of: Callable[[np.ndarray], np.ndarray],
                    episodes: int) -> List[float]:
        """The greedy policy's score per episode on ``marlgpt eval --env lbf``'s episodes
        (the same seeds and tasks: the mean is that command's number)."""
        def act(env, tokens, mask):
            return choose(logits_of(tokens), mask, False, None)

        return [lbf.run_episode(lbf.TASKS[k % len(lbf.TASKS)], EVAL_SEED + k, act)[1]
                for k in range(episodes)]

    def describe(self) -> str:
        return f"{NAME}: tasks {', '.join('x'.join(map(str, t)) for t in lbf.TASKS)}"
