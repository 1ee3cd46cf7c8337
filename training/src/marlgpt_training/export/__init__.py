"""``marlgpt export``: a training checkpoint -> the ONNX model file the robots run.

:func:`export_checkpoint` folds the checkpoint's actor for one environment into an opset-13
graph (:mod:`.graph`), writes the model-file metadata the planner checks
(:mod:`marlgpt_planner.policy`), records observations beside it (:mod:`.observations`) and
checks parity: ONNX Runtime's logits against torch's on those observations.
"""
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional

import numpy as np
import torch
import yaml

from marlgpt_planner.actions import NAMES
from marlgpt_planner.encoder import Encoder
from marlgpt_planner.policy import MODEL_FORMAT, RuntimePolicy, agreement, encoder_expectation
from marlgpt_training.export import graph, observations
from marlgpt_training.model import checkpoint
from marlgpt_training.policies.model import ENV_NAME, environment_layout

#: Largest max |logit diff| between ONNX Runtime and torch (fp32) an export accepts.
PARITY_TOLERANCE = 1e-4


@dataclass
class ExportReport:
    onnx: Path
    observations: Optional[Path]
    metadata: Dict[str, str]
    parameters: int
    nodes: int
    parity: Dict[str, float]

    def summary(self) -> str:
        size = self.onnx.stat().st_size / 1e6
        lines = [f"wrote {self.onnx} ({size:.2f} MB, {self.parameters:,} parameters, "
                 f"{self.nodes} nodes, opset {graph.OPSET})",
                 f"  run {self.metadata['run_id']}, encoder {self.metadata['encoder']} "
                 f"v{self.metadata['encoder_version']}, {self.metadata['num_tokens']} tokens, "
                 f"actions {self.metadata['actions']}",
                 f"  parity vs torch over {self.parity['rows']} observations: max |logit diff| "
                 f"{self.parity['max_abs_diff']:.2e} (limit {PARITY_TOLERANCE:.0e}), "
                 f"{self.parity['same_action'] * 100:.2f}% same greedy action"]
        if self.observations is not None:
            lines.append(f"  recorded observations: {self.observations}")
        return "\n".join(lines)


def config_hash(config: dict) -> str:
    return hashlib.sha256(yaml.safe_dump(config, sort_keys=True).encode()).hexdigest()


def run_id(directory: Path) -> str:
    """``RUN/step-N`` for ``RUN/checkpoints/step-N``; the directory name otherwise."""
    if directory.parent.name == "checkpoints":
        return f"{directory.parent.parent.name}/{directory.name}"
    return directory.name


def metadata_for(layout: dict, config: dict, directory: Path) -> Dict[str, str]:
    try:
        encoder = Encoder.from_layout(np.zeros((1, 1), dtype=bool), layout)
    except ValueError as exc:
        raise graph.ExportError(f"{directory}: trained on a layout the planner cannot feed "
                                f"({exc})") from None
    if int(layout["num_tokens"]) != encoder.num_tokens:
        raise graph.ExportError(f"{directory}: trained on {layout['num_tokens']} tokens, the "
                                f"planner's encoder writes {encoder.num_tokens}")
    return {
        "marlgpt.format": MODEL_FORMAT, "env": ENV_NAME,
        **{key: str(value) for key, value in encoder.metadata.items()},
        "num_actions": str(len(NAMES)), "layout_sha256": encoder.layout_digest,
        "actions": ",".join(NAMES), "run_id": run_id(directory),
        "config_hash": config_hash(config),
        "checkpoint_step": directory.name.split("-")[-1].lstrip("0") or "0",
    }


def export_checkpoint(source: "str | Path", out: Path, num_observations: int = 2048,
                      overwrite: bool = False, seed: int = 0) -> ExportReport:
    """Export ``source`` (run, checkpoint directory or model.safetensors) to ``out``.

    The file appears only once every check passed; ``out`` is not replaced unless
    ``overwrite``. Observations go to ``OUT.observations.npz`` (none if ``num_observations``
    is 0; parity then uses 256 unsaved ones).
    """
    out = Path(out)
    if out.suffix != ".onnx":
        raise graph.ExportError(f"{out}: the output must be an .onnx file")
    obs_path = observations_path(out)
    if not overwrite:
        for path in (out, obs_path if num_observations else None):
            if path is not None and path.exists():
                raise graph.ExportError(f"{path} exists; pass --force to replace it")
    directory = checkpoint.resolve(source)
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    model, config = checkpoint.load_model(directory)
    layout = environment_layout(config, ENV_NAME, str(directory))
    metadata = metadata_for(layout, config, directory)
    env_id = int(config["environments"][ENV_NAME]["env_id"])
    actor = graph.DeployedActor(model, layout["indices"], env_id, len(NAMES))

    values, mask = observations.record(max(num_observations, 256), layout, seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".export-") as tmp:
        staged = Path(tmp) / out.name
        proto = graph.to_onnx(actor, int(layout["num_tokens"]), str(staged), metadata)
        parity = check_parity(model, layout, env_id, staged, values, mask)
        if parity["max_abs_diff"] > PARITY_TOLERANCE:
            raise graph.ExportError(f"parity failed: max |logit diff| {parity['max_abs_diff']:.2e} "
                                    f"> {PARITY_TOLERANCE:.0e} between ONNX Runtime and torch")
        if num_observations:
            staged_obs = Path(tmp) / obs_path.name
            observations.save(staged_obs, values[:num_observations], mask[:num_observations])
            staged_obs.replace(obs_path)
        staged.replace(out)
    return ExportReport(out, obs_path if num_observations else None, metadata,
                        sum(int(np.prod(t.dims)) for t in proto.graph.initializer),
                        len(proto.graph.node), parity)


def observations_path(onnx_path: Path) -> Path:
    return onnx_path.with_name(onnx_path.stem + ".observations.npz")


@torch.no_grad()
def torch_logits(model, layout: dict, env_id: int, values: np.ndarray) -> np.ndarray:
    """The checkpoint's own actor logits (the environment's actions) for ``values``."""
    indices = [torch.tensor(layout["indices"][k], dtype=torch.long)
               for k in ("attr", "team", "agent", "time")]
    env = torch.full((len(values),), env_id, dtype=torch.long)
    logits, _ = model(torch.from_numpy(values), *indices, env, critic=False)
    return logits[:, :len(NAMES)].numpy()


def check_parity(model, layout: dict, env_id: int, onnx_path: Path, values: np.ndarray,
                 mask: np.ndarray) -> Dict[str, float]:
    """ONNX Runtime (CPU, the planner's runtime) against torch on the same observations."""
    policy = RuntimePolicy(onnx_path, backend="cpu", threads=1)
    encoder = Encoder.from_layout(np.zeros((1, 1), dtype=bool), layout)
    policy.check(encoder_expectation(encoder))
    reference = np.concatenate([torch_logits(model, layout, env_id, values[i:i + 256])
                                for i in range(0, len(values), 256)])
    deployed = np.concatenate([policy.logits(values[i:i + 256])
                               for i in range(0, len(values), 256)])
    return agreement(reference, deployed, mask)
