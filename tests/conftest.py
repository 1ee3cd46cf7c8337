"""Shared fixtures: an exclusive ROS_DOMAIN_ID per test and an environment for peer processes."""
import fcntl
import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Dict, Iterator

import pytest

REPO = Path(__file__).resolve().parents[1]
#: The POGEMA benchmark's map sets, beside the repository (not part of it).
SHARED_SETS = REPO.parent / "shared" / "benchmarks" / "pogema-lmapf"
needs_shared_sets = pytest.mark.skipif(not SHARED_SETS.is_dir(),
                                       reason=f"no benchmark sets at {SHARED_SETS}")

# Fast DDS maps a domain id to UDP ports; ids 1..100 keep every port in the safe range on Linux.
_DOMAIN_IDS = range(1, 101)


@pytest.fixture
def ros_domain_id() -> Iterator[int]:
    """A ROS_DOMAIN_ID that no other test, here or in a concurrent run, holds right now.

    Each id is claimed with an exclusive lock on a file in the temp dir, so parallel pytest
    runs (or CI jobs on one machine) never share a DDS domain.
    """
    start = os.getpid() % len(_DOMAIN_IDS)
    for offset in range(len(_DOMAIN_IDS)):
        domain = _DOMAIN_IDS[(start + offset) % len(_DOMAIN_IDS)]
        lock = open(Path(tempfile.gettempdir()) / f"marlgpt-ros-domain-{domain}.lock", "w")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            continue
        try:
            yield domain
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
            lock.close()
        return
    pytest.fail(f"no free ROS_DOMAIN_ID in {_DOMAIN_IDS[0]}..{_DOMAIN_IDS[-1]}")


@pytest.fixture
def ros_env(ros_domain_id: int) -> Dict[str, str]:
    """Environment for a ROS 2 peer process: the test's domain, discovery on loopback only."""
    env = dict(os.environ)
    env["ROS_DOMAIN_ID"] = str(ros_domain_id)
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    env.setdefault("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def decisive_checkpoint(out: Path, size: str = "tiny", seed: int = 3) -> Path:
    """An untrained checkpoint whose actor head is scaled up, so that greedy actions are
    decided by clear logit margins (an untrained head gives near-ties that rounding flips)."""
    from safetensors.torch import load_file, save_file

    from marlgpt_training.envs.pogema import save_untrained

    directory = save_untrained(out, size, seed=seed)
    weights = load_file(str(directory / "model.safetensors"))
    weights["actor.head.weight"] = weights["actor.head.weight"] * 200
    save_file(weights, str(directory / "model.safetensors"))
    return out


SHIPPED_MODEL = REPO / "ros2_ws" / "src" / "marlgpt_planner" / "models" / "marlgpt.onnx"


def model_with_metadata(out: Path, key: str, value: str, source: Path = SHIPPED_MODEL) -> Path:
    """A copy of an exported model with one metadata entry changed (e.g. a model made for
    another encoder layout): what the runtime must refuse."""
    import onnx

    model = onnx.load(str(source))
    entries = {prop.key: prop for prop in model.metadata_props}
    assert key in entries, f"{source} has no metadata {key!r}"
    entries[key].value = value
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(out))
    return out


def tiny_map_set(root: Path) -> Path:
    """A map set in the benchmark's format: 3 small maps, 2 agent counts, 32 steps."""
    root.mkdir(parents=True, exist_ok=True)
    maps = {"m0": "......\n.##.#.\n......\n.#.##.\n......",
            "m1": "..#...\n......\n.#..#.\n...#..\n......",
            "m2": "......\n.#.#..\n......\n..#.#.\n......"}
    (root / "maps.yaml").write_text("".join(f'"{k}": |-\n  ' + v.replace("\n", "\n  ") + "\n"
                                            for k, v in maps.items()))
    (root / "tiny-lmapf.yaml").write_text(
        "environment:\n  collision_system: soft\n  map_name:\n    grid_search: [m0, m1, m2]\n"
        "  max_episode_steps: 32\n  num_agents:\n    grid_search: [2, 6]\n"
        "  observation_type: POMAPF\n  on_target: restart\n  seed: 0\n")
    (root / "reference-results").mkdir(exist_ok=True)
    rows = [{"metrics": {"avg_throughput": 0.25}, "algorithm": "Ref",
             "env_grid_search": {"num_agents": n, "map_name": m}} for n in (2, 6) for m in maps]
    (root / "reference-results/Ref.json").write_text(json.dumps(rows))
    return root


def stop(process: subprocess.Popen, timeout: float = 10.0) -> None:
    """End a child process: SIGTERM, then SIGKILL if it has not exited within ``timeout``."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
