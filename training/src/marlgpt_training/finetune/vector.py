"""A synchronous vector of episodes: several environment instances stepped together in one
process, every instance's agents padded to a fixed number of rows.

An :class:`Episode` is one running episode of one instance: it observes (tokens and action
mask per agent), turns the policy's logits into the actions its agents hand in (sampled, or
greedy for evaluation; an environment with a step rule ranks them as the fleet does), and
steps. :class:`SyncVector` keeps ``num_envs`` of them, starts a new one where one ends (its
number of agents may differ: rows beyond it are padding, ``valid`` False), and returns
arrays shaped ``(num_envs, max_agents, ...)``.
"""
from dataclasses import dataclass
from typing import Callable, List, Optional, Protocol, Tuple

import numpy as np


class Episode(Protocol):
    """One running episode (see the module doc)."""

    num_agents: int

    def observe(self) -> Tuple[np.ndarray, np.ndarray]:
        """(tokens (n, T) float32, action mask (n, A) bool) of the current step."""

    def step(self, logits: np.ndarray, sample: bool, rng: np.random.Generator
             ) -> Tuple[np.ndarray, np.ndarray, bool, bool]:
        """Act on ``logits`` (n, A); (actions handed in (n,), rewards (n,), terminated,
        truncated). ``actions`` are what each agent's policy chose (the first of its ranking
        under a step rule), whatever the step then made of them."""

    def score(self) -> float:
        """The episode's score so far (what ``marlgpt eval`` reports for the environment)."""


@dataclass
class Observations:
    tokens: np.ndarray  # (E, N, T) float32
    mask: np.ndarray  # (E, N, A) bool
    valid: np.ndarray  # (E, N) bool: a real agent (not padding)


@dataclass
class Transition:
    actions: np.ndarray  # (E, N) int64 (0 on padding)
    reward: np.ndarray  # (E, N) float32
    done: np.ndarray  # (E,) bool: the episode ended with this step
    truncated: np.ndarray  # (E,) bool: ended by its time limit (bootstrap from ``final``)
    final: Optional[Observations]  # last observation of truncated episodes (rows: ``truncated``)
    scores: List[float]  # scores of the episodes that ended
    next: Observations  # the next step's observation (new episodes where one ended)


class SyncVector:
    """``num_envs`` episodes of one environment, stepped together (see the module doc).

    ``make_episode(index)`` starts episode number ``index``; the instances draw indices
    ``first_index``, ``first_index + 1``, ... in the order they need them.
    """

    def __init__(self, make_episode: Callable[[int], Episode], num_envs: int, max_agents: int,
                 num_tokens: int, num_actions: int, first_index: int = 0) -> None:
        self.make_episode = make_episode
        self.num_envs, self.max_agents = int(num_envs), int(max_agents)
        self.num_tokens, self.num_actions = int(num_tokens), int(num_actions)
        self.next_index = int(first_index)
        self.episodes: List[Episode] = [self._start() for _ in range(self.num_envs)]

    def _start(self) -> Episode:
        episode = self.make_episode(self.next_index)
        self.next_index += 1
        if episode.num_agents > self.max_agents:
            raise ValueError(f"an episode has {episode.num_agents} agents, more than the "
                             f"{self.max_agents} rows of the vector")
        return episode

    def _empty(self) -> Observations:
        e, n = self.num_envs, self.max_agents
        return Observations(np.zeros((e, n, self.num_tokens), dtype=np.float32),
                            np.zeros((e, n, self.num_actions), dtype=bool),
                            np.zeros((e, n), dtype=bool))

    def _fill(self, out: Observations, row: int, episode: Episode) -> None:
        tokens, mask = episode.observe()
        n = episode.num_agents
        out.tokens[row, :n] = tokens
        out.mask[row, :n] = mask
        out.valid[row, :n] = True

    def observe(self) -> Observations:
        out = self._empty()
        for row, episode in enumerate(self.episodes):
            self._fill(out, row, episode)
        return out

    def step(self, logits: np.ndarray, rng: np.random.Generator,
             sample: bool = True) -> Transition:
        """Every instance acts on its rows of ``logits`` (E, N, A) and steps."""
        e, n = self.num_envs, self.max_agents
        actions = np.zeros((e, n), dtype=np.int64)
        reward = np.zeros((e, n), dtype=np.float32)
        done = np.zeros(e, dtype=bool)
        truncated = np.zeros(e, dtype=bool)
        final: Optional[Observations] = None
        scores: List[float] = []
        for row, episode in enumerate(self.episodes):
            k = episode.num_agents
            chosen, rewards, term, trunc = episode.step(logits[row, :k], sample, rng)
            actions[row, :k], reward[row, :k] = chosen, rewards
            if term or trunc:
                done[row] = True
                scores.append(float(episode.score()))
                if trunc and not term:
                    truncated[row] = True
                    final = final if final is not None else self._empty()
                    self._fill(final, row, episode)
                self.episodes[row] = self._start()
        return Transition(actions, reward, done, truncated, final, scores, self.observe())


def play(episode: Episode, logits_of: Callable[[np.ndarray], np.ndarray],
         rng: np.random.Generator, sample: bool = False) -> float:
    """Run ``episode`` to its end with ``logits_of(tokens) -> logits``; its score."""
    while True:
        tokens, _ = episode.observe()
        _, _, term, trunc = episode.step(logits_of(tokens), sample, rng)
        if term or trunc:
            return float(episode.score())
