"""Training configuration, read from YAML (see training/configs/*.yaml).

:func:`build_section`, :func:`read_yaml` and :func:`apply_overrides` also read the other
commands' configs (``marlgpt finetune``'s, :mod:`marlgpt_training.finetune.config`).
"""
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import List, Optional, Sequence

import yaml

from marlgpt_training.model.gpt import SIZES, ModelConfig
from marlgpt_training.model.losses import LossConfig


@dataclass
class OptimConfig:
    batch_size: int = 256
    grad_accum: int = 1
    lr: float = 6e-4
    min_lr: float = 6e-5
    warmup_steps: int = 200
    max_steps: int = 2000
    weight_decay: float = 0.1
    betas: List[float] = field(default_factory=lambda: [0.9, 0.95])
    grad_clip: float = 1.0
    target_ema: float = 0.995
    seed: int = 0
    #: torch.compile the training forward: "auto" (on CUDA only: about 2x there), true (also
    #: on CPUs: about +25% on a 2-core CPU, after a compile of a minute or more) or false.
    compile: object = "auto"

    def __post_init__(self) -> None:
        if self.compile not in ("auto", True, False):
            raise ValueError(f"optim.compile must be auto, true or false, got {self.compile!r}")


@dataclass
class DataConfig:
    dirs: List[str] = field(default_factory=list)
    workers: int = 1
    #: Shards pooled and shuffled together (per rank and loader worker): higher mixes more
    #: episodes into every batch and holds more rows in memory (float16 tokens: ~28 MB per
    #: 8-episode POGEMA shard).
    mix_shards: int = 16
    #: Shuffle interchangeable agents' slots (other players, foods, neighbours: each
    #: environment's ``EXCHANGEABLE`` token teams) in a fresh order for every row
    #: (docs/training.md, "Unseen tasks").
    shuffle_agents: bool = False
    #: If a directory is missing: generate it with these `marlgpt generate` settings
    #: (one spec for every directory, or a mapping from directory to spec).
    generate: Optional[dict] = None


@dataclass
class RunConfig:
    log_every: int = 10
    checkpoint_every: int = 500
    eval_every: int = 0  # 0: evaluate only at the end (if eval_map_set is set)
    eval_map_set: Optional[str] = None
    eval_agents: List[int] = field(default_factory=lambda: [8, 32])
    eval_max_instances: int = 4


@dataclass
class TrainConfig:
    model: ModelConfig
    loss: LossConfig
    optim: OptimConfig
    data: DataConfig
    run: RunConfig

    def to_dict(self) -> dict:
        return {"model": self.model.to_dict(), "loss": self.loss.to_dict(),
                "optim": asdict(self.optim), "data": asdict(self.data), "run": asdict(self.run)}


def build_section(cls, values: Optional[dict], where: str):
    """The dataclass ``cls`` from a config section: unknown keys refused, numbers following
    the field's default type (YAML reads "3e-4" as a string), a flag only true or false."""
    values = dict(values or {})
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"{where}: unknown keys {unknown}; known: {sorted(known)}")
    defaults = {f.name: None if f.default is MISSING else f.default for f in fields(cls)}
    for key, value in values.items():
        default = defaults.get(key)
        try:
            if isinstance(default, bool):
                if not isinstance(value, bool):
                    raise ValueError
            elif isinstance(default, float) and isinstance(value, (str, int)):
                values[key] = float(value)
            elif isinstance(default, int) and isinstance(value, str):
                values[key] = int(value)
        except ValueError:
            raise ValueError(f"{where}.{key}: expected a {type(default).__name__}, got "
                             f"{value!r}") from None
    return cls(**values)


def read_yaml(path: "str | Path", sections: Sequence[str]) -> dict:
    """A config file's mapping of ``sections``; a clear error for a missing file, bad YAML
    (with its line) or a file that is not a mapping."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config {path} not found")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}" if where is not None else ""
        raise ValueError(f"config {path} is not valid YAML{at}: "
                         f"{getattr(exc, 'problem', None) or exc}") from None
    if not isinstance(raw, dict):
        raise ValueError(f"config {path}: expected sections ({', '.join(sections)}), "
                         f"got {type(raw).__name__}")
    return raw


def apply_overrides(raw: dict, items: Sequence[str], plain: Sequence[str] = ()) -> dict:
    """``raw`` with ``section.key=value`` overrides (YAML values) applied; keys in ``plain``
    are set whole (``key=value``)."""
    raw = {k: dict(v) if isinstance(v, dict) else v for k, v in raw.items()}
    for item in items:
        key, sep, value = item.partition("=")
        section, dot, name = key.partition(".")
        if sep and not dot and key in plain:
            raw[key] = yaml.safe_load(value)
            continue
        if not sep or not dot:
            raise ValueError(f"override {item!r} is not section.key=value")
        if not isinstance(raw.get(section, {}), dict):
            raise ValueError(f"override {item!r}: {section} is not a section")
        raw.setdefault(section, {})[name] = yaml.safe_load(value)
    return raw


def parse(raw: dict, where: str = "config") -> TrainConfig:
    """A :class:`TrainConfig` from a dict; ``model.size`` picks a named size to override."""
    raw = dict(raw or {})
    unknown = sorted(set(raw) - {"model", "loss", "optim", "data", "run"})
    if unknown:
        raise ValueError(f"{where}: unknown sections {unknown}")
    model = dict(raw.get("model") or {})
    size = model.pop("size", None)
    if size is not None:
        if size not in SIZES:
            raise ValueError(f"{where}: model.size {size!r} is not one of {sorted(SIZES)}")
        model = dict(asdict(SIZES[size]), **model)
    loss = build_section(LossConfig, raw.get("loss"), where + ".loss")
    if loss.mode == "icq":  # ICQ's critic reads the preceding agents' actions
        model["preceding_actions"] = True
    return TrainConfig(model=build_section(ModelConfig, model, where + ".model"),
                       loss=loss,
                       optim=build_section(OptimConfig, raw.get("optim"), where + ".optim"),
                       data=build_section(DataConfig, raw.get("data"), where + ".data"),
                       run=build_section(RunConfig, raw.get("run"), where + ".run"))


def load(path: "str | Path", overrides: Sequence[str] = ()) -> TrainConfig:
    """Read a YAML config; ``overrides`` are ``section.key=value`` strings (YAML values)."""
    raw = read_yaml(path, ("model", "loss", "optim", "data", "run"))
    return parse(apply_overrides(raw, overrides), str(path))
