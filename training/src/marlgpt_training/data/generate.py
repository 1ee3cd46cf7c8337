"""Parallel, resumable expert-data generation into a sharded dataset directory.

:func:`generate` drives any environment that implements :class:`EnvironmentGenerator`:
a name and id, its number of actions, its token layout (the paper's four indices per token),
its settings, and one recorded expert episode per index.
"""
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Dict, List, Optional, Protocol

from tqdm import tqdm

from marlgpt_training.data.records import (
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    DatasetError,
    EpisodeRecord,
    read_manifest,
    sha256_file,
    write_manifest,
    write_shard,
)


class EnvironmentGenerator(Protocol):
    """What :func:`generate` needs of an environment."""

    name: str
    env_id: int
    num_actions: int

    def settings(self) -> dict:
        """Everything that determines the episodes (JSON-able); a resumed run must match it."""

    def token_layout(self) -> dict:
        """Encoder name and version, ``num_tokens`` and ``indices`` (attr/team/agent/time)."""

    def episode(self, index: int, tokens: bool = True) -> EpisodeRecord:
        """The expert's episode number ``index``, a pure function of the settings and index.

        ``info`` must hold ``goals_reached`` (or the environment's score), ``throughput`` and
        ``map_kind``."""


def shard_name(index: int) -> str:
    return f"shard-{index:05d}.npz"


def _make_shard(directory: Path, shard: int, episodes: List[int],
                env: EnvironmentGenerator, tokens: bool, meta: dict) -> dict:
    started = time.perf_counter()
    records = [env.episode(e, tokens) for e in episodes]
    entry = write_shard(directory / shard_name(shard), records, meta)
    entry.update(
        first_episode=episodes[0], worker=os.getpid(), seconds=time.perf_counter() - started,
        goals_reached=sum(r.info["goals_reached"] for r in records),
        steps=sum(r.action.shape[0] for r in records),
        throughput=[r.info["throughput"] for r in records],
        map_kinds=[r.info["map_kind"] for r in records])
    return entry


def generate(directory: Path, episodes: int, env: EnvironmentGenerator,
             workers: int = 1, episodes_per_shard: int = 8, tokens: bool = True,
             overwrite: bool = False, progress: bool = True) -> dict:
    """Generate ``episodes`` episodes of ``env`` into ``directory``; return run statistics.

    Shards already present and intact (same settings, same SHA-256 as in the manifest) are
    kept, so an interrupted run resumes where it stopped.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    layout = env.token_layout()
    settings = {"env": env.name, "generator": env.settings(), "tokens": tokens,
                "episodes_per_shard": episodes_per_shard}
    manifest = {"format": FORMAT, "format_version": FORMAT_VERSION,
                "environments": {env.name: {"env_id": env.env_id, "num_actions": env.num_actions,
                                            "token_layout": layout}},
                "settings": settings, "shards": []}
    done: Dict[str, dict] = {}
    if (directory / MANIFEST).exists() and not overwrite:
        old = read_manifest(directory)
        if old.get("settings") != settings:
            raise DatasetError(f"{directory} holds a dataset made with other settings; use "
                               "another --out, or --overwrite to replace it")
        for entry in old["shards"]:
            path = directory / entry["file"]
            if path.is_file() and sha256_file(path) == entry["sha256"]:
                done[entry["file"]] = entry
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "env": env.name,
            "env_id": env.env_id, "token_layout": layout}
    plan = [(s, list(range(first, min(first + episodes_per_shard, episodes))))
            for s, first in enumerate(range(0, episodes, episodes_per_shard))]
    kept = {shard_name(s) for s, eps in plan if shard_name(s) in done
            and done[shard_name(s)].get("first_episode") == eps[0]
            and done[shard_name(s)]["episodes"] == len(eps)}
    todo = [(s, eps) for s, eps in plan if shard_name(s) not in kept]
    manifest["shards"] = [done[name] for name in sorted(kept)]
    _totals(manifest)
    write_manifest(directory, manifest)

    started = time.perf_counter()
    new_entries: List[dict] = []
    bar = tqdm(total=episodes, initial=episodes - sum(len(e) for _, e in todo), unit="episode",
               desc="generate", disable=not progress, dynamic_ncols=True)
    try:
        if workers <= 1:
            results = (_make_shard(directory, s, eps, env, tokens, meta) for s, eps in todo)
            for entry in results:
                _record(directory, manifest, entry, new_entries, bar)
        else:
            context = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
                futures = [pool.submit(_make_shard, directory, s, eps, env, tokens, meta)
                           for s, eps in todo]
                for future in as_completed(futures):
                    _record(directory, manifest, future.result(), new_entries, bar)
    finally:
        bar.close()
    seconds = time.perf_counter() - started
    return _stats(manifest, new_entries, seconds)


def _record(directory: Path, manifest: dict, entry: dict, new_entries: List[dict], bar) -> None:
    new_entries.append(entry)
    manifest["shards"].append(entry)
    manifest["shards"].sort(key=lambda e: e["file"])
    _totals(manifest)
    write_manifest(directory, manifest)
    bar.update(entry["episodes"])


def _totals(manifest: dict) -> None:
    manifest["rows"] = sum(e["rows"] for e in manifest["shards"])
    manifest["episodes"] = sum(e["episodes"] for e in manifest["shards"])


def _stats(manifest: dict, new_entries: List[dict], seconds: float) -> dict:
    """Speed of this run (new shards only) and the expert's throughput (all shards)."""
    per_worker: Dict[str, dict] = {}
    for entry in new_entries:
        worker = per_worker.setdefault(str(entry["worker"]), {"agent_steps": 0, "seconds": 0.0})
        worker["agent_steps"] += entry["rows"]
        worker["seconds"] += entry["seconds"]
    for worker in per_worker.values():
        worker["agent_steps_per_s"] = worker["agent_steps"] / max(worker["seconds"], 1e-9)
    agent_steps = sum(e["rows"] for e in new_entries)
    throughputs = [t for e in manifest["shards"] for t in e["throughput"]]
    by_kind: Dict[str, List[float]] = {}
    for e in manifest["shards"]:
        for kind, t in zip(e["map_kinds"], e["throughput"], strict=True):
            by_kind.setdefault(kind, []).append(t)
    return {
        "agent_steps": agent_steps,
        "seconds": seconds,
        "agent_steps_per_s": agent_steps / max(seconds, 1e-9),
        "per_worker": per_worker,
        "episodes": manifest.get("episodes", 0),
        "rows": manifest.get("rows", 0),
        "expert_throughput": _mean(throughputs),
        "expert_throughput_by_map_kind": {k: _mean(v) for k, v in sorted(by_kind.items())},
    }


def _mean(values: List[float]) -> Optional[float]:
    return sum(values) / len(values) if values else None
