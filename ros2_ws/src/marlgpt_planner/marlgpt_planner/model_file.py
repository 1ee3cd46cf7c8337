"""The model-file contract between ``marlgpt export`` and the robot runtime (no torch).

A model file is an ONNX graph with input ``observations`` float32 (batch, tokens) and output
``logits`` float32 (batch, actions), whose metadata (all strings) names the encoder and its
version, the observation radius, history and neighbours, the token layout's digest, the action
set and the training run (docs/export.md). A serialized TensorRT engine (``.engine``/``.plan``)
carries the same metadata in a sidecar ``ENGINE.json``. This module holds the names, the
metadata checks, :class:`ModelError`, sidecars, hashes and the engine cache's place, so
:mod:`marlgpt_planner.policy` and :mod:`marlgpt_planner.tensorrt_engine` both build on it and
neither imports the other's internals. Python >= 3.8.
"""
import hashlib
import json
import os
from pathlib import Path
from typing import Dict, Union

from marlgpt_planner.actions import NAMES

#: Version of the model-file contract this runtime reads.
MODEL_FORMAT = "1"
INPUT_NAME = "observations"
OUTPUT_NAME = "logits"
ENGINE_SUFFIXES = (".engine", ".plan")
#: Keys every model file's metadata has (all values are strings).
REQUIRED_KEYS = ("marlgpt.format", "encoder", "encoder_version", "radius", "history",
                 "neighbours", "num_tokens", "num_actions", "layout_sha256", "actions",
                 "run_id", "config_hash")
#: Keys a model must share with the encoder that feeds it.
ENCODER_KEYS = ("encoder", "encoder_version", "radius", "history", "neighbours", "num_tokens",
                "num_actions", "layout_sha256")

PathLike = Union[str, "os.PathLike[str]"]


class ModelError(RuntimeError):
    """A model file that is missing, corrupt, or does not fit what is asked of it."""


def sha256_file(path: PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sidecar_path(engine: PathLike) -> Path:
    """Where an engine's metadata lives: ``model.engine`` -> ``model.engine.json``."""
    return Path(str(engine) + ".json")


def validate_metadata(metadata: Dict[str, str], path: PathLike) -> Dict[str, str]:
    """``metadata`` if it is a marlgpt model's; otherwise a :class:`ModelError` naming ``path``."""
    missing = [key for key in REQUIRED_KEYS if key not in metadata]
    if missing:
        raise ModelError(f"{path}: not a marlgpt model file (metadata lacks {', '.join(missing)}); "
                         "export checkpoints with 'marlgpt export'")
    if metadata["marlgpt.format"] != MODEL_FORMAT:
        raise ModelError(f"{path}: model format {metadata['marlgpt.format']}, this runtime reads "
                         f"format {MODEL_FORMAT}")
    if metadata["actions"] != ",".join(NAMES):
        raise ModelError(f"{path}: action set {metadata['actions']!r}, the fleet speaks "
                         f"{','.join(NAMES)!r}")
    return metadata


def encoder_expectation(encoder) -> Dict[str, str]:
    """What a model must declare to be fed by ``encoder`` (a marlgpt_planner Encoder)."""
    expected = {key: str(value) for key, value in encoder.metadata.items()}
    expected["layout_sha256"] = encoder.layout_digest
    return expected


def mismatches(metadata: Dict[str, str], expected: Dict[str, str]) -> Dict[str, tuple]:
    """Keys of ``expected`` whose value differs in ``metadata``: key -> (model, expected)."""
    return {key: (metadata.get(key), str(value)) for key, value in expected.items()
            if metadata.get(key) != str(value)}


def default_cache_dir() -> Path:
    return Path(os.environ.get("MARLGPT_ENGINE_CACHE",
                               Path.home() / ".cache" / "marlgpt" / "engines"))


def onnx_metadata(path: PathLike) -> Dict[str, str]:
    """An ONNX model file's metadata, read through ONNX Runtime's CPU provider."""
    import onnxruntime

    try:
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - onnxruntime's own types, all mean "unusable"
        raise ModelError(f"{path}: not a loadable ONNX model ({exc})") from None
    return dict(session.get_modelmeta().custom_metadata_map)


def write_sidecar(engine: PathLike, metadata: Dict[str, str], extra: Dict[str, str]) -> Path:
    """Write an engine's metadata sidecar (the ONNX metadata plus build facts)."""
    target = sidecar_path(engine)
    target.write_text(json.dumps(dict(metadata, **extra), indent=2, sort_keys=True) + "\n")
    return target
