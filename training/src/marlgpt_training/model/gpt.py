"""MARL-GPT: a non-causal transformer over scalar tokens with four positional indices.

Each token's input is ``Linear(value) + E_attr[attr] + E_team[team] + E_agent[agent] +
E_time[time]`` (paper, section 4.2); one more token, the environment token, is appended to
every sequence and carries the environment id. A shared pre-LN trunk feeds two branches, each
one more block over the sequence: the actor reads the environment token's output and gives
logits over ``max_actions`` padded actions; the critic gives, for every action, logits over
``value_bins`` bins spanning [v_min, v_max] (value learning as classification).

With ``preceding_actions`` (set for ``loss.mode: icq``) the critic branch, and only it, also
reads what the agents before this one in the step's order did: one token per neighbour slot k,
``E_action[a] + E_agent[k] + E_team[1]``, placed between the trunk's output and the
environment token (``a`` the slot's dataset action, or a learned "not yet" entry where the
slot's agent comes later or the slot is empty). The actor never reads them, so the deployed
policy and the exported graph are unchanged.

Attention has two kernels that compute the same thing: PyTorch's fused
``scaled_dot_product_attention`` (training and evaluation: flash / memory-efficient attention
on GPUs, no (B, H, T, T) matrices kept) and explicit matmul + softmax, which the exported ONNX
graph uses so that it stays within opset 13 for TensorRT 8.2 on the Jetson Nano
(:func:`use_math_attention`; tests/test_export.py checks both give the same logits).
"""
import math
from dataclasses import asdict, dataclass
from typing import Optional, Tuple

import torch
from torch import nn
from torch.nn import functional as F


@dataclass
class ModelConfig:
    width: int = 64
    heads: int = 2
    trunk_layers: int = 2
    branch_layers: int = 1
    max_actions: int = 20
    value_bins: int = 20
    v_min: float = -5.0
    v_max: float = 5.0
    attr_vocab: int = 256
    team_vocab: int = 8
    agent_vocab: int = 32
    time_vocab: int = 16
    num_envs: int = 8
    dropout: float = 0.0
    #: The critic reads the preceding agents' actions (``loss.mode: icq`` turns it on).
    preceding_actions: bool = False

    def to_dict(self) -> dict:
        out = asdict(self)
        if not self.preceding_actions:  # configs and checkpoints from before the key match
            del out["preceding_actions"]
        return out


#: Named sizes. ``7m`` is the paper's: width 256, 8 heads, 7 shared blocks + 1 per branch.
SIZES = {
    "tiny": ModelConfig(width=64, heads=2, trunk_layers=2, branch_layers=1),
    "2m": ModelConfig(width=160, heads=4, trunk_layers=4, branch_layers=1),
    "7m": ModelConfig(width=256, heads=8, trunk_layers=7, branch_layers=1),
}


class SelfAttention(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.heads = config.heads
        self.width = config.width
        self.head_width = config.width // config.heads
        self.scale = 1.0 / math.sqrt(self.head_width)
        self.qkv = nn.Linear(config.width, 3 * config.width)
        self.proj = nn.Linear(config.width, config.width)
        self.dropout = nn.Dropout(config.dropout)
        self.fused = True  # scaled_dot_product_attention; False: matmul + softmax (export)

    def forward(self, x: torch.Tensor, last_only: bool = False) -> torch.Tensor:
        """Attention of every token, or with ``last_only`` of the last token alone (B, 1, W)."""
        batch, tokens, width, head = x.shape[0], x.shape[1], self.width, self.head_width
        q, k, v = self.qkv(x).split(width, dim=2)
        if last_only:
            q = q[:, -1:]
        queries = q.shape[1]
        q = q.reshape(batch, queries, self.heads, head).transpose(1, 2)
        k = k.reshape(batch, tokens, self.heads, head).transpose(1, 2)
        v = v.reshape(batch, tokens, self.heads, head).transpose(1, 2)
        if self.fused and not torch.onnx.is_in_onnx_export():
            out = F.scaled_dot_product_attention(
                q, k, v, dropout_p=self.dropout.p if self.training else 0.0, scale=self.scale)
        else:
            weights = torch.softmax(q @ k.transpose(-2, -1) * self.scale, dim=-1)
            out = self.dropout(weights) @ v
        return self.proj(out.transpose(1, 2).reshape(batch, queries, width))


class Block(nn.Module):
    """Pre-LN transformer block (non-causal)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(config.width)
        self.attn = SelfAttention(config)
        self.ln2 = nn.LayerNorm(config.width)
        self.mlp = nn.Sequential(nn.Linear(config.width, 4 * config.width), nn.GELU(),
                                 nn.Linear(4 * config.width, config.width),
                                 nn.Dropout(config.dropout))

    def forward(self, x: torch.Tensor, last_only: bool = False) -> torch.Tensor:
        """The block over all tokens, or with ``last_only`` just the last token's output."""
        residual = x[:, -1:] if last_only else x
        x = residual + self.attn(self.ln1(x), last_only)
        return x + self.mlp(self.ln2(x))


class Branch(nn.Module):
    def __init__(self, config: ModelConfig, outputs: int) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.branch_layers))
        self.ln = nn.LayerNorm(config.width)
        self.head = nn.Linear(config.width, outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Only the environment token's output is read, so the last block computes only that.
        last = len(self.blocks) - 1
        for index, block in enumerate(self.blocks):
            x = block(x, last_only=index == last)
        return self.head(self.ln(x[:, -1]))


class MarlGpt(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        if config.width % config.heads:
            raise ValueError("width must be a multiple of heads")
        self.config = config
        self.value = nn.Linear(1, config.width)
        self.attr = nn.Embedding(config.attr_vocab, config.width)
        self.team = nn.Embedding(config.team_vocab, config.width)
        self.agent = nn.Embedding(config.agent_vocab, config.width)
        self.time = nn.Embedding(config.time_vocab, config.width)
        self.env = nn.Embedding(config.num_envs, config.width)
        self.trunk = nn.ModuleList(Block(config) for _ in range(config.trunk_layers))
        self.actor = Branch(config, config.max_actions)
        self.critic = Branch(config, config.max_actions * config.value_bins)
        if config.preceding_actions:  # the last entry: no action known for the slot yet
            self.preceding = nn.Embedding(config.max_actions + 1, config.width)
        self.register_buffer("bins", torch.linspace(config.v_min, config.v_max, config.value_bins),
                             persistent=False)
        self.apply(self._init)

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=0.02)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(self, values: torch.Tensor, attr: torch.Tensor, team: torch.Tensor,
                agent: torch.Tensor, time: torch.Tensor, env_id: torch.Tensor,
                critic: bool = True, preceding: Optional[torch.Tensor] = None,
                critic_trunk_grad: bool = True) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """Actor logits (B, max_actions) and critic logits (B, max_actions, bins).

        ``values`` (B, T) float; ``attr``/``team``/``agent``/``time`` (B, T) or (T,) int;
        ``env_id`` (B,) int. Logits are unmasked: see :func:`masked_logits`.
        ``preceding`` (B, K) int: per neighbour slot the action of its agent if it comes
        before this one in the step's order, -1 otherwise; read by the critic of a model with
        ``preceding_actions`` only (None there: no preceding action known).
        ``critic_trunk_grad`` False: the critic reads the trunk's output detached, so a value
        loss trains the critic branch alone (``marlgpt finetune``).
        """
        x = (self.value(values.unsqueeze(-1)) + self.attr(attr) + self.team(team)
             + self.agent(agent) + self.time(time))
        x = torch.cat([x, self.env(env_id).unsqueeze(1)], dim=1)
        for block in self.trunk:
            x = block(x)
        logits = self.actor(x)
        if not critic:
            return logits, None
        if not critic_trunk_grad:
            x = x.detach()
        if self.config.preceding_actions:
            x = torch.cat([x[:, :-1], self.preceding_tokens(preceding, x), x[:, -1:]], dim=1)
        elif preceding is not None:
            raise ValueError("this model's critic reads no preceding actions "
                             "(model.preceding_actions is off)")
        q = self.critic(x).view(-1, self.config.max_actions, self.config.value_bins)
        return logits, q

    def preceding_tokens(self, preceding: Optional[torch.Tensor], like: torch.Tensor
                         ) -> torch.Tensor:
        """(B, K, W) critic tokens of the preceding actions (-1: none known yet)."""
        if preceding is None:  # nobody before this agent
            preceding = torch.full((like.shape[0], 0), -1, dtype=torch.long, device=like.device)
        preceding = preceding.long()
        action = torch.where(preceding < 0, self.config.max_actions, preceding)
        slot = torch.arange(1, preceding.shape[1] + 1, device=like.device)
        team = torch.ones_like(slot)
        tokens = self.preceding(action) + self.agent(slot) + self.team(team)
        return tokens.to(like.dtype)

    def q_values(self, q_logits: torch.Tensor) -> torch.Tensor:
        """Expected value per action from critic logits: (B, A, bins) -> (B, A)."""
        return (torch.softmax(q_logits.float(), dim=-1) * self.bins).sum(-1)


def use_math_attention(module: nn.Module, math_kernel: bool = True) -> nn.Module:
    """Switch every attention layer of ``module`` to explicit matmul + softmax (the exported
    graph's form), or back to the fused kernel; returns ``module``."""
    for layer in module.modules():
        if isinstance(layer, SelfAttention):
            layer.fused = not math_kernel
    return module


def masked_logits(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Logits with unavailable actions at -inf. ``mask`` (B, A_env) bool, A_env <= padded A."""
    full = torch.zeros(logits.shape, dtype=torch.bool, device=logits.device)
    full[:, :mask.shape[1]] = mask
    return logits.masked_fill(~full, float("-inf"))


def hl_gauss_targets(values: torch.Tensor, bins: torch.Tensor, sigma_bins: float = 0.75
                     ) -> torch.Tensor:
    """HL-Gauss: class probabilities of scalar ``values`` (B,) over ``bins`` (K,) centres.

    A Gaussian of width ``sigma_bins`` bin spacings around each value, integrated over each
    bin's interval (edges halfway between centres) and renormalised.
    """
    spacing = (bins[1] - bins[0]).item()
    edges = torch.cat([bins[:1] - spacing / 2, (bins[1:] + bins[:-1]) / 2, bins[-1:] + spacing / 2])
    sigma = sigma_bins * spacing
    clipped = values.clamp(bins[0].item(), bins[-1].item()).unsqueeze(-1)
    cdf = torch.special.ndtr((edges - clipped) / sigma)
    mass = cdf[:, 1:] - cdf[:, :-1]
    return mass / mass.sum(-1, keepdim=True).clamp_min(1e-8)
