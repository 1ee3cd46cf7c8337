"""Policies that ``marlgpt eval`` can run, by name (see :func:`make_policy`)."""
from pathlib import Path
from typing import Callable, Dict

from marlgpt_training.policies.base import Policy
from marlgpt_training.policies.baselines import BfsPolicy, GreedyPolicy, RandomPolicy
from marlgpt_training.policies.expert import ExpertPolicy, PibtPolicy

#: Built-in policies: name -> factory.
BUILTIN: Dict[str, Callable[[], Policy]] = {
    "random": RandomPolicy,
    "bfs": BfsPolicy,
    "greedy": GreedyPolicy,
    "expert": ExpertPolicy,
    "pibt": PibtPolicy,
}


#: File suffixes of trained models (checkpoints and exported ONNX files).
MODEL_SUFFIXES = (".onnx", ".safetensors", ".pt")


def make_policy(spec: str) -> Policy:
    """A policy from a built-in name (see ``BUILTIN``)."""
    factory = BUILTIN.get(spec)
    if factory is None and (spec.endswith(MODEL_SUFFIXES) or Path(spec).exists()):
        raise ValueError(f"{spec}: evaluating trained models (checkpoints, ONNX files) is not "
                         f"available yet; built-in policies are {', '.join(sorted(BUILTIN))}")
    if factory is None:
        names = ", ".join(sorted(BUILTIN))
        raise ValueError(f"unknown policy {spec!r}: built-in policies are {names}")
    return factory()
