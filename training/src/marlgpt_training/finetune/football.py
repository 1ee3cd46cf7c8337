"""Google Research Football episodes for fine-tuning: the scenarios, tokens and reward of
:mod:`marlgpt_training.envs.grf` (every left player an agent, the right team the game's AI).

The game's reward is the team's (+1 for a goal scored, -1 for one conceded), every agent gets
it, so ``rollout.team_reward`` changes nothing here. An episode ends when the game says so (a
goal, the ball out or lost in the academy scenarios; the final whistle of the match): the game
is over, nothing to bootstrap. The score is a win (1) or not (0), and the evaluation plays
``marlgpt eval --env grf``'s episodes (the same seeds, the scenarios in turn, greedy).
"""
from typing import Callable, List, Sequence, Tuple

import numpy as np

from marlgpt_planner.rankings import choose
from marlgpt_training.envs import grf
from marlgpt_training.finetune.checks import check_layout, with_defaults

NAME = grf.NAME
#: Settings (``settings:`` in the config) and their defaults: the three academy scenarios
#: (the full match is 3,000 steps a game).
DEFAULTS = {"scenarios": [s for s in grf.SCENARIOS if s.startswith("academy_")]}
#: Seed of the evaluation's first episode: ``marlgpt eval --env grf``'s.
EVAL_SEED = 10_000


class FootballEpisode:
    """One game of ``scenario`` from ``seed`` (see :class:`~.vector.Episode`)."""

    def __init__(self, scenario: str, seed: int) -> None:
        self.scenario = scenario
        self.env = grf.make_env(scenario, seed)
        self.observations = self.env.reset()
        self.num_agents = len(self.observations)
        self.mask = np.ones((self.num_agents, grf.NUM_ACTIONS), dtype=bool)
        self.goals = (0, 0)

    def observe(self) -> Tuple[np.ndarray, np.ndarray]:
        return grf.tokens(self.observations), self.mask

    def step(self, logits: np.ndarray, sample: bool, rng: np.random.Generator
             ) -> Tuple[np.ndarray, np.ndarray, bool, bool]:
        actions = choose(logits, self.mask, sample, rng).astype(np.int64)
        self.observations, reward, done, _ = self.env.step(actions.tolist())
        score = self.observations[0]["score"]
        self.goals = (int(score[0]), int(score[1]))
        if done:
            self.env.close()
        team = float(np.sum(reward)) / np.size(reward)  # one number, whatever its shape
        return actions, np.full(self.num_agents, team, dtype=np.float32), bool(done), False

    def score(self) -> float:
        """1.0 for a game won, else 0.0."""
        return float(self.goals[0] > self.goals[1])


class FootballWorld:
    """Fine-tuning in ``grf`` (settings: :data:`DEFAULTS`)."""

    name = NAME

    def __init__(self, settings: dict, layout: dict, team_reward: bool, seed: int) -> None:
        values = with_defaults(NAME, settings, DEFAULTS)
        expected = grf.layout()
        check_layout(NAME, layout, expected)
        self.scenarios: Sequence[str] = grf.check_scenarios(
            [str(s) for s in values["scenarios"]], f"{NAME} settings: scenarios")
        self.settings = values
        self.layout = layout
        self.seed = seed
        self.max_agents = max(grf.SCENARIOS[s] for s in self.scenarios)
        self.num_tokens = int(expected["num_tokens"])
        self.num_actions = grf.NUM_ACTIONS

    def episode(self, index: int) -> FootballEpisode:
        rng = np.random.default_rng([self.seed, index])
        scenario = self.scenarios[int(rng.integers(len(self.scenarios)))]
        return FootballEpisode(scenario, int(rng.integers(2**31)))

    def eval_scores(self, logits_of: Callable[[np.ndarray], np.ndarray],
                    episodes: int) -> List[float]:
        """Win (1) or not (0) per episode, the greedy policy on ``marlgpt eval --env grf``'s
        episodes."""
        def act(observations, tokens, mask):
            return choose(logits_of(tokens), mask, False, None)

        wins: List[float] = []
        grf.evaluate(lambda: act, episodes, self.scenarios, EVAL_SEED,
                     progress=lambda scenario, outcome: wins.append(float(outcome.win)))
        return wins

    def describe(self) -> str:
        return f"{NAME}: scenarios {', '.join(self.scenarios)}, greedy evaluation (win rate)"
