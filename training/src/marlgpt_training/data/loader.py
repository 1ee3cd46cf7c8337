"""Streaming training batches from expert datasets, one environment per batch.

:class:`BatchStream` reads an environment's shards in a seeded order (a new order every
epoch, forever), splits them between DDP ranks and data-loader worker processes, pools
``mix_shards`` shards at a time, shuffles the pool's rows together and yields batches with the
row's next observation (the same agent one step later) for TD learning. A shard holds a few
episodes, so the pool is what makes a batch a sample of many episodes, maps and agent counts
rather than of one shard's. :func:`balanced_batches` interleaves environments so that every
optimizer step sees the same number of samples from each (task-balanced batches).

With ``preceding`` (an order of agents, for ``loss.mode: icq``) a batch also holds
``preceding`` and ``next_preceding`` (B, K): the dataset actions of the agents in the row's
(and its next row's) neighbour slots that come before its agent in the step's order, -1
elsewhere (:mod:`marlgpt_training.data.preceding`), and ``next_action``, the next row's
dataset action.

With ``exchangeable`` (token teams whose slots are interchangeable, ``data.shuffle_agents``)
every row's units of those teams come in a fresh random order, and its preceding actions follow
them (:mod:`marlgpt_training.data.shuffle`).
"""
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from marlgpt_training.data.preceding import SLOT_TEAM, check_layout, pool_preceding
from marlgpt_training.data.records import Dataset, DatasetError
from marlgpt_training.data.shuffle import draw_orders, permute_slots, shuffle_tokens, slot_groups


def next_rows(episode: np.ndarray, agent: np.ndarray, done: np.ndarray) -> np.ndarray:
    """Row index of each row's next step (same episode and agent); itself where done.

    Rows are ordered (episode, step, agent), so the next step is ``n_agents`` rows on.
    """
    starts = np.flatnonzero(np.r_[True, episode[1:] != episode[:-1]])
    counts = np.diff(np.r_[starts, len(episode)])
    agents = np.maximum.reduceat(agent, starts) + 1
    per_row = np.repeat(agents, counts)
    rows = np.arange(len(episode))
    return np.where(done, rows, rows + per_row)


class BatchStream(IterableDataset):
    """Endless batches of one environment's datasets (``dirs`` must share one token layout)."""

    def __init__(self, dirs: Sequence[Path], batch_size: int, seed: int = 0, rank: int = 0,
                 world_size: int = 1, mix_shards: int = 16,
                 preceding: Optional[str] = None, exchangeable: Sequence[int] = ()) -> None:
        super().__init__()
        if mix_shards < 1:
            raise ValueError(f"mix_shards must be at least 1, got {mix_shards}")
        self.mix_shards = mix_shards
        self.datasets = [Dataset(d) for d in dirs]
        envs = {name for ds in self.datasets for name in ds.manifest["environments"]}
        if len(envs) != 1:
            raise DatasetError(f"a stream takes one environment, got {sorted(envs)}")
        self.env_name = envs.pop()
        info = self.datasets[0].manifest["environments"][self.env_name]
        self.env_id = int(info["env_id"])
        self.num_actions = int(info["num_actions"])
        self.layout = info["token_layout"]
        for ds in self.datasets[1:]:
            if ds.manifest["environments"][self.env_name]["token_layout"] != self.layout:
                raise DatasetError(f"{ds.directory}: token layout differs from "
                                   f"{self.datasets[0].directory}")
        if not all(ds.manifest["settings"].get("tokens", True) for ds in self.datasets):
            raise DatasetError("datasets made with --no-tokens cannot be trained on yet")
        self.shards = [(ds, entry) for ds in self.datasets for entry in ds.shards]
        if not self.shards:
            raise DatasetError(f"no shards in {[str(d) for d in dirs]}")
        self.batch_size, self.seed = batch_size, seed
        self.rank, self.world_size = rank, world_size
        self.indices = {k: torch.tensor(v, dtype=torch.long)
                        for k, v in self.layout["indices"].items()}
        self.preceding = preceding  # the order of agents in a step, or None
        if preceding is not None:
            check_layout(self.layout)
        try:
            self.slot_groups = slot_groups(self.layout, exchangeable)
        except ValueError as exc:
            raise DatasetError(f"{self.env_name}: cannot shuffle agents: {exc}") from None

    @property
    def rows(self) -> int:
        return sum(ds.rows for ds in self.datasets)

    def __iter__(self) -> Iterator[Dict[str, torch.Tensor]]:
        worker = get_worker_info()
        workers, worker_id = (worker.num_workers, worker.id) if worker else (1, 0)
        part, parts = self.rank * workers + worker_id, self.world_size * workers
        epoch = 0
        while True:
            rng = np.random.default_rng([self.seed, epoch])
            order = rng.permutation(len(self.shards))
            mine = [self.shards[i] for i in order[part::parts]] or \
                [self.shards[order[part % len(order)]]]
            for start in range(0, len(mine), self.mix_shards):
                loaded = [ds.load_shard(entry)
                          for ds, entry in mine[start:start + self.mix_shards]]
                pool = pool_shards(loaded)
                if self.preceding is not None:
                    try:
                        pool["preceding"] = pool_preceding(loaded, self.layout,
                                                           self.preceding, rng)
                    except DatasetError as exc:
                        raise DatasetError(f"{[str(ds.directory) for ds in self.datasets]}: "
                                           f"{exc}") from None
                yield from self._batches(pool, rng)
            epoch += 1

    def _batches(self, pool: Dict, rng: np.random.Generator) -> Iterator[Dict[str, torch.Tensor]]:
        nxt, rows = pool["next"], rng.permutation(len(pool["next"]))
        tokens = torch.from_numpy(pool["tokens"])  # stored dtype (float16): cast per batch
        mask = torch.from_numpy(pool["action_mask"])
        preceding = pool.get("preceding")
        for start in range(0, len(rows) - self.batch_size + 1, self.batch_size):
            pick = rows[start:start + self.batch_size]
            after = torch.from_numpy(nxt[pick])
            index = torch.from_numpy(pick)
            extra = {} if preceding is None else {
                "preceding": torch.from_numpy(preceding[pick].astype(np.int64)),
                "next_preceding": torch.from_numpy(preceding[nxt[pick]].astype(np.int64)),
                "next_action": torch.from_numpy(pool["action"][nxt[pick]].astype(np.int64)),
            }
            now, later = tokens[index].float(), tokens[after].float()
            if self.slot_groups:
                now, later, extra = self._shuffled(now, later, extra, rng)
            yield {
                "tokens": now, "next_tokens": later,
                "action": torch.from_numpy(pool["action"][pick].astype(np.int64)),
                "action_mask": mask[index], "next_action_mask": mask[after],
                "reward": torch.from_numpy(pool["reward"][pick]),
                "done": torch.from_numpy(pool["done"][pick]),
                "env_id": torch.full((len(pick),), self.env_id, dtype=torch.long),
                **self.indices, **extra,
            }

    def _shuffled(self, now: torch.Tensor, later: torch.Tensor, extra: Dict,
                  rng: np.random.Generator):
        """``now``, ``later`` and ``extra`` with agents shuffled (each its own orders; a
        state's value does not depend on its slots' order), the preceding actions following
        their slots."""
        groups, rows = self.slot_groups, len(now)
        orders, next_orders = draw_orders(groups, rows, rng), draw_orders(groups, rows, rng)
        if extra:
            extra = dict(extra,
                         preceding=permute_slots(extra["preceding"], groups, orders, SLOT_TEAM),
                         next_preceding=permute_slots(extra["next_preceding"], groups,
                                                      next_orders, SLOT_TEAM))
        return (shuffle_tokens(now, groups, orders), shuffle_tokens(later, groups, next_orders),
                extra)


def pool_shards(shards: Sequence[Dict[str, np.ndarray]]) -> Dict[str, np.ndarray]:
    """The rows of several shards as one table, with ``next`` (each row's next row) indexing
    into the pooled table."""
    keys = ("tokens", "action", "action_mask", "reward", "done")
    pooled = {key: np.concatenate([shard[key] for shard in shards]) for key in keys}
    offsets = np.cumsum([0] + [len(shard["action"]) for shard in shards[:-1]])
    pooled["next"] = np.concatenate([
        next_rows(shard["episode"], shard["agent"], shard["done"]) + offset
        for shard, offset in zip(shards, offsets, strict=True)])
    return pooled


def _one_thread(_: int) -> None:
    # Loader workers only gather rows; torch's intra-op threads would fight the trainer's.
    torch.set_num_threads(1)


def loaders(streams: Sequence[BatchStream], workers: int) -> List[DataLoader]:
    """One DataLoader per stream (batches are made by the stream: batch_size=None)."""
    return [DataLoader(s, batch_size=None, num_workers=workers, worker_init_fn=_one_thread,
                       persistent_workers=workers > 0, prefetch_factor=4 if workers else None)
            for s in streams]


def balanced_batches(loaders_: Sequence[DataLoader]) -> Iterator[Dict[str, torch.Tensor]]:
    """Round-robin over environments: batch k comes from environment k mod E."""
    iterators = [iter(loader) for loader in loaders_]
    while True:
        for it in iterators:
            yield next(it)
