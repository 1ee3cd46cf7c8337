"""POGEMA lifelong MAPF episodes for fine-tuning, every step settled by the fleet's step rule.

The episodes are :mod:`marlgpt_training.envs.pogema`'s (generated maps, lifelong goals, the
dense reward: 1 for a step that shortens the agent's path to its goal). Each agent's policy
hands in what the fleet's robots hand in under ``resolution``
(:class:`marlgpt_planner.step_rule.StepRule`): one drawn action (soft), or a ranking of its
actions drawn without replacement from the policy (shield), and the rule settles the step,
as ``marlgpt eval --resolution`` and delta data settle it. PPO's action is the first of that
ranking (a draw from the policy, so its probability is the policy's); the reward is that of
the settled step, so the policy learns which proposals the fleet turns into progress.
"""
from typing import Callable, List, Tuple

import numpy as np

from marlgpt_planner.actions import DELTAS, WAIT, moves
from marlgpt_planner.encoder import Encoder, GridState
from marlgpt_planner.grid import DistanceFields
from marlgpt_planner.shield import GoalAges
from marlgpt_planner.step_rule import SHIELD, StepRule
from marlgpt_training.envs import pogema
from marlgpt_training.finetune.checks import with_defaults

NAME = pogema.NAME
#: Settings (``settings:`` in the config) and their defaults.
DEFAULTS = {"map_kinds": ["mazes", "random"], "sizes": [17], "densities": [0.2],
            "agents": [8], "steps": 64, "resolution": SHIELD, "search": 1}
#: Episode indices of the evaluation episodes (never drawn for training).
EVAL_OFFSET = 1 << 30


class LifelongEpisode:
    """One generated lifelong MAPF episode (see :class:`~.vector.Episode`)."""

    def __init__(self, spec: pogema.EpisodeSpec, layout: dict, rule: StepRule,
                 team_reward: bool) -> None:
        self.spec, self.rule, self.team_reward = spec, rule, team_reward
        self.obstacles, self.free, positions, goals, self.rng = pogema.episode_start(spec)
        self.positions, self.goals = positions, goals
        self.num_agents = len(positions)
        self.fields = DistanceFields(self.obstacles, pad=int(layout["radius"]))
        self.encoder = Encoder.from_layout(self.obstacles, layout, fields=self.fields)
        self.history = np.zeros((self.num_agents, self.encoder.history), dtype=np.int64)
        self.ages = GoalAges()
        self.t = 0
        self.reached = 0
        self._observe()

    def _observe(self) -> None:  # once per step: the goal ages count steps
        self.goal_ages = np.array(self.ages.update(range(self.num_agents), self.goals))
        self.obs = self.encoder.encode(GridState(self.positions, self.goals, self.history,
                                                 self.goal_ages))

    def observe(self) -> Tuple[np.ndarray, np.ndarray]:
        return self.obs.values.astype(np.float32, copy=False), self.obs.action_mask

    def step(self, logits: np.ndarray, sample: bool, rng: np.random.Generator
             ) -> Tuple[np.ndarray, np.ndarray, bool, bool]:
        rankings = self.rule.choose(logits, self.obs.action_mask, sample, rng)
        actions = np.array([r[0] if r else WAIT for r in rankings], dtype=np.int64)
        after = self.rule.settle(self.positions, rankings, self.goal_ages.tolist(),
                                 goals=self.goals,
                                 fields=self.fields if self.rule.searches else None,
                                 obstacles=self.obstacles, seed=self.t)
        reward = (pogema.distances(self.fields, after, self.goals)
                  < pogema.distances(self.fields, self.positions, self.goals))
        reward = reward.astype(np.float32)
        self.history = np.roll(self.history, 1, axis=1)
        self.history[:, 0] = moves(self.positions, after)
        self.positions = after
        at_goal = (after == self.goals).all(axis=1)
        self.reached += int(at_goal.sum())
        if at_goal.any():
            self.goals = self.goals.copy()
            self.goals[at_goal] = pogema.new_goals(self.free, after[at_goal], self.rng)
        self.t += 1
        self._observe()
        if self.team_reward:
            reward = np.full_like(reward, reward.sum())
        return actions, reward, False, self.t >= self.spec.steps

    def score(self) -> float:
        """Throughput: goals reached per step."""
        return self.reached / max(self.t, 1)


class LifelongWorld:
    """Fine-tuning in ``pogema-lmapf`` (settings: :data:`DEFAULTS`)."""

    name = NAME

    def __init__(self, settings: dict, layout: dict, team_reward: bool, seed: int) -> None:
        values = with_defaults(NAME, settings, DEFAULTS)
        self.rule = StepRule(str(values["resolution"]), 0.0, int(values["search"]))
        if self.rule.in_turn:
            raise ValueError(f"resolution {self.rule.resolution} asks agents in turn; "
                             "fine-tuning runs soft or shield")
        probe = Encoder.from_layout(np.zeros((1, 1), dtype=bool), layout)
        self.rule.refuse_model(probe.version, "the checkpoint")
        self.generator = pogema.GeneratorConfig(
            map_kinds=tuple(values["map_kinds"]), sizes=tuple(int(s) for s in values["sizes"]),
            densities=tuple(float(d) for d in values["densities"]),
            agents=tuple(int(a) for a in values["agents"]), steps=int(values["steps"]),
            seed=seed)
        self.settings = values
        self.layout = layout
        self.team_reward = team_reward
        self.max_agents = max(self.generator.agents)
        self.num_tokens = probe.num_tokens
        self.num_actions = len(DELTAS)

    def episode(self, index: int) -> LifelongEpisode:
        return LifelongEpisode(self.generator.spec(index), self.layout, self.rule,
                               self.team_reward)

    def eval_scores(self, logits_of: Callable[[np.ndarray], np.ndarray],
                    episodes: int) -> List[float]:
        """The greedy policy's throughput per episode, on fixed evaluation episodes."""
        from marlgpt_training.finetune.vector import play

        rng = np.random.default_rng(0)
        return [play(self.episode(EVAL_OFFSET + k), logits_of, rng) for k in range(episodes)]

    def describe(self) -> str:
        s = self.settings
        return (f"{NAME}: {'/'.join(s['map_kinds'])} {s['sizes']} agents {s['agents']}, "
                f"{s['steps']} steps, resolution {self.rule.label() or 'soft'}")
