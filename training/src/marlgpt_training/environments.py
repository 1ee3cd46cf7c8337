"""The training side's environments, by name: one registry instead of a dispatch per command.

Each entry says how to make the environment's data generator from a settings mapping (a
config's ``data.generate``, or ``marlgpt generate``'s options), how to evaluate a policy in
it, and what kind of model policy acts in it. ``marlgpt generate``, ``train``, ``eval`` and
the model policies read it; a new environment (docs/architecture.md, "Where new things go")
is one more entry. Heavy imports (pogema, torch) happen only when an entry is used.
"""
from dataclasses import dataclass
from typing import Callable, Dict, List

#: The environments' names; the first is the robots' (the one a model file is exported for).
POGEMA = "pogema-lmapf"
LBF = "lbf"
GRF = "grf"


@dataclass(frozen=True)
class Environment:
    name: str
    #: What it is, for --help texts.
    summary: str
    #: settings mapping -> a generator for marlgpt_training.data.generate.generate
    make_generator: Callable[[dict], object]
    #: How ``marlgpt eval --env NAME`` scores a policy (a line for --help).
    evaluation: str


def _pogema_generator(settings: dict):
    from marlgpt_training.data.lifelong import GeneratorConfig, LifelongMapfGenerator

    return LifelongMapfGenerator(GeneratorConfig(
        **{k: tuple(v) if isinstance(v, list) else v for k, v in settings.items()}))


def _lbf_generator(settings: dict):
    from marlgpt_training.data.foraging import ForagingConfig, ForagingGenerator

    return ForagingGenerator(ForagingConfig(**settings))


def _grf_generator(settings: dict):
    from marlgpt_training.data.football import FootballConfig, FootballGenerator

    return FootballGenerator(FootballConfig(**settings))


REGISTRY: Dict[str, Environment] = {
    POGEMA: Environment(POGEMA, "POGEMA lifelong multi-agent path finding (the robots' task)",
                        _pogema_generator,
                        "throughput on a benchmark map set (--map-set), beside the published "
                        "results"),
    LBF: Environment(LBF, "Level-Based Foraging (a second, small cooperative task)",
                     _lbf_generator, "normalised team return over --episodes episodes"),
    GRF: Environment(GRF, "Google Research Football (academy scenarios and the full match)",
                     _grf_generator, "win rate and goal difference per scenario over --episodes "
                     "episodes, beside the MARL-GPT paper's"),
}


def names() -> List[str]:
    return list(REGISTRY)


def get(name: str) -> Environment:
    """The environment called ``name``; a ValueError naming the known ones otherwise."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown environment {name!r}; known: {', '.join(REGISTRY)}") \
            from None


def make_generator(name: str, settings: dict):
    """A data generator of environment ``name`` from ``settings`` (unknown keys: a clear
    ValueError)."""
    try:
        return get(name).make_generator(dict(settings))
    except TypeError as exc:
        raise ValueError(f"settings for {name}: {exc}") from None
