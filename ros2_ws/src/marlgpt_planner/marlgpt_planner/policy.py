"""The deployed policy: an exported MARL-GPT model behind one small interface (no torch).

A model file is an ONNX graph written by ``marlgpt export`` (input ``observations`` float32
(batch, tokens), output ``logits`` float32 (batch, actions)) whose metadata names the encoder
and its version, the observation radius, history and neighbours, the token layout's digest,
the action set and the training run (docs/export.md). A serialized TensorRT engine
(``.engine``/``.plan``) carries the same metadata in a sidecar ``ENGINE.json``.

Backends, chosen by ``backend``:

* ``cpu``, ``cuda``: ONNX Runtime with that execution provider;
* ``ort-tensorrt``: ONNX Runtime's TensorRT execution provider (FP16, engine cached);
* ``tensorrt``: the TensorRT Python API; an ``.onnx`` file is built into an FP16 engine on
  first use and cached under a key of model hash, TensorRT version and GPU
  (:mod:`marlgpt_planner.tensorrt_engine`);
* ``auto``: ``tensorrt`` for engine files and where TensorRT is installed, else ``cuda`` where
  ONNX Runtime has it, else ``cpu``.

Every call batches all agents: ``act(values, action_mask)`` gives one action per row.
"""
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

from marlgpt_planner.model_file import (  # noqa: F401  (the contract, re-exported)
    ENCODER_KEYS,
    ENGINE_SUFFIXES,
    INPUT_NAME,
    MODEL_FORMAT,
    OUTPUT_NAME,
    REQUIRED_KEYS,
    ModelError,
    PathLike,
    default_cache_dir,
    encoder_expectation,
    mismatches,
    sha256_file,
    sidecar_path,
    validate_metadata,
    write_sidecar,
)
from marlgpt_planner.rankings import choose, rank, ranking_scores

BACKENDS = ("auto", "cpu", "cuda", "ort-tensorrt", "tensorrt")


class RuntimePolicy:
    """An exported model, ready to act for a batch of agents.

    Args:
        path: ``.onnx`` model, or ``.engine``/``.plan`` with its ``.json`` sidecar.
        backend: one of :data:`BACKENDS` (see the module doc).
        threads: CPU threads ONNX Runtime may use per call.
        sample: draw actions from the policy instead of taking the most likely one.
        seed: seed of the sampling generator.
        cache_dir: where engines built from ONNX are cached (default
            ``$MARLGPT_ENGINE_CACHE`` or ``~/.cache/marlgpt/engines``).
        max_batch: largest batch a TensorRT engine built here accepts.
    """

    def __init__(self, path: PathLike, backend: str = "cpu", threads: int = 1,
                 sample: bool = False, seed: int = 0, cache_dir: Optional[PathLike] = None,
                 max_batch: int = 64) -> None:
        self.path = Path(path)
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        if not self.path.is_file():
            raise ModelError(f"{self.path}: no such model file")
        is_engine = self.path.suffix in ENGINE_SUFFIXES
        if backend == "auto":
            backend = _auto_backend(is_engine)
        if is_engine and backend != "tensorrt":
            raise ModelError(f"{self.path}: a TensorRT engine needs backend 'tensorrt', "
                             f"not {backend!r}")
        self.backend = backend
        if backend == "tensorrt":
            from marlgpt_planner.tensorrt_engine import TensorRtRunner

            self._runner = TensorRtRunner(self.path, cache_dir=cache_dir, max_batch=max_batch)
        else:
            self._runner = OrtRunner(self.path, backend, threads, cache_dir)
        self.metadata = validate_metadata(self._runner.metadata, self.path)
        self.num_tokens = int(self.metadata["num_tokens"])
        self.num_actions = int(self.metadata["num_actions"])
        self.sample = sample
        self.rng = np.random.default_rng(seed)

    def check(self, expected: Dict[str, str]) -> None:
        """Refuse this model unless its metadata matches ``expected`` (see
        :func:`encoder_expectation`); the error lists every difference."""
        diff = mismatches(self.metadata, expected)
        if diff:
            detail = "; ".join(f"{key}: model has {got!r}, encoder has {want!r}"
                               for key, (got, want) in sorted(diff.items()))
            raise ModelError(f"{self.path}: model does not match the encoder ({detail})")

    def logits(self, values: np.ndarray) -> np.ndarray:
        """Raw logits (B, num_actions) for token values (B, num_tokens)."""
        values = np.ascontiguousarray(values, dtype=np.float32)
        if values.ndim != 2 or values.shape[1] != self.num_tokens:
            raise ValueError(f"expected observations of shape (batch, {self.num_tokens}), "
                             f"got {values.shape}")
        if len(values) == 0:
            return np.zeros((0, self.num_actions), dtype=np.float32)
        return self._runner.run(values)

    def act(self, values: np.ndarray, action_mask: Optional[np.ndarray] = None,
            sample: Optional[bool] = None) -> np.ndarray:
        """One action per row: greedy, or sampled when ``sample`` (default: the policy's);
        actions where ``action_mask`` is False are never chosen."""
        return choose(self.logits(values), action_mask, self.sample if sample is None else sample,
                      self.rng)

    def rank(self, values: np.ndarray, action_mask: Optional[np.ndarray] = None,
             sample: Optional[bool] = None, path_left: Optional[np.ndarray] = None,
             path_weight: float = 0.0) -> List[List[int]]:
        """Every row's actions best first, masked ones left out: the preference order the
        collision shield reads (:mod:`marlgpt_planner.shield`). Greedy: by probability;
        sampled: drawn from the policy without replacement; ``path_weight`` > 0 blends in the
        path length each action leaves (``path_left``, see
        :func:`marlgpt_planner.rankings.ranking_scores`)."""
        return rank(ranking_scores(self.logits(values), action_mask,
                                   self.sample if sample is None else sample, self.rng,
                                   path_left, path_weight))

    def __repr__(self) -> str:
        return (f"RuntimePolicy({str(self.path)!r}, backend={self.backend!r}, "
                f"run_id={self.metadata['run_id']!r})")


def agreement(reference: np.ndarray, other: np.ndarray,
              action_mask: Optional[np.ndarray] = None) -> Dict[str, float]:
    """How closely two backends' logits agree: greedy-action agreement and max |diff|."""
    same = choose(reference, action_mask, False, None) == choose(other, action_mask, False, None)
    return {"rows": int(len(reference)), "same_action": float(same.mean()) if len(same) else 1.0,
            "max_abs_diff": float(np.abs(reference - other).max()) if len(same) else 0.0}


def _auto_backend(is_engine: bool) -> str:
    if is_engine:
        return "tensorrt"
    try:
        import tensorrt  # noqa: F401
        return "tensorrt"
    except ImportError:
        pass
    import onnxruntime

    return "cuda" if "CUDAExecutionProvider" in onnxruntime.get_available_providers() else "cpu"


class OrtRunner:
    """ONNX Runtime session on one execution provider."""

    PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider",
                 "ort-tensorrt": "TensorrtExecutionProvider"}

    def __init__(self, path: Path, backend: str, threads: int = 1,
                 cache_dir: Optional[PathLike] = None) -> None:
        import onnxruntime

        provider = self.PROVIDERS[backend]
        available = onnxruntime.get_available_providers()
        if provider not in available:
            raise ModelError(f"{path}: backend {backend!r} needs ONNX Runtime's {provider}, "
                             f"which this installation lacks (it has {', '.join(available)})")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = max(1, int(threads))
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        providers = [provider]
        if backend == "ort-tensorrt":
            cache = Path(cache_dir) if cache_dir else default_cache_dir()
            cache.mkdir(parents=True, exist_ok=True)
            providers = [(provider, {"trt_fp16_enable": True, "trt_engine_cache_enable": True,
                                     "trt_engine_cache_path": str(cache)}),
                         "CUDAExecutionProvider", "CPUExecutionProvider"]
        try:
            self.session = onnxruntime.InferenceSession(str(path), options, providers=providers)
        except Exception as exc:  # noqa: BLE001 - onnxruntime's own types, all mean "unusable"
            raise ModelError(f"{path}: not a loadable ONNX model ({exc})") from None
        self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)
        inputs = [node.name for node in self.session.get_inputs()]
        if inputs != [INPUT_NAME]:
            raise ModelError(f"{path}: model inputs are {inputs}, expected ['{INPUT_NAME}']")

    def run(self, values: np.ndarray) -> np.ndarray:
        return self.session.run([OUTPUT_NAME], {INPUT_NAME: values})[0]


def load_observations(path: PathLike) -> "tuple[np.ndarray, np.ndarray]":
    """Recorded observations written by ``marlgpt export``: (values float32, action_mask)."""
    with np.load(str(path)) as data:
        return data["values"].astype(np.float32), data["action_mask"].astype(bool)


def format_agreement(result: Dict[str, float], names: Sequence[str] = ("onnx", "other")) -> str:
    return (f"{names[1]} vs {names[0]}: {result['same_action'] * 100:.2f}% same greedy action "
            f"over {result['rows']} observations, max |logit diff| {result['max_abs_diff']:.2e}")
