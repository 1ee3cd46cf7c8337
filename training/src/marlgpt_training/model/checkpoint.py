"""Checkpoints: weights as safetensors, optimizer and loop state, and the full config.

``OUT/checkpoints/step-000100/`` holds ``model.safetensors`` (the weights a deployed model
needs), ``target.safetensors`` (the critic's EMA target network), ``state.pt`` (optimizer,
scheduler position, data position and RNG states, for an exact resume) and ``config.yaml``.
``OUT/checkpoints/latest`` names the newest one.
"""
from pathlib import Path
from typing import Optional

import torch
import yaml
from safetensors.torch import load_file, save_file

from marlgpt_training.model.gpt import MarlGpt, ModelConfig


def save(out: Path, step: int, model: MarlGpt, target: Optional[MarlGpt],
         optimizer: torch.optim.Optimizer, state: dict, config: dict) -> Path:
    directory = out / "checkpoints" / f"step-{step:06d}"
    directory.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()},
              str(directory / "model.safetensors"))
    if target is not None:
        save_file({k: v.contiguous() for k, v in target.state_dict().items()},
                  str(directory / "target.safetensors"))
    torch.save(dict(state, step=step, optimizer=optimizer.state_dict(),
                    rng_torch=torch.get_rng_state()), directory / "state.pt")
    (directory / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    (out / "checkpoints" / "latest").write_text(directory.name + "\n")
    return directory


def latest(out: Path) -> Optional[Path]:
    pointer = out / "checkpoints" / "latest"
    if not pointer.is_file():
        return None
    directory = out / "checkpoints" / pointer.read_text().strip()
    return directory if directory.is_dir() else None


def resolve(path: "str | Path") -> Path:
    """A checkpoint directory from itself, its ``model.safetensors`` or a run directory."""
    path = Path(path)
    if path.is_file() and path.name == "model.safetensors":
        path = path.parent
    if (path / "checkpoints").is_dir():
        found = latest(path)
        if found is None:
            raise FileNotFoundError(f"run {path} has no checkpoint yet")
        path = found
    if not (path / "model.safetensors").is_file() or not (path / "config.yaml").is_file():
        raise FileNotFoundError(f"{path} is not a checkpoint (model.safetensors + config.yaml)")
    return path


def load_model(path: "str | Path", device: str = "cpu") -> "tuple[MarlGpt, dict]":
    """The model of a checkpoint and its full config (a dict)."""
    directory = resolve(path)
    try:
        config = yaml.safe_load((directory / "config.yaml").read_text())
        model = MarlGpt(ModelConfig(**config["model"]))
    except (yaml.YAMLError, TypeError, KeyError) as exc:
        raise ValueError(f"{directory / 'config.yaml'}: not a checkpoint config ({exc})") from None
    load_weights(model, directory / "model.safetensors", device)
    return model.to(device).eval(), config


def load_weights(model: MarlGpt, path: Path, device: str = "cpu") -> None:
    """``path``'s weights into ``model``; a ValueError in one line for a file that is not
    safetensors or weights that do not fit the model's config."""
    try:
        weights = load_file(str(path), device=device)
    except Exception as exc:  # noqa: BLE001  (safetensors raises its own error types)
        raise ValueError(f"{path}: not a readable safetensors file ({exc})") from None
    try:
        model.load_state_dict(weights)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        detail = " ".join(line.strip() for line in first[1:3]) if len(first) > 1 else first[0]
        raise ValueError(f"{path}: the weights do not fit the config's model ({detail})") \
            from None


def init_weights(model: MarlGpt, path: "str | Path", config: dict,
                 any_layout: bool = False) -> Path:
    """Load a checkpoint's weights into ``model`` for fine-tuning; refuse one whose model size,
    token layout or environments differ from ``config`` (the run's full config). With
    ``any_layout`` the token layout may differ: the model reads each token by its kind and
    place (attr, team, agent, time indices), so the weights of an older layout version are a
    warm start for a newer one whose new token kinds start untrained."""
    directory = resolve(path)
    other = yaml.safe_load((directory / "config.yaml").read_text())
    for key in ("model", "environments") if any_layout else ("model", "encoder", "environments"):
        if other.get(key) != config.get(key):
            raise ValueError(f"--init {path}: its {key} differs from this run's "
                             f"({other.get(key)} vs {config.get(key)})")
    load_weights(model, directory / "model.safetensors", str(next(model.parameters()).device))
    return directory


def save_untrained(out: Path, size: str, generator, seed: int = 0) -> Path:
    """A freshly initialised ``size`` model (see ``SIZES``) as a checkpoint of ``generator``'s
    environment (its token layout, name, id and actions) at ``OUT/checkpoints/step-000000``:
    what latency benchmarks and export tests need, no data. The robots' one:
    :func:`marlgpt_training.envs.pogema.save_untrained`."""
    from marlgpt_training.model.gpt import SIZES

    if size not in SIZES:
        raise ValueError(f"unknown model size {size!r}; sizes are {', '.join(SIZES)}")
    torch.manual_seed(seed)
    model = MarlGpt(SIZES[size])
    config = {"model": SIZES[size].to_dict(), "encoder": generator.token_layout(),
              "environments": {generator.name: {"env_id": generator.env_id,
                                                "num_actions": generator.num_actions}}}
    directory = out / "checkpoints" / "step-000000"
    directory.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()},
              str(directory / "model.safetensors"))
    (directory / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    (out / "checkpoints" / "latest").write_text(directory.name + "\n")
    return directory
