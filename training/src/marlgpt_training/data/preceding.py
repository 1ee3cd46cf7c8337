"""The actions of the agents before each agent in a step's order (``loss.mode: icq``).

A shard holds one row per (episode, step, agent) in that order, so the other agents' dataset
actions of the same step are the rows next to a row: no extra field is stored. What a row's
agent can be told about them is limited to the agents its observation shows, each in a
*neighbour slot* (tokens with ``team`` 1 and ``agent`` index k = 1..K). For every row this
module finds which agent of the step fills each slot, draws the step's order of agents
(``index``: agent 0 first; ``shuffled``: a fresh random order per step) and gives, per slot,
that agent's dataset action if it comes before the row's agent in the order and ``-1`` (no
action known yet) otherwise. Agents a row cannot see, and agents after it in the order, never
reach it. ``none`` gives -1 everywhere: Oryx's ablation without auto-regressive actions.

Which agent fills a slot depends on the encoder:

* ``pogema-ctg`` (every version): the encoder's own neighbour order
  (:func:`marlgpt_planner.encoder.neighbour_order`) on the step's positions
  (``state/position``), within the layout's radius, nearest first;
* ``lbf-vector``: LBF lists the other agents in index order, skipping the observing one, so
  slot k is the k-th other agent.

Other encoders (``grf-players``) are refused with :class:`DatasetError`: their slot order is
not rebuilt here yet.
"""
from typing import Dict, Iterable, Tuple

import numpy as np

from marlgpt_training.data.records import DatasetError

ORDERS = ("shuffled", "index", "none")
#: The neighbour-slot team index of the layouts this module reads.
SLOT_TEAM = 1
ENCODERS = ("pogema-ctg", "lbf-vector")


def slot_count(layout: dict) -> int:
    """K, the number of neighbour slots of a token layout (team-1 agent indices 1..K)."""
    team = np.asarray(layout["indices"]["team"])
    agent = np.asarray(layout["indices"]["agent"])
    slots = sorted(set(agent[team == SLOT_TEAM].tolist()))
    if slots != list(range(1, len(slots) + 1)):
        raise DatasetError(f"token layout {layout.get('encoder')!r}: neighbour slots "
                           f"{slots} are not 1..K")
    return len(slots)


def check_layout(layout: dict) -> int:
    """K for a layout this module can read; DatasetError naming the encoder otherwise."""
    encoder = layout.get("encoder")
    if encoder not in ENCODERS:
        raise DatasetError(f"loss mode 'icq' needs each row's neighbour slots matched to the "
                           f"step's agents, which is done for {', '.join(ENCODERS)} data, "
                           f"not for {encoder!r}")
    return slot_count(layout)


def step_groups(episode: np.ndarray, step: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """(start row, row count) of every (episode, step) run of rows."""
    change = np.r_[True, (episode[1:] != episode[:-1]) | (step[1:] != step[:-1])]
    starts = np.flatnonzero(change)
    return starts, np.diff(np.r_[starts, len(episode)])


def neighbour_slots(shard: Dict[str, np.ndarray], layout: dict) -> np.ndarray:
    """(R, K) int64: the shard row of the agent in each row's neighbour slot k+1, -1 if empty."""
    k = check_layout(layout)
    rows = len(shard["action"])
    out = np.full((rows, k), -1, dtype=np.int64)
    starts, counts = step_groups(shard["episode"], shard["step"])
    encoder = layout["encoder"]
    if encoder == "pogema-ctg":
        if "state/position" not in shard:
            raise DatasetError("loss mode 'icq' on pogema-lmapf data needs state/position "
                               "(the positions the neighbour slots are rebuilt from); this "
                               "shard has none")
        from marlgpt_planner.encoder import neighbour_order

        positions = shard["state/position"].astype(np.int64)
        radius = int(layout["radius"])
        for start, count in zip(starts.tolist(), counts.tolist(), strict=True):
            if count < 2:
                continue
            order, present = neighbour_order(positions[start:start + count], radius, k)
            take = order.shape[1]
            out[start:start + count, :take] = np.where(present, order + start, -1)
    else:  # lbf-vector: the others in index order, the observing agent left out
        for start, count in zip(starts.tolist(), counts.tolist(), strict=True):
            for i in range(count):
                others = [start + j for j in range(count) if j != i][:k]
                out[start + i, :len(others)] = others
    return out


def step_ranks(episode: np.ndarray, step: np.ndarray, agent: np.ndarray, order: str,
               rng: np.random.Generator) -> np.ndarray:
    """(R,) each row's place in its step's order of agents (0 first)."""
    if order not in ORDERS:
        raise ValueError(f"icq order must be one of {ORDERS}, got {order!r}")
    if order != "shuffled":  # index (none gives no action whatever the order)
        return agent.astype(np.int64)
    starts, counts = step_groups(episode, step)
    group = np.repeat(np.arange(len(starts)), counts)
    by = np.lexsort((rng.random(len(group)), group))  # rows by group, randomly within it
    rank = np.empty(len(group), dtype=np.int64)
    rank[by] = np.arange(len(group)) - starts[group[by]]
    return rank


def preceding_actions(action: np.ndarray, slots: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """(R, K) int64: per slot the dataset action of its agent if that agent comes before the
    row's agent in the step's order (``rank``), else -1."""
    filled = slots >= 0
    safe = np.where(filled, slots, 0)
    before = filled & (rank[safe] < rank[:, None])
    return np.where(before, action.astype(np.int64)[safe], -1)


def pool_preceding(shards: Iterable[Dict[str, np.ndarray]], layout: dict, order: str,
                   rng: np.random.Generator) -> np.ndarray:
    """(R, K) int8 preceding actions of every row of ``shards`` in turn (the pooled rows)."""
    out = []
    for shard in shards:
        slots = neighbour_slots(shard, layout)
        if order == "none":  # the ablation: no agent's action known
            out.append(np.full(slots.shape, -1, dtype=np.int8))
            continue
        rank = step_ranks(shard["episode"], shard["step"], shard["agent"], order, rng)
        out.append(preceding_actions(shard["action"], slots, rank).astype(np.int8))
    return np.concatenate(out)
