"""Checks every fine-tuning world makes of its settings and of the checkpoint's token layout."""
from typing import Sequence

LAYOUT_KEYS = ("encoder", "encoder_version", "indices")


def with_defaults(name: str, settings: dict, defaults: dict) -> dict:
    """``settings`` over ``defaults``; ValueError naming keys ``defaults`` does not have."""
    unknown = sorted(set(settings) - set(defaults))
    if unknown:
        raise ValueError(f"{name} settings: unknown keys {unknown}; known: {sorted(defaults)}")
    return dict(defaults, **settings)


def check_layout(name: str, layout: dict, expected: dict,
                 keys: Sequence[str] = LAYOUT_KEYS) -> None:
    """ValueError when the checkpoint's ``layout`` differs from the environment's in ``keys``."""
    if any(layout.get(key) != expected[key] for key in keys):
        raise ValueError(f"the checkpoint's {name} token layout ({layout.get('encoder')} "
                         f"v{layout.get('encoder_version')}) is not this environment's "
                         f"({expected['encoder']} v{expected['encoder_version']})")
