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

``mode: icq`` is Oryx's sequential implicit constraint Q-learning (Formanek et al. 2025, after
Yang et al. 2021's ICQ), fitted to this model and data. A row is one agent i's view; the
agents of its step are put in an order (``icq_order``: ``shuffled`` per step, ``index``, or
``none``: no action given, an ablation)
and the critic reads, besides agent i's tokens, the dataset actions of the agents before i
that i sees (one token per neighbour slot; :mod:`marlgpt_training.data.preceding`), so
``Q_i = Q(o_i, a_{<i}, .)`` (the model's ``preceding_actions``). With B rows in the batch:

* ``critic``: HL-Gauss cross-entropy of ``Q(o_i, a_{<i}, a_i)`` toward the in-sample target
  ``y = r + gamma (1 - done) w' Q_target(o'_i, a'_{<i}, a'_i)``, every action the dataset's
  (``a'`` the next step's), with ICQ's implicit importance weight
  ``w' = B' softmax(Q_target(o'_i, a'_{<i}, a'_i) / icq_beta)`` over the batch's B' rows that
  are not done (``icq_beta`` large: w' -> 1, SARSA);
* ``actor``: ``-(1/B) sum_i w_i log pi(a_i | o_i)`` with ``w = B softmax(A / icq_alpha)``
  over the batch and the sequential counterfactual advantage
  ``A_i = Q(o_i, a_{<i}, a_i) - sum_a pi(a | o_i) Q(o_i, a_{<i}, a)`` (weights and Q are
  constants for the gradient);
* ``bc``: the plain BC term, weighted by ``bc`` as in the other modes (0 for ICQ alone).

No conservative term: ICQ's constraint is implicit, only dataset actions enter a target.
``icq_ess`` reports the actor weights' effective sample size as a fraction of the batch.
"""
from dataclasses import asdict, dataclass
from typing import Dict, Optional

import torch
from torch.nn import functional as F

from marlgpt_training.model.gpt import MarlGpt, hl_gauss_targets, masked_logits


@dataclass
class LossConfig:
    mode: str = "bc"  # "bc", "full" or "icq"
    bc: float = 1.0
    critic: float = 1.0
    conservative: float = 0.1
    actor: float = 0.1
    gamma: float = 0.95
    conservative_threshold: float = 0.05
    hl_gauss_sigma: float = 0.75
    #: icq: policy temperature alpha of the actor weights softmax(A / alpha) (Oryx: 0.1-10).
    icq_alpha: float = 0.1
    #: icq: value temperature beta of the critic target's weights (Oryx: 1000-100000).
    icq_beta: float = 1000.0
    #: icq: the order of a step's agents, "shuffled" (a fresh one per step) or "index";
    #: "none": no preceding action is given (Oryx's ablation without auto-regressive actions).
    icq_order: str = "shuffled"

    def __post_init__(self) -> None:
        if self.mode not in ("bc", "full", "icq"):
            raise ValueError(f"loss mode must be 'bc', 'full' or 'icq', got {self.mode!r}")
        if self.icq_order not in ("shuffled", "index", "none"):
            raise ValueError(f"loss.icq_order must be 'shuffled', 'index' or 'none', "
                             f"got {self.icq_order!r}")
        if self.icq_alpha <= 0 or self.icq_beta <= 0:
            raise ValueError("loss.icq_alpha and loss.icq_beta must be positive")

    def to_dict(self) -> dict:
        return asdict(self)


def compute_losses(model: MarlGpt, batch: Dict[str, torch.Tensor], config: LossConfig,
                   target: Optional[MarlGpt] = None) -> Dict[str, torch.Tensor]:
    """The weighted total (``loss``) and each term, for one batch of one environment."""
    if config.mode == "icq":
        return icq_losses(model, batch, config, target)
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


def icq_weights(values: torch.Tensor, temperature: float,
                valid: Optional[torch.Tensor] = None) -> torch.Tensor:
    """ICQ's implicit weights ``n softmax(values / temperature)`` over the ``n`` valid rows
    (the partition function estimated on the batch, so the weights average 1); 0 elsewhere."""
    scaled = values.float() / temperature
    if valid is None:
        return len(values) * torch.softmax(scaled, dim=0)
    count = valid.sum()
    weights = torch.softmax(scaled.masked_fill(~valid, float("-inf")), dim=0)
    return (count * weights).nan_to_num()  # no valid row: all zero


def icq_losses(model: MarlGpt, batch: Dict[str, torch.Tensor], config: LossConfig,
               target: Optional[MarlGpt]) -> Dict[str, torch.Tensor]:
    """``mode: icq`` (see the module docstring): bc, critic and actor terms and the total."""
    if target is None:
        raise ValueError("mode 'icq' needs the target network")
    if "preceding" not in batch:
        raise ValueError("mode 'icq' needs batches with the preceding agents' actions "
                         "(BatchStream(..., preceding=ORDER))")
    core = getattr(model, "module", model)
    if not core.config.preceding_actions:
        raise ValueError("mode 'icq' needs a model with model.preceding_actions")
    index = (batch["attr"], batch["team"], batch["agent"], batch["time"])
    logits, q_logits = model(batch["tokens"], *index, batch["env_id"], critic=True,
                             preceding=batch["preceding"])
    logits = masked_logits(logits.float(), batch["action_mask"])
    action = batch["action"]
    rows = torch.arange(len(action), device=action.device)
    log_pi = torch.log_softmax(logits, dim=-1)
    taken_log_pi = log_pi[rows, action]
    bc = -taken_log_pi.mean()
    with torch.no_grad():
        _, next_q = target(batch["next_tokens"], *index, batch["env_id"], critic=True,
                           preceding=batch["next_preceding"])
        next_value = target.q_values(next_q)[rows, batch["next_action"]]
        live = ~batch["done"].bool()
        value_weights = icq_weights(next_value, config.icq_beta, live)
        returns = batch["reward"] + config.gamma * live.float() * value_weights * next_value
        probs = hl_gauss_targets(returns, core.bins, config.hl_gauss_sigma)
    q_logits = q_logits.float()
    critic = -(probs * torch.log_softmax(q_logits[rows, action], dim=-1)).sum(-1).mean()
    with torch.no_grad():
        q = core.q_values(q_logits)
        pi = log_pi.exp()
        advantage = q[rows, action] - (pi * q).sum(-1)
        weights = icq_weights(advantage, config.icq_alpha)
        ess = 1.0 / (weights.square().sum() / len(weights))  # fraction: (sum w)^2 / (B sum w^2)
    actor = -(weights * taken_log_pi).mean()
    total = config.bc * bc + config.critic * critic + config.actor * actor
    return {"bc": bc.detach(), "critic": critic.detach(), "actor": actor.detach(),
            "advantage_positive": (advantage > 0).float().mean(), "icq_ess": ess,
            "loss": total}
