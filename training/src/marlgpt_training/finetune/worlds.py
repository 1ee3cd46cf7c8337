"""The environments ``marlgpt finetune`` runs in, by name.

A world makes the episodes of one environment (:class:`~.vector.Episode`), knows how many
agent rows they need, and scores the greedy policy on fixed evaluation episodes. Its token
layout is the checkpoint's (a checkpoint trained on another layout is refused).
"""
from typing import Callable, Dict, List, Protocol

import numpy as np

from marlgpt_training.finetune import football, foraging, lifelong, warehouse
from marlgpt_training.finetune.vector import Episode


class World(Protocol):
    name: str
    #: The checkpoint's token layout for this environment.
    layout: dict
    max_agents: int
    num_tokens: int
    num_actions: int

    def episode(self, index: int) -> Episode:
        """Episode number ``index`` (a pure function of the world's seed and ``index``)."""

    def eval_scores(self, logits_of: Callable[[np.ndarray], np.ndarray],
                    episodes: int) -> List[float]:
        """The greedy policy's score per evaluation episode."""

    def describe(self) -> str:
        """One line for the run's log."""


WORLDS: Dict[str, Callable[..., World]] = {
    foraging.NAME: foraging.ForagingWorld,
    football.NAME: football.FootballWorld,
    lifelong.NAME: lifelong.LifelongWorld,
    warehouse.NAME: warehouse.WarehouseWorld,
}


def names() -> List[str]:
    return list(WORLDS)


def make(name: str, settings: dict, checkpoint_config: dict, path: str, team_reward: bool,
         seed: int) -> World:
    """The world ``name`` for a checkpoint (its full config, read from ``path``); ValueError
    for an environment fine-tuning does not run, one the checkpoint was not trained on, or a
    token layout that differs."""
    from marlgpt_training.policies.model import environment_layout  # torch: only when run

    if name not in WORLDS:
        raise ValueError(f"fine-tuning runs in {', '.join(WORLDS)}, not {name!r}")
    layout = environment_layout(checkpoint_config, name, path)
    world = WORLDS[name](dict(settings or {}), layout, team_reward, seed)
    actions = int(checkpoint_config["environments"][name]["num_actions"])
    if actions != world.num_actions:
        raise ValueError(f"{path} has {actions} actions in {name}, the environment "
                         f"{world.num_actions}")
    return world
