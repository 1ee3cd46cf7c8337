"""Policies that ``marlgpt eval`` can run, by name (see :func:`make_policy`)."""
from pathlib import Path
from typing import Callable, Dict

from marlgpt_training.policies.base import GridPolicy
from marlgpt_training.policies.baselines import BfsPolicy, GreedyPolicy, RandomPolicy
from marlgpt_training.policies.expert import ExpertPolicy, PibtPolicy, parse_settings

#: Built-in policies: name -> factory.
BUILTIN: Dict[str, Callable[[], GridPolicy]] = {
    "random": RandomPolicy,
    "bfs": BfsPolicy,
    "greedy": GreedyPolicy,
    "expert": ExpertPolicy,
    "pibt": PibtPolicy,
}


def make_policy(spec: str, sample: bool = False) -> GridPolicy:
    """A policy from a built-in name (see ``BUILTIN``; the experts also as
    ``expert:NAME=VALUE,...`` with settings of :data:`~marlgpt_training.policies.expert.SETTINGS`)
    or a checkpoint path.

    A checkpoint is a run directory, a ``checkpoints/step-N`` directory or its
    ``model.safetensors``; an exported model (``.onnx``, or a TensorRT ``.engine``/``.plan``)
    runs through the planner's runtime. ``sample`` draws actions from the policy instead of
    taking the most likely one.
    """
    name, colon, options = spec.partition(":")
    if colon and name in ("expert", "pibt"):  # expert:window=16,iterations=200
        if sample:
            raise ValueError(f"policy {spec!r} is deterministic: --sample works with a model")
        return BUILTIN[name](**parse_settings(options))
    factory = BUILTIN.get(spec)
    if factory is None and spec.endswith((".onnx", ".engine", ".plan")):
        from marlgpt_planner.policy import ModelError
        from marlgpt_training.policies.deployed import DeployedPolicy

        try:
            return DeployedPolicy(spec, sample=sample,
                                  backend="cpu" if spec.endswith(".onnx") else "tensorrt")
        except ModelError as exc:
            raise ValueError(str(exc)) from exc
    if factory is None and Path(spec).exists():
        from marlgpt_training.policies.model import ModelPolicy

        try:
            return ModelPolicy(spec, sample=sample)
        except FileNotFoundError as exc:
            raise ValueError(str(exc)) from exc
    if factory is None:
        names = ", ".join(sorted(BUILTIN))
        raise ValueError(f"unknown policy {spec!r}: built-in policies are {names}")
    if sample and spec != "random":
        raise ValueError(f"policy {spec!r} is deterministic: --sample works with a model "
                         "(a run, checkpoint or exported file)")
    return factory()
