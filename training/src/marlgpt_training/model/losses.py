"""MARL-GPT's offline losses (paper, section 4.3 and appendix B).

* ``bc``: behaviour cloning, cross-entropy of the masked actor logits with the expert action.
* ``critic``: TD learning of Q(s, a) as classification over value bins (HL-Gauss targets of
  ``r + gamma * (1 - done) * V(s')``, with V(s') = sum_a' pi(a'|s') Q_target(s', a') from a
  frozen EMA target network).
* ``conservative``: pushes Q of available actions the policy gives less than
  ``conservative_threshold`` probability toward the lowest bin (q_min).
* ``actor``: advantage-filtered policy improvement, ``-1{A(s, a) > 0} log pi(a|s)`` for the
  dataset action, with A = Q(s, a) - sum_a pi(a|s) Q(s, a) (the binary filter of appendix B).

``mode: bc`` trains the actor with the BC loss alone (no critic).
"""
from dataclasses import asdict, dataclass
from typing import Dict, Optional

import torch
from torch.nn import functional as F

from marlgpt_training.model.gpt import MarlGpt, hl_gauss_targets, masked_logits


@dataclass
class LossConfig:
    mode: str = "bc"  # "bc" or "full"
    bc: float = 1.0
    critic: float = 1.0
    conservative: float = 0.1
    actor: float = 0.1
    gamma: float = 0.95
    conservative_threshold: float = 0.05
    hl_gauss_sigma: float = 0.75

    def __post_init__(self) -> None:
        if self.mode not in ("bc", "full"):
            raise ValueError(f"loss mode must be 'bc' or 'full', got {self.mode!r}")

    def to_dict(self) -> dict:
        return asdict(self)


def compute_losses(model: MarlGpt, batch: Dict[str, torch.Tensor], config: LossConfig,
                   target: Optional[MarlGpt] = None) -> Dict[str, torch.Tensor]:
    """The weighted total (``loss``) and each term, for one batch of one environment."""
    core = getattr(model, "module", model)  # the model itself under DDP
    index = (batch["attr"], batch["team"], batch["agent"], batch["time"])
    full = config.mode == "full"
    logits, q_logits = model(batch["tokens"], *index, batch["env_id"], critic=full)
    logits = masked_logits(logits.float(), batch["action_mask"])
    action = batch["action"]
    bc = F.cross_entropy(logits, action)
    out = {"bc": bc.detach()}
    total = config.bc * bc
    if full:
        if target is None:
            raise ValueError("mode 'full' needs the target network")
        q_logits = q_logits.float()
        log_pi = torch.log_softmax(logits, dim=-1)
        pi = log_pi.exp().detach()
        with torch.no_grad():
            next_logits, next_q = target(batch["next_tokens"], *index, batch["env_id"])
            next_pi = torch.softmax(masked_logits(next_logits.float(), batch["next_action_mask"]),
                                    dim=-1)
            next_v = (next_pi * target.q_values(next_q)).nan_to_num().sum(-1)
            returns = batch["reward"] + config.gamma * (1.0 - batch["done"].float()) * next_v
            probs = hl_gauss_targets(returns, core.bins, config.hl_gauss_sigma)
        chosen = q_logits[torch.arange(len(action)), action]
        critic = -(probs * torch.log_softmax(chosen, dim=-1)).sum(-1).mean()
        available = torch.zeros_like(pi, dtype=torch.bool)
        available[:, :batch["action_mask"].shape[1]] = batch["action_mask"]
        unlikely = available & (pi < config.conservative_threshold)
        low_bin = -torch.log_softmax(q_logits, dim=-1)[..., 0]  # CE toward q_min's bin
        conservative = (low_bin * unlikely).sum() / unlikely.sum().clamp_min(1)
        q = core.q_values(q_logits).detach()
        advantage = q[torch.arange(len(action)), action] - (pi * q).nan_to_num().sum(-1)
        actor = -((advantage > 0).float() * log_pi[torch.arange(len(action)), action]).mean()
        total = total + config.critic * critic + config.conservative * conservative \
            + config.actor * actor
        out.update(critic=critic.detach(), conservative=conservative.detach(),
                   actor=actor.detach(), advantage_positive=(advantage > 0).float().mean())
    out["loss"] = total
    return out
