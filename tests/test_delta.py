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



SEQUENTIAL_MODEL = MODEL.with_name("marlgpt-sequential.onnx")


def _replayed(spec, delta, learner):
    """The learner's own rollout of ``spec`` (as delta_episode makes it) and its encoders."""
    from marlgpt_planner.encoder import Encoder
    from marlgpt_planner.grid import DistanceFields

    obstacles, free, positions, goals, rng = episode_start(spec)
    fields = DistanceFields(obstacles, pad=CONFIG.radius)
    layout = (obstacles, CONFIG.radius, CONFIG.history, CONFIG.neighbours)
    learner_encoder = Encoder(*layout, fields=fields)
    teacher_encoder = Encoder(*layout, fields=fields, ages=True, claims=True)
    trajectory = model_rollout(spec, CONFIG, delta, learner, obstacles, free, positions, goals,
                               rng, learner_encoder)
    return trajectory, learner_encoder, teacher_encoder


def _rows(record, window):
    """(row, step of the episode) for every labelled row of a delta record."""
    return [(k * window + t, start + t) for k, start in enumerate(record.info["kept"])
            for t in range(window)]


def test_a_sequential_teacher_labels_the_learners_states_with_its_joint_step() -> None:
    """MAGPO's guider -> learner: the labels are the sequential model's own step, asked in
    turn, at the states the (soft-rule) learner visited; not the expert's."""
    from marlgpt_planner.actions import DELTAS
    from marlgpt_planner.encoder import GridState
    from marlgpt_planner.sequential import AskInTurn, check_step, sequential_step
    from marlgpt_planner.step_rule import StepRule

    delta = DeltaConfig(str(MODEL), resolution="soft", window=8, keep=2,
                        teacher=str(SEQUENTIAL_MODEL))
    spec = CONFIG.spec(1)
    learner, teacher = RuntimePolicy(MODEL), RuntimePolicy(SEQUENTIAL_MODEL)
    record = delta_episode(spec, CONFIG, delta, learner, teacher=teacher)
    by_expert = delta_episode(spec, CONFIG, DeltaConfig(str(MODEL), resolution="soft",
                                                        window=8, keep=2), learner)
    # Same learner states (neither the rollout nor the windows depend on the labeller) ...
    assert np.array_equal(record.state["position"], by_expert.state["position"])
    assert record.info["kept"] == by_expert.info["kept"]
    # ... other labels.
    assert (record.action != by_expert.action).any()

    trajectory, learner_encoder, encoder = _replayed(spec, delta, learner)
    rule = StepRule("sequential")
    rows = _rows(record, 8)
    for row, t in rows:
        state = GridState(trajectory.positions[t], trajectory.goals[t], trajectory.history[t],
                          trajectory.ages[t])
        assert np.array_equal(record.state["position"][row], state.positions)
        ask = AskInTurn(encoder, encoder.encode(state), state.positions, teacher.logits,
                        rule.choose)
        after, _ = sequential_step(state.positions, state.ages, ask, encoder.radius)
        labels = record.action[row].astype(np.int64)
        assert np.array_equal(state.positions + DELTAS[labels], after)
        check_step(state.positions, after)
        # The tokens are the learner's own (encoder v1), not the teacher's.
        assert np.array_equal(record.tokens[row],
                              learner_encoder.encode(state).values.astype(np.float16))
    assert len(rows) == len(record.action)
    assert 0.0 <= record.info["learner_agreement"] <= 1.0


def test_closeness_pulls_the_teachers_step_toward_the_learners_own() -> None:
    """With an overwhelming closeness the teacher's step is the learner's greedy rankings
    served in PIBT's order, which is the shield over them; with none it is the teacher's, and
    the learner agrees with it less."""
    from marlgpt_planner.actions import DELTAS
    from marlgpt_planner.encoder import GridState
    from marlgpt_planner.rankings import masked, rank
    from marlgpt_planner.shield import shield

    spec = CONFIG.spec(2)
    learner, teacher = RuntimePolicy(MODEL), RuntimePolicy(SEQUENTIAL_MODEL)
    deltas = {w: DeltaConfig(str(MODEL), resolution="soft", window=8, keep=2,
                             teacher=str(SEQUENTIAL_MODEL), closeness=w) for w in (0.0, 1e6)}
    records = {w: delta_episode(spec, CONFIG, d, learner, teacher=teacher)
               for w, d in deltas.items()}
    near, own = records[1e6], records[0.0]
    assert not np.array_equal(near.action, own.action)
    assert near.info["learner_agreement"] > own.info["learner_agreement"]

    trajectory, learner_encoder, _ = _replayed(spec, deltas[1e6], learner)
    for row, t in _rows(near, 8):
        state = GridState(trajectory.positions[t], trajectory.goals[t], trajectory.history[t],
                          trajectory.ages[t])
        obs = learner_encoder.encode(state)
        rankings = rank(masked(learner.logits(obs.values), obs.action_mask))
        after = shield(state.positions, rankings, state.ages)
        assert np.array_equal(state.positions + DELTAS[near.action[row].astype(np.int64)], after)


def test_teacher_options_are_checked(tmp_path: Path, capsys) -> None:
    from marlgpt_training.data.delta import DeltaGenerator

    base = ["generate", "--out", str(tmp_path / "d"), "--episodes", "1", "--workers", "1",
            "--no-progress"]
    assert main([*base, "--teacher", str(SEQUENTIAL_MODEL)]) == 2
    assert "give --from-model" in capsys.readouterr().err
    assert main([*base, "--from-model", str(MODEL), "--closeness", "1"]) == 2
    assert "give --teacher" in capsys.readouterr().err
    assert main([*base, "--from-model", str(MODEL), "--teacher", str(SEQUENTIAL_MODEL),
                 "--closeness", "-1"]) == 2
    assert "--closeness must be >= 0" in capsys.readouterr().err
    # A teacher without the claim tokens cannot decide in turn: one line, at once.
    assert main([*base, "--from-model", str(MODEL), "--teacher", str(MODEL)]) == 2
    assert "without the claim tokens" in capsys.readouterr().err
    with pytest.raises(ValueError, match="needs a teacher"):
        DeltaGenerator(CONFIG, DeltaConfig(str(MODEL), closeness=1.0))


def test_compare_labels_reads_two_labellings_of_the_same_states(tmp_path: Path) -> None:
    import subprocess
    import sys

    base = ["generate", "--from-model", str(MODEL), "--resolution", "soft", "--episodes", "1",
            "--sizes", "11", "--agents", "6", "--steps", "20", "--window", "6", "--keep", "2",
            "--workers", "1", "--no-progress"]
    assert main([*base, "--out", str(tmp_path / "e")]) == 0
    assert main([*base, "--out", str(tmp_path / "t"), "--teacher", str(SEQUENTIAL_MODEL)]) == 0
    run = subprocess.run([sys.executable, str(REPO / "scripts" / "compare_labels.py"),
                          str(tmp_path / "t"), str(tmp_path / "e")], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    t, e = (np.concatenate([s["action"] for s in Dataset(tmp_path / d)]) for d in "te")
    assert f"labels agree on {(t == e).mean():.1%}" in run.stdout
    assert f"waits {(t == 0).mean():.1%}" in run.stdout and "same states" in run.stdout
