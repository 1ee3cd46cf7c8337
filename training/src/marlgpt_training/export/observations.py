"""Recorded observations shipped beside an exported model, for parity and engine checks.

They come from expert episodes on generated maps (the training distribution), encoded by the
one encoder, and are stored as ``values`` float32 (N, tokens) and ``action_mask`` bool (N, 5)
in a compressed ``.npz`` that the robot side reads with numpy alone
(:func:`marlgpt_planner.policy.load_observations`).
"""
from pathlib import Path
from typing import Mapping, Tuple

import numpy as np

from marlgpt_planner.encoder import Encoder
from marlgpt_training.envs.pogema import GeneratorConfig, rollout


def record(count: int, layout: Mapping, seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """``count`` observations drawn from short expert episodes (mazes and random maps),
    encoded with ``layout`` (a model's recorded token layout)."""
    encoder = Encoder.from_layout(np.zeros((1, 1), dtype=bool), layout)
    config = GeneratorConfig(map_kinds=("mazes", "random"), sizes=(21, 33),
                             densities=(0.2, 0.3), agents=(16, 32), steps=64, seed=seed,
                             radius=encoder.radius, history=encoder.history,
                             neighbours=encoder.neighbours, ages=encoder.ages,
                             claims=encoder.claims)
    values, masks, total, episode = [], [], 0, 0
    while total < count:
        record = rollout(config.spec(episode), config, tokens=True)
        values.append(record.tokens.reshape(-1, record.tokens.shape[-1]))
        masks.append(record.action_mask.reshape(-1, record.action_mask.shape[-1]))
        total += len(values[-1])
        episode += 1
    values_all = np.concatenate(values).astype(np.float32)
    masks_all = np.concatenate(masks)
    pick = np.sort(np.random.default_rng(seed).choice(len(values_all), count, replace=False))
    return values_all[pick], masks_all[pick]


def save(path: Path, values: np.ndarray, action_mask: np.ndarray) -> None:
    np.savez_compressed(path, values=values.astype(np.float32), action_mask=action_mask)
