"""What an agent prefers, as data: one chosen action, or its actions ranked best first.

A policy's output (logits, or any per-action scores) becomes either one action per agent
(:func:`choose`, greedy or sampled) or a ranking of every allowed action (:func:`rank` over
:func:`ranking_scores`), which is what the collision shield and the search read. The path
weight, the one way the path length each action leaves enters a ranking, is
:func:`path_weighted`. Every resolution (:mod:`marlgpt_planner.step_rule`) builds on these.
Pure numpy, Python >= 3.8.
"""
from typing import Iterable, List, Optional

import numpy as np

from marlgpt_planner.actions import NUM_ACTIONS


def choose(logits: np.ndarray, action_mask: Optional[np.ndarray], sample: bool,
           rng: Optional[np.random.Generator]) -> np.ndarray:
    """Greedy or sampled actions from ``logits`` (B, A), masked actions excluded."""
    logits = np.asarray(logits, dtype=np.float64)
    if action_mask is not None:
        mask = np.asarray(action_mask, dtype=bool)
        if mask.shape != logits.shape:
            raise ValueError(f"action mask {mask.shape} does not match logits {logits.shape}")
        logits = np.where(mask, logits, -np.inf)
    if not sample:
        return logits.argmax(axis=1)
    if rng is None:
        raise ValueError("sampled actions need a random generator")
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    cumulative = np.cumsum(probs / probs.sum(axis=1, keepdims=True), axis=1)
    draws = rng.random((len(logits), 1))
    return np.minimum((cumulative < draws).sum(axis=1), logits.shape[1] - 1)


def rank(scores: np.ndarray) -> List[List[int]]:
    """Each row's actions from the highest score down (ties: lower action first), actions
    scored ``-inf`` (not allowed) left out. ``scores`` is (N, 5)."""
    scores = np.asarray(scores, dtype=np.float64).reshape(-1, NUM_ACTIONS)
    order = np.argsort(-scores, axis=1, kind="stable")
    return [[int(a) for a in row if np.isfinite(s[a])] for row, s in zip(order, scores)]


def clean_ranking(ranking: Iterable[int]) -> List[int]:
    """A received ranking made safe: valid actions only, each once, in the order given."""
    out: List[int] = []
    for action in ranking:
        action = int(action)
        if 0 <= action < NUM_ACTIONS and action not in out:
            out.append(action)
    return out


def path_weighted(scores: np.ndarray, path_left: Optional[np.ndarray],
                  path_weight: float) -> np.ndarray:
    """``scores`` minus ``path_weight`` times ``path_left`` (N, 5), the path length each
    action leaves to the goal (:func:`marlgpt_planner.grid.neighbour_distances`): the policy
    guides PIBT's cost-to-go order instead of replacing it. A weight of 0 changes nothing."""
    scores = np.asarray(scores, dtype=np.float64)
    if not path_weight:
        return scores
    if path_left is None:
        raise ValueError("a path weight needs the path length each action leaves")
    return scores - path_weight * np.asarray(path_left, dtype=np.float64)


def masked(scores: np.ndarray, action_mask: Optional[np.ndarray]) -> np.ndarray:
    """``scores`` with the actions ``action_mask`` forbids at ``-inf`` (a new array)."""
    scores = np.array(scores, dtype=np.float64)
    if action_mask is not None:
        mask = np.asarray(action_mask, dtype=bool)
        if mask.shape != scores.shape:
            raise ValueError(f"action mask {mask.shape} does not match logits {scores.shape}")
        scores[~mask] = -np.inf
    return scores


def ranking_scores(logits: np.ndarray, action_mask: Optional[np.ndarray], sample: bool,
                   rng: Optional[np.random.Generator], path_left: Optional[np.ndarray] = None,
                   path_weight: float = 0.0) -> np.ndarray:
    """Scores whose :func:`rank` is a greedy or sampled preference order over the actions.

    Greedy: the log-probabilities (the most likely action first). Sampled: log-probabilities
    plus Gumbel noise, so the ranking is drawn without replacement from the policy (its first
    action is a sample from the policy's distribution). With ``path_weight`` > 0, weighted by
    the path length each action leaves (:func:`path_weighted`). Masked actions score ``-inf``.
    """
    scores = np.asarray(logits, dtype=np.float64)
    top = scores.max(axis=1, keepdims=True)
    scores = scores - top - np.log(np.exp(scores - top).sum(axis=1, keepdims=True))
    scores = path_weighted(scores, path_left, path_weight)
    if sample:
        if rng is None:
            raise ValueError("sampled rankings need a random generator")
        uniform = rng.random(scores.shape)
        scores = scores - np.log(-np.log(np.clip(uniform, 1e-12, 1.0 - 1e-12)))
    return masked(scores, action_mask)
