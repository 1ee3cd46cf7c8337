"""The expert dataset format: sharded ``.npz`` files with a manifest (format version 1).

A dataset directory holds ``manifest.json`` and shards ``shard-00000.npz``, ... Each shard holds
whole episodes, flattened to one row per (episode, step, agent), in that order:

=================  =====================  ============================================
key                dtype, shape           meaning
=================  =====================  ============================================
``tokens``         float16 (R, T)         the encoder's token values (optional)
``action``         uint8 (R,)             the expert's action
``action_mask``    bool (R, A)            actions available to the agent
``reward``         float32 (R,)           the environment's reward
``done``           bool (R,)              last step of the agent's episode
``env_id``         uint8 (R,)             which environment the row comes from
``episode``        int64 (R,)             global episode index
``step``           int32 (R,)             time step within the episode
``agent``          int32 (R,)             agent index within the episode
``state/<name>``   env-specific (R, ...)  raw state to rebuild tokens (POGEMA: position,
                                          goal, each (R, 2) int16)
``map/<episode>``  env-specific           per-episode static data (POGEMA: obstacles)
``meta``           0-d str                JSON: format, environment, token layout, episodes
=================  =====================  ============================================

Any environment whose observations are vectors with the paper's four indices fits: the token
layout (``attr``, ``team``, ``agent``, ``time`` per token) travels in ``meta`` and in the
manifest, and ``state/*``/``map/*`` carry whatever the environment needs to rebuild tokens.
The manifest lists every shard with its row count and SHA-256; :class:`Dataset` checks both
on read.
"""
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import numpy as np

from marlgpt_planner.model_file import sha256_file  # one file-digest helper for the project

FORMAT = "marlgpt-expert-data"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
ROW_KEYS = ("action", "action_mask", "reward", "done", "env_id", "episode", "step", "agent")


@dataclass
class EpisodeRecord:
    """One episode of T steps and N agents, arrays shaped (T, N, ...)."""

    episode: int
    env_id: int
    action: np.ndarray  # (T, N)
    action_mask: np.ndarray  # (T, N, A)
    reward: np.ndarray  # (T, N)
    done: np.ndarray  # (T, N)
    tokens: Optional[np.ndarray] = None  # (T, N, tokens)
    state: Dict[str, np.ndarray] = field(default_factory=dict)  # name -> (T, N, ...)
    static: Optional[np.ndarray] = None  # per-episode data, e.g. the obstacle map
    info: dict = field(default_factory=dict)  # JSON-able facts: seed, map, score, ...

    @property
    def rows(self) -> int:
        return int(self.action.size)


class DatasetError(RuntimeError):
    """A dataset that is missing, corrupt or does not match what the reader expects."""


def write_shard(path: Path, episodes: List[EpisodeRecord], meta: dict) -> dict:
    """Write ``episodes`` as one shard (atomically); return its manifest entry."""
    if not episodes:
        raise ValueError("a shard needs at least one episode")
    arrays: Dict[str, np.ndarray] = {}

    def flat(values: List[np.ndarray], dtype) -> np.ndarray:
        return np.concatenate([v.reshape(v.shape[0] * v.shape[1], *v.shape[2:]) for v in values]
                              ).astype(dtype, copy=False)

    arrays["action"] = flat([e.action for e in episodes], np.uint8)
    arrays["action_mask"] = flat([e.action_mask for e in episodes], bool)
    arrays["reward"] = flat([e.reward for e in episodes], np.float32)
    arrays["done"] = flat([e.done for e in episodes], bool)
    index = []
    for e in episodes:
        steps, agents = e.action.shape
        index.append(np.stack([np.full((steps, agents), e.episode, dtype=np.int64),
                               np.broadcast_to(np.arange(steps)[:, None], (steps, agents)),
                               np.broadcast_to(np.arange(agents)[None, :], (steps, agents))],
                              axis=-1))
    index_rows = flat(index, np.int64)
    arrays["episode"] = index_rows[:, 0]
    arrays["step"] = index_rows[:, 1].astype(np.int32)
    arrays["agent"] = index_rows[:, 2].astype(np.int32)
    arrays["env_id"] = np.concatenate([np.full(e.rows, e.env_id, dtype=np.uint8) for e in episodes])
    if episodes[0].tokens is not None:
        arrays["tokens"] = flat([e.tokens for e in episodes], np.float16)
    for name in episodes[0].state:
        arrays["state/" + name] = flat([e.state[name] for e in episodes],
                                       episodes[0].state[name].dtype)
    for e in episodes:
        if e.static is not None:
            arrays[f"map/{e.episode}"] = e.static
    shard_meta = dict(meta, episodes=[dict(e.info, episode=e.episode) for e in episodes])
    arrays["meta"] = np.array(json.dumps(shard_meta))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".npz", dir=path.parent)
    os.close(fd)
    try:
        np.savez(tmp, **arrays)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return {"file": path.name, "rows": int(len(arrays["action"])), "episodes": len(episodes),
            "sha256": sha256_file(path)}


def write_manifest(directory: Path, manifest: dict) -> None:
    """Write ``manifest.json`` atomically."""
    fd, tmp = tempfile.mkstemp(suffix=".json", dir=directory)
    with os.fdopen(fd, "w") as handle:
        json.dump(manifest, handle, indent=1)
        handle.write("\n")
    os.replace(tmp, directory / MANIFEST)


def read_manifest(directory: Path) -> dict:
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise DatasetError(f"{directory} has no {MANIFEST}: not a dataset (or not finished)")
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{path} is not valid JSON: {exc}") from exc
    if manifest.get("format") != FORMAT:
        raise DatasetError(f"{path}: format {manifest.get('format')!r}, expected {FORMAT!r}")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise DatasetError(f"{path}: format version {manifest.get('format_version')}, this reader "
                           f"reads version {FORMAT_VERSION}")
    return manifest


class Dataset:
    """Reads a dataset directory shard by shard, checking sizes and SHA-256 sums."""

    def __init__(self, directory: "str | Path", verify: bool = True) -> None:
        self.directory = Path(directory)
        self.manifest = read_manifest(self.directory)
        self.verify = verify

    @property
    def shards(self) -> List[dict]:
        return list(self.manifest["shards"])

    @property
    def rows(self) -> int:
        return sum(s["rows"] for s in self.shards)

    def load_shard(self, entry: dict) -> Dict[str, np.ndarray]:
        """All arrays of one shard (``meta`` decoded into a dict)."""
        path = self.directory / entry["file"]
        if not path.is_file():
            raise DatasetError(f"shard {path} listed in the manifest is missing")
        if self.verify and sha256_file(path) != entry["sha256"]:
            raise DatasetError(f"shard {path} is corrupt: its SHA-256 differs from the manifest")
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {key: data[key] for key in data.files}
        except (OSError, ValueError) as exc:
            raise DatasetError(f"shard {path} cannot be read: {exc}") from exc
        arrays["meta"] = json.loads(str(arrays["meta"]))
        if len(arrays["action"]) != entry["rows"]:
            raise DatasetError(f"shard {path} has {len(arrays['action'])} rows, the manifest "
                               f"says {entry['rows']}")
        return arrays

    def __iter__(self) -> Iterator[Dict[str, np.ndarray]]:
        for entry in self.shards:
            yield self.load_shard(entry)
