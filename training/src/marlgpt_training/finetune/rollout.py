"""Collecting a batch of online steps with the model, and turning it into PPO's rows.

Every step, the valid agent rows of all instances go through the model in one forward pass:
the actor's logits (the episodes draw the actions from them) and the critic's V(s) (the
baseline of GAE). An episode cut by its time limit is bootstrapped from V of its last
observation (added to the last reward), one that terminates is not.
"""
from dataclasses import dataclass, field
from typing import Dict, List

import numpy as np
import torch

from marlgpt_training.finetune.ppo import gae, masked_log_probs, state_values
from marlgpt_training.finetune.vector import Observations, SyncVector
from marlgpt_training.model.gpt import MarlGpt


@dataclass
class Forward:
    """What the model needs besides the token values: the layout's index arrays (one tensor
    each: attr, team, agent, time) and the environment id."""

    indices: List[torch.Tensor]
    env_id: int
    #: Returns are divided by this for the critic (``ppo.value_scale``).
    value_scale: float = 1.0
    device: torch.device = torch.device("cpu")

    @torch.no_grad()
    def __call__(self, model: MarlGpt, tokens: np.ndarray, mask: np.ndarray
                 ) -> "tuple[np.ndarray, np.ndarray]":
        """(logits (B, A) over the environment's actions, V(s) (B,) in reward units)."""
        if len(tokens) == 0:
            return np.zeros((0, mask.shape[-1]), dtype=np.float32), np.zeros(0, np.float32)
        values = torch.from_numpy(np.ascontiguousarray(tokens, dtype=np.float32))
        env_ids = torch.full((len(values),), self.env_id, dtype=torch.long)
        logits, q_logits = model(values.to(self.device), *self.indices,
                                 env_ids.to(self.device), critic=True)
        log_probs = masked_log_probs(logits, torch.from_numpy(mask).to(self.device))
        v = state_values(model, log_probs, q_logits) * self.value_scale
        return logits[:, :mask.shape[-1]].float().cpu().numpy(), v.float().cpu().numpy()

    @torch.no_grad()
    def logits(self, model: MarlGpt, tokens: np.ndarray) -> np.ndarray:
        values = torch.from_numpy(np.ascontiguousarray(tokens, dtype=np.float32))
        env_ids = torch.full((len(values),), self.env_id, dtype=torch.long)
        logits, _ = model(values.to(self.device), *self.indices, env_ids.to(self.device),
                          critic=False)
        return logits.float().cpu().numpy()


@dataclass
class Batch:
    """One update's rows (valid agent-steps only), as PPO reads them."""

    tokens: np.ndarray  # (R, T) float32
    mask: np.ndarray  # (R, A) bool
    action: np.ndarray  # (R,) int64
    logp: np.ndarray  # (R,) float32: the behaviour policy's log-probability of the action
    advantage: np.ndarray  # (R,)
    target: np.ndarray  # (R,) the return (advantage + value), reward units
    value: np.ndarray  # (R,) V(s) at collection, reward units
    stats: Dict[str, float] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.action)


def _rows(model: MarlGpt, forward: Forward, obs: Observations):
    """Logits (E, N, A) and V (E, N) for every valid row (zeros on padding)."""
    e, n, a = obs.mask.shape
    logits = np.zeros((e, n, a), dtype=np.float32)
    values = np.zeros((e, n), dtype=np.float32)
    where = obs.valid
    row_logits, row_values = forward(model, obs.tokens[where], obs.mask[where])
    logits[where], values[where] = row_logits, row_values
    return logits, values


def collect(model: MarlGpt, vector: SyncVector, obs: Observations, steps: int,
            forward: Forward, rng: np.random.Generator, gamma: float, lam: float
            ) -> "tuple[Batch, Observations]":
    """``steps`` steps of every instance from ``obs``; the batch and the next observation."""
    t_, e, n = steps, vector.num_envs, vector.max_agents
    tokens = np.zeros((t_, e, n, vector.num_tokens), dtype=np.float32)
    masks = np.zeros((t_, e, n, vector.num_actions), dtype=bool)
    valid = np.zeros((t_, e, n), dtype=bool)
    actions = np.zeros((t_, e, n), dtype=np.int64)
    logp = np.zeros((t_, e, n), dtype=np.float32)
    values = np.zeros((t_, e, n), dtype=np.float32)
    rewards = np.zeros((t_, e, n), dtype=np.float32)
    dones = np.zeros((t_, e), dtype=bool)
    scores: List[float] = []
    earned = 0.0  # the environment's rewards, without the bootstrap terms
    for t in range(steps):
        logits, v = _rows(model, forward, obs)
        tokens[t], masks[t], valid[t], values[t] = obs.tokens, obs.mask, obs.valid, v
        step = vector.step(logits, rng)
        actions[t] = step.actions
        masked = np.where(obs.mask, logits, -np.inf)
        masked[~obs.valid] = 0.0  # padding: any finite row
        top = masked.max(-1, keepdims=True)
        log_norm = top[..., 0] + np.log(np.exp(masked - top).sum(-1))
        logp[t] = np.take_along_axis(masked, step.actions[..., None], -1)[..., 0] - log_norm
        rewards[t] = step.reward
        earned += float(step.reward[obs.valid].sum())
        if step.truncated.any():  # the time limit: bootstrap from the last observation
            _, final_v = _rows(model, forward, step.final)
            rewards[t] += gamma * np.where(step.truncated[:, None], final_v, 0.0)
        dones[t] = step.done
        scores.extend(step.scores)
        obs = step.next
    _, last_v = _rows(model, forward, obs)
    advantages = gae(rewards, values, dones, last_v, gamma, lam)
    where = valid
    batch = Batch(tokens=tokens[where], mask=masks[where], action=actions[where],
                  logp=logp[where], advantage=advantages[where],
                  target=(advantages + values)[where], value=values[where])
    batch.stats = {"episodes": float(len(scores)),
                   "score_sum": float(np.sum(scores)) if scores else 0.0,
                   "reward_mean": earned / max(int(where.sum()), 1),
                   "agent_steps": float(where.sum())}
    return batch, obs


def explained_variance(values: np.ndarray, targets: np.ndarray) -> float:
    """1 - Var(target - V) / Var(target): how much of the returns' spread V explains."""
    spread = float(np.var(targets))
    return float("nan") if spread == 0 else 1.0 - float(np.var(targets - values)) / spread
