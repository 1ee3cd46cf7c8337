"""PPO's pieces for MARL-GPT: GAE, the clipped surrogate, the critic and the actor freeze.

**The state value.** PPO needs V(s); the model's critic branch gives, for every action, a
distribution over value bins (HL-Gauss classification, as in offline training). Fine-tuning
keeps that branch, re-initialised (the offline critic is conservative and is not reused,
paper 7.2.3), and reads

    V(s) = sum_a pi(a|s) Q(s, a),   Q(s, a) = the expected value of its bins,

trained by the HL-Gauss cross-entropy of Q(s, a_t) toward the GAE return of the action the
agent took. On-policy, a_t is drawn from pi, so each Q(s, a) is fitted in proportion to the
weight pi(a|s) it has in V. Keeping the branch (rather than adding a scalar head) keeps the
checkpoint's layout: a fine-tuned model loads in ``marlgpt eval``, ``export`` and
``train --init`` as it is, and its critic is again an action-value critic.

**The actor** is everything the policy reads: the token embeddings, the shared trunk and the
actor branch. During the critic warm-up all of it has ``requires_grad`` off, so no gradient
reaches it and the optimizer (which skips parameters without a gradient) leaves it as it was.
"""
from typing import Dict, Iterator, List

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from marlgpt_training.model.gpt import Branch, MarlGpt, hl_gauss_targets


def gae(reward: np.ndarray, value: np.ndarray, done: np.ndarray, last_value: np.ndarray,
        gamma: float, lam: float) -> np.ndarray:
    """Generalised advantage estimates, (T, E, N) from rewards and values (T, E, N), episode
    ends ``done`` (T, E) (after step t) and the values after the last step (E, N)."""
    steps = reward.shape[0]
    advantages = np.zeros_like(reward, dtype=np.float32)
    running = np.zeros_like(last_value, dtype=np.float32)
    following = last_value
    for t in reversed(range(steps)):
        alive = 1.0 - done[t].astype(np.float32)[:, None]
        delta = reward[t] + gamma * following * alive - value[t]
        running = delta + gamma * lam * alive * running
        advantages[t] = running
        following = value[t]
    return advantages


def clipped_surrogate(new_logp: torch.Tensor, old_logp: torch.Tensor,
                      advantages: torch.Tensor, clip: float) -> torch.Tensor:
    """PPO's policy loss: ``-mean(min(r A, clip(r, 1 - eps, 1 + eps) A))``, r the ratio of
    the new to the old probability of the action taken."""
    ratio = torch.exp(new_logp - old_logp)
    unclipped = ratio * advantages
    clipped = ratio.clamp(1.0 - clip, 1.0 + clip) * advantages
    return -torch.minimum(unclipped, clipped).mean()


def masked_log_probs(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Log-probabilities over an environment's ``mask.shape[1]`` actions, unavailable ones at
    -inf (padded actions beyond them dropped)."""
    logits = logits[:, :mask.shape[1]].float().masked_fill(~mask, float("-inf"))
    return torch.log_softmax(logits, dim=-1)


def entropy(log_probs: torch.Tensor) -> torch.Tensor:
    """Per-row entropy of masked log-probabilities (unavailable actions contribute 0)."""
    # -inf where unavailable: zeroed before the product, so no NaN reaches the gradient
    finite = torch.isfinite(log_probs)
    safe = torch.where(finite, log_probs, torch.zeros_like(log_probs))
    return -(safe.exp() * safe * finite).sum(-1)


def state_values(model: MarlGpt, log_probs: torch.Tensor, q_logits: torch.Tensor
                 ) -> torch.Tensor:
    """V(s) = sum_a pi(a|s) Q(s, a), in the critic's units (see the module doc)."""
    q = model.q_values(q_logits)[:, :log_probs.shape[1]]
    return (log_probs.exp() * q).sum(-1)


def value_loss(model: MarlGpt, q_logits: torch.Tensor, actions: torch.Tensor,
               targets: torch.Tensor, sigma: float) -> torch.Tensor:
    """HL-Gauss cross-entropy of Q(s, a_t) toward ``targets`` (critic units, clipped to the
    bins' range)."""
    taken = q_logits[torch.arange(len(actions), device=actions.device), actions].float()
    goal = hl_gauss_targets(targets.float(), model.bins, sigma)
    return -(goal * F.log_softmax(taken, dim=-1)).sum(-1).mean()


def actor_parameters(model: MarlGpt) -> Iterator[nn.Parameter]:
    """What the policy reads: every parameter outside the critic branch (and the critic's
    preceding-action embedding, which fine-tuning never feeds)."""
    for name, param in model.named_parameters():
        if not name.startswith(("critic.", "preceding.")):
            yield param


def critic_parameters(model: MarlGpt) -> List[nn.Parameter]:
    return list(model.critic.parameters())


def freeze_actor(model: MarlGpt, frozen: bool) -> None:
    """Turn the actor's gradients off (the critic warm-up) or on (joint PPO)."""
    for param in actor_parameters(model):
        param.requires_grad_(not frozen)
    if hasattr(model, "preceding"):  # an ICQ model's critic input, unused here
        model.preceding.requires_grad_(False)


def fresh_critic(model: MarlGpt, seed: int) -> None:
    """Re-initialise the critic branch (as a new model's, from ``seed``)."""
    generator_state = torch.get_rng_state()
    torch.manual_seed(seed)
    config = model.config
    branch = Branch(config, config.max_actions * config.value_bins)
    branch.apply(MarlGpt._init)
    torch.set_rng_state(generator_state)
    model.critic.load_state_dict(branch.state_dict())


def make_optimizer(model: MarlGpt, lr: float, critic_lr: float) -> torch.optim.Adam:
    """Adam with the actor's and the critic's learning rates (two groups)."""
    return torch.optim.Adam([{"params": list(actor_parameters(model)), "lr": lr,
                              "name": "actor"},
                             {"params": critic_parameters(model), "lr": critic_lr,
                              "name": "critic"}], eps=1e-5)


class PolicyValueNet(nn.Module):
    """The model's forward for PPO: actor logits and critic logits, with the critic branch
    reading the trunk's output detached unless ``trunk_grad`` (``ppo.value_trunk``), so that
    the value loss trains the critic branch alone and the pretrained trunk moves only with
    the policy loss. DDP wraps this module; checkpoints keep ``model``. No preceding actions:
    an ICQ model's critic then reads none."""

    def __init__(self, model: MarlGpt, trunk_grad: bool) -> None:
        super().__init__()
        self.model, self.trunk_grad = model, trunk_grad

    def forward(self, values: torch.Tensor, attr: torch.Tensor, team: torch.Tensor,
                agent: torch.Tensor, time: torch.Tensor, env_id: torch.Tensor,
                critic: bool = True) -> "tuple[torch.Tensor, torch.Tensor]":
        return self.model(values, attr, team, agent, time, env_id, critic=critic,
                          critic_trunk_grad=self.trunk_grad)


def clip_gradients(model: MarlGpt, limit: float) -> torch.Tensor:
    """Clip the actor's and the critic's gradients each to norm ``limit`` (the critic's are
    often the larger: clipped together, they would scale the policy's step down); the norm
    of both before clipping."""
    norms = []
    for params in (list(actor_parameters(model)), critic_parameters(model)):
        params = [p for p in params if p.grad is not None]
        if params:
            norms.append(torch.nn.utils.clip_grad_norm_(params, limit))
    return torch.stack(norms).norm() if norms else torch.zeros(())


def losses(model: nn.Module, core: MarlGpt, batch: Dict[str, torch.Tensor], indices: list,
           env_id: int, clip: float, value_coef: float, entropy_coef: float, sigma: float,
           train_actor: bool) -> Dict[str, torch.Tensor]:
    """PPO's losses on a minibatch (``model``: the forward, plain or DDP; ``core``: the plain
    model). Warm-up (``train_actor`` False): the value loss alone."""
    tokens = batch["tokens"]
    env_ids = torch.full((len(tokens),), env_id, dtype=torch.long, device=tokens.device)
    logits, q_logits = model(tokens, *indices, env_ids, critic=True)
    log_probs = masked_log_probs(logits, batch["mask"])
    critic = value_loss(core, q_logits, batch["action"], batch["target"], sigma)
    out = {"value_loss": critic}
    with torch.set_grad_enabled(train_actor and torch.is_grad_enabled()):
        new_logp = log_probs.gather(1, batch["action"][:, None]).squeeze(1)
        spread = entropy(log_probs).mean()
        policy = clipped_surrogate(new_logp, batch["logp"], batch["advantage"], clip)
    with torch.no_grad():
        log_ratio = new_logp - batch["logp"]
        out["approx_kl"] = ((log_ratio.exp() - 1.0) - log_ratio).mean()
        out["clip_frac"] = ((log_ratio.exp() - 1.0).abs() > clip).float().mean()
    out.update(policy_loss=policy, entropy=spread)
    out["loss"] = (policy - entropy_coef * spread + value_coef * critic if train_actor
                   else value_coef * critic)
    return out
