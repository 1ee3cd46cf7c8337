"""Delta data (the expert's labels on the model's own worst windows) and fine-tuning from a run."""
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from safetensors.torch import load_file

from marlgpt_planner.policy import RuntimePolicy
from marlgpt_training.cli import main
from marlgpt_training.data.delta import DeltaConfig, delta_episode, model_rollout
from marlgpt_training.data.records import Dataset
from marlgpt_training.envs.pogema import GeneratorConfig, episode_start, make_expert
from tests.conftest import REPO

MODEL = REPO / "ros2_ws" / "src" / "marlgpt_planner" / "models" / "marlgpt.onnx"
CONFIG = GeneratorConfig(sizes=(13,), agents=(12,), steps=40, seed=5)


@pytest.mark.parametrize("resolution", ["shield", "soft"])
def test_delta_rows_are_the_experts_labels_on_the_models_worst_windows(resolution) -> None:
    from marlgpt_planner.encoder import Encoder
    from marlgpt_planner.grid import DistanceFields

    delta = DeltaConfig(str(MODEL), resolution=resolution, window=8, keep=2)
    spec = CONFIG.spec(1)
    record = delta_episode(spec, CONFIG, delta, RuntimePolicy(MODEL))
    n = spec.num_agents
    assert record.action.shape == (16, n) and record.tokens.shape[:2] == (16, n)
    assert record.done[:, 0].tolist() == [False] * 7 + [True] + [False] * 7 + [True]

    windows = record.info["windows"]
    assert len(windows) == 4  # starts 0, 8, 16, 24 (each needs its window's last state)
    gap = {w["start"]: w["expert"] - w["model"] for w in windows}
    kept = record.info["kept"]
    assert min(gap[s] for s in kept) >= max(gap[s] for s in gap if s not in kept)

    # The rows are the model's own states (replayed) labelled by an expert that takes over
    # there with the episode's goal ages.
    obstacles, free, positions, goals, rng = episode_start(spec)
    fields = DistanceFields(obstacles, pad=CONFIG.radius)
    encoder = Encoder(obstacles, CONFIG.radius, CONFIG.history, CONFIG.neighbours, fields=fields)
    trajectory = model_rollout(spec, CONFIG, delta, RuntimePolicy(MODEL), obstacles, free,
                               positions, goals, rng, encoder)
    assert record.info["goals_reached"] == trajectory.goals_reached
    for k, start in enumerate(kept):
        expert = make_expert(obstacles, spec.seed + start, CONFIG)
        expert.resume(trajectory.goals[start], trajectory.ages[start])
        for t in range(8):
            row = k * 8 + t
            assert np.array_equal(record.state["position"][row], trajectory.positions[start + t])
            labels = expert.step(trajectory.positions[start + t], trajectory.goals[start + t])
            assert np.array_equal(record.action[row], labels)


def test_generate_from_model_writes_a_dataset_training_reads(tmp_path: Path, capsys) -> None:
    out = tmp_path / "delta"
    args = ["generate", "--from-model", str(MODEL), "--out", str(out), "--episodes", "2",
            "--sizes", "11", "--agents", "6", "--steps", "20", "--window", "6", "--keep", "2",
            "--workers", "1", "--no-progress"]
    assert main(args) == 0
    assert "model score" in capsys.readouterr().out
    dataset = Dataset(out)
    assert dataset.manifest["rows"] == 2 * 2 * 6 * 6
    assert dataset.manifest["settings"]["generator"]["seed"] == 1  # fresh maps by default
    assert dataset.manifest["settings"]["generator"]["delta"]["resolution"] == "shield"
    assert main([*args, "--steps", "6"]) == 2
    assert "must exceed --window" in capsys.readouterr().err
    assert main(["generate", "--from-model", str(tmp_path / "none.onnx"), "--out",
                 str(tmp_path / "x")]) == 2


def test_init_starts_from_a_runs_weights_and_refuses_another_size(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert main(["generate", "--out", str(data), "--episodes", "2", "--sizes", "9", "--agents",
                 "4", "--steps", "12", "--workers", "1", "--no-progress"]) == 0
    model = {"width": 32, "heads": 2, "trunk_layers": 1, "branch_layers": 1}
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({
        "model": model, "loss": {"mode": "bc"},
        "optim": {"batch_size": 16, "lr": 3e-3, "warmup_steps": 1, "max_steps": 2},
        "data": {"dirs": [str(data)], "workers": 0}, "run": {"checkpoint_every": 2}}))
    base = ["train", "--config", str(config), "--no-progress"]
    assert main([*base, "--out", str(tmp_path / "a")]) == 0
    # With a zero learning rate the fine-tuned weights must be exactly the initial ones.
    frozen = ["--set", "optim.lr=0", "--set", "optim.min_lr=0", "--set", "optim.weight_decay=0"]
    assert main([*base, *frozen, "--out", str(tmp_path / "b"), "--init",
                 str(tmp_path / "a")]) == 0
    a = load_file(str(tmp_path / "a/checkpoints/step-000002/model.safetensors"))
    b = load_file(str(tmp_path / "b/checkpoints/step-000002/model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert main([*base, *frozen, "--out", str(tmp_path / "c")]) == 0  # no --init: other weights
    c = load_file(str(tmp_path / "c/checkpoints/step-000002/model.safetensors"))
    assert not all(torch.equal(a[k], c[k]) for k in a)
    assert main([*base, "--out", str(tmp_path / "d"), "--init", str(tmp_path / "a"),
                 "--set", "model.width=64"]) == 2


def test_sequential_delta_data_is_labelled_in_turn_and_needs_a_model_with_claims() -> None:
    from dataclasses import replace

    from marlgpt_planner.sequential import check_step
    from marlgpt_training.data.delta import DeltaGenerator

    sequential = MODEL.with_name("marlgpt-sequential.onnx")
    with pytest.raises(ValueError, match="without the claim tokens"):
        DeltaGenerator(CONFIG, DeltaConfig(str(MODEL), resolution="sequential"))
    generator = DeltaGenerator(CONFIG, DeltaConfig(str(sequential), resolution="sequential",
                                                   window=8, keep=1))
    assert generator.config.claims and generator.token_layout()["encoder_version"] == 3
    record = generator.episode(1)
    steps, n = record.action.shape
    # The expert's action is always allowed by the row's mask (claims before it dropped), and
    # some rows saw another robot's claim.
    assert record.action_mask[np.arange(steps)[:, None], np.arange(n), record.action].all()
    start = record.tokens.shape[2] - (7 + 3 * CONFIG.neighbours)
    assert (record.tokens[:, :, start + 7::3] == 1).any()
    # The model's own rollout under the sequential resolution never collides.
    spec = CONFIG.spec(1)
    obstacles, free, positions, goals, rng = episode_start(spec)
    from marlgpt_training.envs.pogema import make_encoder

    config = replace(CONFIG, claims=True)
    encoder = make_encoder(obstacles, config, make_expert(obstacles, spec.seed, config))
    trajectory = model_rollout(spec, config, generator.delta, RuntimePolicy(sequential),
                               obstacles, free, positions, goals, rng, encoder)
    for before, after in zip(trajectory.positions, trajectory.positions[1:]):
        check_step(before, after)
