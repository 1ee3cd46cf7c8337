"""TensorRT backend of :class:`marlgpt_planner.policy.RuntimePolicy` (Jetson and other NVIDIA GPUs).

Needs the ``tensorrt`` Python bindings (JetPack ships them for Python 3.6; the robot image
builds them for its Python) and ``pycuda`` for device memory. Written against both TensorRT
APIs: 8.x (bindings, ``execute_v2``; the Jetson Nano's 8.2) and 10.x (named I/O tensors,
``execute_async_v3``).

An ``.onnx`` model is built into an FP16 engine on first use, with one optimization profile
for batches 1..``max_batch``, and cached as
``CACHE/<stem>-<model sha256[:16]>-trt<version>-<gpu>.engine`` beside its metadata sidecar, so
a new model, a TensorRT upgrade or another GPU each get their own engine.
"""
import re
from pathlib import Path
from typing import Dict, Optional

import numpy as np

from marlgpt_planner.model_file import (
    ENGINE_SUFFIXES,
    INPUT_NAME,
    OUTPUT_NAME,
    ModelError,
    default_cache_dir,
    onnx_metadata,
    sha256_file,
    sidecar_path,
    write_sidecar,
)

#: Builder workspace (bytes); trtexec's default of 16 MB is too small for some tactics.
WORKSPACE_BYTES = 256 << 20


def _import():
    try:
        import pycuda.autoinit  # noqa: F401  (creates the CUDA context)
        import pycuda.driver as cuda
        import tensorrt as trt
    except ImportError as exc:
        raise ModelError(f"backend 'tensorrt' needs the tensorrt and pycuda Python packages "
                         f"({exc}); use backend 'cpu' or 'cuda' (ONNX Runtime) instead") from None
    return trt, cuda


def gpu_slug(cuda) -> str:
    device = cuda.Device(0)
    major, minor = device.compute_capability()
    name = re.sub(r"[^A-Za-z0-9]+", "-", device.name()).strip("-").lower()
    return f"{name}-sm{major}{minor}"


def engine_cache_path(onnx_path: Path, cache_dir: Path, trt_version: str, gpu: str) -> Path:
    """Cache file of the engine built from ``onnx_path`` by this TensorRT on this GPU."""
    digest = sha256_file(onnx_path)[:16]
    return cache_dir / f"{onnx_path.stem}-{digest}-trt{trt_version}-{gpu}.engine"


def build_engine(onnx_path: Path, engine_path: Path, trt, max_batch: int = 64,
                 fp16: bool = True, workspace: int = WORKSPACE_BYTES) -> None:
    """Parse ``onnx_path`` and serialize an engine for batches 1..max_batch to ``engine_path``."""
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    explicit = getattr(trt.NetworkDefinitionCreationFlag, "EXPLICIT_BATCH", None)
    major = int(trt.__version__.split(".")[0])
    # TensorRT 8 needs the explicit-batch flag; from 10 on it is the only mode (flag deprecated).
    network = builder.create_network(1 << int(explicit) if explicit is not None and major < 10
                                     else 0)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_path.read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ModelError(f"{onnx_path}: TensorRT cannot parse it: {errors}")
    config = builder.create_builder_config()
    if hasattr(config, "set_memory_pool_limit"):  # TensorRT >= 8.4
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace)
    else:  # TensorRT 8.2
        config.max_workspace_size = workspace
    if fp16 and getattr(builder, "platform_has_fast_fp16", True):
        config.set_flag(trt.BuilderFlag.FP16)
    tokens = network.get_input(0).shape[1]
    profile = builder.create_optimization_profile()
    profile.set_shape(INPUT_NAME, (1, tokens), (min(8, max_batch), tokens), (max_batch, tokens))
    config.add_optimization_profile(profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise ModelError(f"{onnx_path}: TensorRT engine build failed (see the log above)")
    engine_path.parent.mkdir(parents=True, exist_ok=True)
    partial = engine_path.with_suffix(".partial")
    partial.write_bytes(bytes(serialized))
    partial.replace(engine_path)


class TensorRtRunner:
    """Runs an engine (loaded, or built from ONNX and cached) on the first GPU."""

    def __init__(self, path: Path, cache_dir: Optional[Path] = None, max_batch: int = 64) -> None:
        trt, self.cuda = _import()
        self.trt = trt
        if path.suffix in ENGINE_SUFFIXES:
            engine_path = path
            sidecar = sidecar_path(path)
            if not sidecar.is_file():
                raise ModelError(f"{path}: engine has no metadata sidecar {sidecar.name}; "
                                 "write it with python3 -m marlgpt_planner.check_engine")
            import json

            self.metadata = {k: str(v) for k, v in json.loads(sidecar.read_text()).items()}
        else:
            self.metadata = onnx_metadata(path)
            cache = Path(cache_dir) if cache_dir else default_cache_dir()
            engine_path = engine_cache_path(path, cache, trt.__version__, gpu_slug(self.cuda))
            if not engine_path.is_file():
                print(f"building a TensorRT engine from {path} (once; cached at {engine_path})",
                      flush=True)
                build_engine(path, engine_path, trt, max_batch=max_batch)
                write_sidecar(engine_path, self.metadata,
                              {"onnx_sha256": sha256_file(path), "tensorrt": trt.__version__})
        runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        self.engine = runtime.deserialize_cuda_engine(engine_path.read_bytes())
        if self.engine is None:
            raise ModelError(f"{engine_path}: not a TensorRT engine for this TensorRT/GPU")
        self.context = self.engine.create_execution_context()
        self.stream = self.cuda.Stream()
        self.num_actions = int(self.metadata.get("num_actions", 5))
        self.v10 = hasattr(self.engine, "num_io_tensors")
        shapes = (self.engine.get_tensor_profile_shape(INPUT_NAME, 0) if self.v10
                  else self.engine.get_profile_shape(0, INPUT_NAME))
        self.max_batch = int(shapes[2][0])
        self._buffers: Dict[int, tuple] = {}

    def _device_buffers(self, batch: int, tokens: int) -> tuple:
        if batch not in self._buffers:
            host_out = self.cuda.pagelocked_empty((batch, self.num_actions), np.float32)
            device_in = self.cuda.mem_alloc(batch * tokens * 4)
            device_out = self.cuda.mem_alloc(host_out.nbytes)
            self._buffers[batch] = (device_in, device_out, host_out)
        return self._buffers[batch]

    def run(self, values: np.ndarray) -> np.ndarray:
        if len(values) > self.max_batch:  # beyond the engine's profile: run in chunks
            return np.concatenate([self.run(values[start:start + self.max_batch])
                                   for start in range(0, len(values), self.max_batch)])
        batch, tokens = values.shape
        device_in, device_out, host_out = self._device_buffers(batch, tokens)
        self.cuda.memcpy_htod_async(device_in, values, self.stream)
        if self.v10:
            self.context.set_input_shape(INPUT_NAME, (batch, tokens))
            self.context.set_tensor_address(INPUT_NAME, int(device_in))
            self.context.set_tensor_address(OUTPUT_NAME, int(device_out))
            ok = self.context.execute_async_v3(self.stream.handle)
        else:
            index_in = self.engine.get_binding_index(INPUT_NAME)
            index_out = self.engine.get_binding_index(OUTPUT_NAME)
            self.context.set_binding_shape(index_in, (batch, tokens))
            bindings = [0] * self.engine.num_bindings
            bindings[index_in], bindings[index_out] = int(device_in), int(device_out)
            ok = self.context.execute_async_v2(bindings, self.stream.handle)
        if not ok:
            raise RuntimeError("TensorRT execution failed")
        self.cuda.memcpy_dtoh_async(host_out, device_out, self.stream)
        self.stream.synchronize()
        return host_out.copy()
