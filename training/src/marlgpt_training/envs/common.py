"""What the environment modules share in ``marlgpt generate`` and ``marlgpt eval``.

``no_scenarios`` is the one option check of the environments without scenarios; the rest serves
the environments scored over seeded episodes whose tokens are one vector per agent (``lbf``,
``grf``, ``rware``): their option checks, the random and model policies, the 95 % interval
of a mean their tables print, and the results ``--json`` writes.
"""
import argparse
import math
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np

#: Built-in policies of the vector environments, beside a checkpoint.
BUILTIN_POLICIES = ("expert", "random", "builtin")


def no_scenarios(args: argparse.Namespace) -> List[str]:
    """``marlgpt generate --scenarios`` where the environment has none."""
    return ["--scenarios is for --env grf"] if args.scenarios is not None else []


def check_vector_eval(args: argparse.Namespace, game_ai: bool) -> List[str]:
    """``marlgpt eval``'s problems in a vector environment; ``game_ai``: it has the game's own
    AI (``--policy builtin``) and ``--scenarios`` (grf)."""
    problems = []
    if args.episodes < 1:
        problems.append(f"--episodes must be at least 1, got {args.episodes}")
    if args.sample and args.policy in BUILTIN_POLICIES:
        problems.append(f"--sample needs a model; {args.policy!r} has no distribution to "
                        "sample")
    if args.policy == "builtin" and not game_ai:
        problems.append("--policy builtin (the game's own AI) exists in grf only")
    if args.scenarios and not game_ai:
        problems.append("--scenarios is for --env grf")
    if args.json is not None and args.json.is_dir():
        problems.append(f"--json {args.json} is a directory")
    return problems


def random_act(rng) -> Callable:
    """``act(state, tokens, mask)``: a uniformly drawn available action per agent."""
    import numpy as np

    def act(state, tokens, mask):
        return np.array([rng.choice(np.flatnonzero(row)) for row in mask])
    return act


def model_act(args: argparse.Namespace, env: str, encoder: str,
              version: Optional[int] = None) -> Callable:
    """``act(state, tokens, mask)``: the checkpoint ``--policy`` acting in ``env`` (its
    tokens of layout ``version``, when given)."""
    from marlgpt_training.policies.model import VectorModel

    return VectorModel(args.policy, env, encoder, sample=args.sample, version=version)


def interval(values: Sequence[float]) -> Tuple[float, float]:
    """Mean and the half-width of its 95 % interval (1.96 standard errors; NaN for one value)."""
    data = np.asarray(values, dtype=np.float64)
    half = 1.96 * data.std(ddof=1) / math.sqrt(len(data)) if len(data) > 1 else math.nan
    return float(data.mean()), float(half)


def vector_results(args: argparse.Namespace, scores: dict) -> dict:
    """What ``marlgpt eval --json`` writes for a vector environment."""
    return {"env": args.env, "policy": args.policy, "episodes": args.episodes, **scores}
