"""Latency of the deployed runtime (:class:`marlgpt_planner.policy.RuntimePolicy`) per backend."""
import platform
import time
from pathlib import Path
from typing import Dict, List, Sequence

import numpy as np

from marlgpt_planner.policy import ENGINE_SUFFIXES, ModelError, RuntimePolicy, load_observations
from marlgpt_training.export import observations_path


def available_backends(model: Path) -> List[str]:
    """Backends this machine can run ``model`` on."""
    if Path(model).suffix in ENGINE_SUFFIXES:
        return ["tensorrt"]
    import onnxruntime

    providers = onnxruntime.get_available_providers()
    found = ["cpu"]
    if "CUDAExecutionProvider" in providers:
        found.append("cuda")
    if "TensorrtExecutionProvider" in providers:
        found.append("ort-tensorrt")
    try:
        import pycuda  # noqa: F401
        import tensorrt  # noqa: F401
        found.append("tensorrt")
    except ImportError:
        pass
    return found


def inputs(model: Path, policy: RuntimePolicy, largest: int) -> np.ndarray:
    """Recorded observations (tiled to ``largest`` rows), or random tokens if none exist."""
    recorded = observations_path(Path(model))
    if recorded.is_file():
        values, _ = load_observations(recorded)
    else:
        values = np.random.default_rng(0).uniform(-1, 1, (largest, policy.num_tokens))
    reps = -(-largest // len(values))
    return np.ascontiguousarray(np.tile(values, (reps, 1))[:largest], dtype=np.float32)


def time_calls(policy: RuntimePolicy, values: np.ndarray, seconds: float,
               min_calls: int = 20) -> np.ndarray:
    """Per-call seconds of ``policy.logits(values)`` over about ``seconds`` (after warm-up)."""
    for _ in range(5):
        policy.logits(values)
    times = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(times) < min_calls:
        start = time.perf_counter()
        policy.logits(values)
        times.append(time.perf_counter() - start)
    return np.array(times)


def measure(model: Path, backends: Sequence[str], batches: Sequence[int], threads: int,
            seconds: float) -> Dict:
    rows, skipped = [], {}
    for backend in backends:
        try:
            policy = RuntimePolicy(model, backend=backend, threads=threads, max_batch=max(batches))
        except ModelError as exc:
            if backend == "cpu":
                raise
            skipped[backend] = str(exc)
            continue
        values = inputs(model, policy, max(batches))
        for batch in batches:
            times = time_calls(policy, values[:batch], seconds) * 1e3
            rows.append({"backend": backend, "batch": batch, "calls": len(times),
                         "p50_ms": float(np.percentile(times, 50)),
                         "p99_ms": float(np.percentile(times, 99)),
                         "mean_ms": float(times.mean()),
                         "decisions_per_s": float(batch / (times.mean() / 1e3))})
    return {"model": str(model), "threads": threads, "machine": cpu_name(), "rows": rows,
            "skipped": skipped}


def cpu_name() -> str:
    """The CPU's model name (Linux), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
