"""The training side's environments, by name: one registry instead of a dispatch per command.

Each environment is one module of this package (:mod:`~marlgpt_training.envs.pogema`,
:mod:`~marlgpt_training.envs.lbf`, :mod:`~marlgpt_training.envs.grf`,
:mod:`~marlgpt_training.envs.rware`) that defines, at module level:

- ``NAME``: its name (``marlgpt generate/eval --env NAME``, a config's ``data.generate.env``);
- ``SUMMARY``: what it is, for --help texts;
- ``EVALUATION``: how ``marlgpt eval --env NAME`` scores a policy, a line for --help;
- ``SCORE_UNIT``: the unit of an episode's ``throughput`` (``marlgpt generate``'s score line);
- ``ENCODER``: the encoder of its token layout (``token_layout()["encoder"]``);
- ``VECTOR``: a checkpoint acts in it through ``policies.model.VectorModel`` (tokens: one
  vector per agent) rather than as a grid policy (``policies.model.ModelPolicy``);
- ``DELTA_DATA``: ``marlgpt generate --from-model`` works in it (``data.delta``);
- ``EXCHANGEABLE``: the token teams whose slots hold interchangeable agents, which
  ``data.shuffle_agents`` permutes per row (``data.shuffle``);
- ``PACKAGE``: (import name, what for, distribution) of the package it runs on, for
  ``marlgpt info``;
- ``make_generator(settings)``: its data generator (for ``data.generate.generate``) from a
  settings mapping;
- ``generator_settings(args)``: ``marlgpt generate``'s parsed options -> that mapping;
- ``check_generate(args)``, ``check_eval(args)``: the problems (messages) of ``marlgpt
  generate``'s or ``marlgpt eval``'s parsed options in it;
- ``run_eval(args)``: what ``marlgpt eval --env NAME`` runs: its table printed, the JSON-able
  results (what ``--json`` writes) returned; a ValueError for something the user must fix.

``marlgpt generate``, ``train``, ``eval`` and ``info`` read this registry; a new environment
(docs/architecture.md, "Where new things go") is one more module and one more line in
``MODULES``. Heavy imports (pogema, torch, lbforaging, gfootball, rware) happen only when an
entry's functions run. The environment modules never import this package's ``__init__`` (it imports
them): they share what they share through :mod:`~marlgpt_training.envs.common`. Nothing their
evaluations use (policies, model, benchmark) imports an environment (tests/test_imports.py).
"""
import argparse
from dataclasses import dataclass
from types import ModuleType
from typing import Callable, Dict, List, Tuple

from marlgpt_training.envs import grf, lbf, pogema, rware

#: The environment modules, in registry order; the first is the robots' (the one a model file
#: is exported for).
MODULES: Tuple[ModuleType, ...] = (pogema, lbf, grf, rware)

#: The environments' names.
POGEMA = pogema.NAME
LBF = lbf.NAME
GRF = grf.NAME
RWARE = rware.NAME


@dataclass(frozen=True)
class Environment:
    """One environment as the commands see it (see the module doc for each field)."""

    name: str
    summary: str
    evaluation: str
    score_unit: str
    encoder: str
    vector: bool
    delta_data: bool
    exchangeable: Tuple[int, ...]
    package: Tuple[str, str, str]
    make_generator: Callable[[dict], object]
    generator_settings: Callable[[argparse.Namespace], dict]
    check_generate: Callable[[argparse.Namespace], List[str]]
    check_eval: Callable[[argparse.Namespace], List[str]]
    run_eval: Callable[[argparse.Namespace], dict]

    @classmethod
    def of(cls, module: ModuleType) -> "Environment":
        """The environment that ``module`` defines."""
        return cls(name=module.NAME, summary=module.SUMMARY, evaluation=module.EVALUATION,
                   score_unit=module.SCORE_UNIT, encoder=module.ENCODER, vector=module.VECTOR,
                   delta_data=module.DELTA_DATA, exchangeable=tuple(module.EXCHANGEABLE),
                   package=module.PACKAGE,
                   make_generator=module.make_generator,
                   generator_settings=module.generator_settings,
                   check_generate=module.check_generate, check_eval=module.check_eval,
                   run_eval=module.run_eval)


REGISTRY: Dict[str, Environment] = {m.NAME: Environment.of(m) for m in MODULES}


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
