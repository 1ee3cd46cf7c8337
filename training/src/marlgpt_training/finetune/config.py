"""The fine-tuning config, read from YAML (``training/configs/finetune-*.yaml``)."""
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional, Sequence

from marlgpt_training.train.config import apply_overrides, build_section, read_yaml

SECTIONS = ("env", "init", "settings", "rollout", "ppo", "run")


@dataclass
class RolloutConfig:
    #: Environment instances stepped together (per process under DDP).
    num_envs: int = 8
    #: Steps of every instance per update (an update learns from num_envs x steps x agents).
    steps: int = 64
    #: Every agent is rewarded with the team's reward (the sum of all agents' rewards).
    team_reward: bool = True
    seed: int = 0


@dataclass
class PpoConfig:
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip: float = 0.2
    value_coef: float = 0.5
    entropy_coef: float = 0.01
    epochs: int = 4
    #: Minibatches per epoch (a count, not a size: under DDP every process makes the same
    #: number of optimizer steps whatever its number of agent rows).
    minibatches: int = 4
    lr: float = 1.0e-4
    critic_lr: float = 5.0e-4
    #: Gradient norm limit, for the actor's and the critic's gradients each.
    grad_clip: float = 0.5
    #: The value loss also trains the shared trunk (false: the critic branch reads the trunk's
    #: output detached; the trunk moves with the policy loss only).
    value_trunk: bool = False
    #: Returns are divided by this before they become the critic's HL-Gauss targets, so that
    #: they fit its bins ([v_min, v_max], [-5, 5] for the named sizes).
    value_scale: float = 1.0
    hl_gauss_sigma: float = 0.75
    #: Updates with the actor frozen (no gradient) while the fresh critic learns.
    warmup_updates: int = 10
    #: Total updates (warm-up included).
    updates: int = 100


@dataclass
class RunConfig:
    log_every: int = 1
    checkpoint_every: int = 10
    #: Evaluate the greedy policy every N updates (0: only at the start and the end).
    eval_every: int = 0
    eval_episodes: int = 100
    #: Evaluate the starting policy before the first update (the "before" number).
    eval_at_start: bool = True
    #: Torch threads per process on a CPU (0: torch's default). The model's batches are
    #: small: with more threads than free cores they wait on each other (on the shared 2-core
    #: CPU a 2-update test took 44 s with 2 threads, 3.6 s with 1); under torchrun run more
    #: processes instead.
    threads: int = 1


@dataclass
class FinetuneConfig:
    #: A registered environment (``marlgpt_training.finetune.worlds``).
    env: str = "lbf"
    #: The pretrained run or checkpoint (``--init`` overrides).
    init: Optional[str] = None
    #: The environment's own settings (POGEMA: maps, agents, steps, resolution; see --help).
    settings: dict = field(default_factory=dict)
    rollout: RolloutConfig = field(default_factory=RolloutConfig)
    ppo: PpoConfig = field(default_factory=PpoConfig)
    run: RunConfig = field(default_factory=RunConfig)

    def to_dict(self) -> dict:
        return {"env": self.env, "init": self.init, "settings": dict(self.settings),
                "rollout": asdict(self.rollout), "ppo": asdict(self.ppo),
                "run": asdict(self.run)}

    def check(self) -> None:
        """ValueError naming the first value out of range."""
        r, p = self.rollout, self.ppo
        rules = [(r.num_envs >= 1, "rollout.num_envs must be at least 1"),
                 (r.steps >= 1, "rollout.steps must be at least 1"),
                 (0.0 < p.gamma <= 1.0, "ppo.gamma must be in (0, 1]"),
                 (0.0 <= p.gae_lambda <= 1.0, "ppo.gae_lambda must be in [0, 1]"),
                 (p.clip > 0.0, "ppo.clip must be positive"),
                 (p.epochs >= 1 and p.minibatches >= 1,
                  "ppo.epochs and ppo.minibatches must be at least 1"),
                 (p.value_scale > 0.0, "ppo.value_scale must be positive"),
                 (0 <= p.warmup_updates <= p.updates,
                  "ppo.warmup_updates must be between 0 and ppo.updates"),
                 (self.run.eval_episodes >= 1, "run.eval_episodes must be at least 1"),
                 (self.run.threads >= 0, "run.threads must be 0 (torch's default) or more"),
                 (self.run.checkpoint_every >= 1 and self.run.log_every >= 1,
                  "run.checkpoint_every and run.log_every must be at least 1")]
        for ok, message in rules:
            if not ok:
                raise ValueError(message)


def parse(raw: Optional[dict], where: str = "config") -> FinetuneConfig:
    """A checked :class:`FinetuneConfig` from a dict."""
    raw = dict(raw or {})
    unknown = sorted(set(raw) - set(SECTIONS))
    if unknown:
        raise ValueError(f"{where}: unknown sections {unknown}; known: {list(SECTIONS)}")
    settings = raw.get("settings") or {}
    if not isinstance(settings, dict):
        raise ValueError(f"{where}.settings: expected a mapping, got {settings!r}")
    config = FinetuneConfig(
        env=str(raw.get("env", FinetuneConfig.env)), init=raw.get("init"),
        settings=dict(settings),
        rollout=build_section(RolloutConfig, raw.get("rollout"), where + ".rollout"),
        ppo=build_section(PpoConfig, raw.get("ppo"), where + ".ppo"),
        run=build_section(RunConfig, raw.get("run"), where + ".run"))
    config.check()
    return config


def override(raw: dict, items: Sequence[str]) -> dict:
    """``raw`` with ``section.key=value`` overrides, or a whole section or value
    (``env=NAME``, ``init=RUN``), applied; values are YAML."""
    return apply_overrides(raw, items, plain=SECTIONS)


def load(path: "str | Path", overrides: Sequence[str] = ()) -> FinetuneConfig:
    """Read a YAML config, apply ``overrides``, check it."""
    return parse(override(read_yaml(path, SECTIONS), overrides), str(path))
