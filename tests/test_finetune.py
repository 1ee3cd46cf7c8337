"""Online fine-tuning (``marlgpt finetune``): the critic warm-up, PPO's losses, the loop."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from safetensors.torch import load_file, save_file

from marlgpt_training.cli import main
from marlgpt_training.envs import lbf
from marlgpt_training.finetune import ppo
from marlgpt_training.model.gpt import MarlGpt, ModelConfig
from tests.conftest import REPO

SMALL = ModelConfig(width=32, heads=2, trunk_layers=1, branch_layers=1)
#: Two updates (one of critic warm-up, one joint) of a few short rollouts.
QUICK = {"env": "lbf",
         "rollout": {"num_envs": 2, "steps": 8, "team_reward": True, "seed": 1},
         "ppo": {"epochs": 2, "minibatches": 2, "warmup_updates": 1, "updates": 2,
                 "lr": 1e-3, "critic_lr": 1e-3},
         "run": {"checkpoint_every": 1, "eval_episodes": 2, "eval_at_start": True}}


def lbf_checkpoint(out: Path, layout: dict = None) -> Path:
    """An untrained small model saved as an LBF checkpoint (weights + config)."""
    torch.manual_seed(0)
    model = MarlGpt(SMALL)
    out.mkdir(parents=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()},
              str(out / "model.safetensors"))
    config = {"model": SMALL.to_dict(), "encoder": layout or lbf.layout(),
              "environments": {lbf.NAME: {"env_id": lbf.ENV_ID,
                                          "num_actions": lbf.NUM_ACTIONS}}}
    (out / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return out


def write_config(path: Path, **changes) -> Path:
    raw = json.loads(json.dumps(QUICK))
    for section, values in changes.items():
        raw[section].update(values)
    path.write_text(yaml.safe_dump(raw))
    return path


def actor_and_critic(weights: dict) -> tuple:
    actor = {k: v for k, v in weights.items() if not k.startswith("critic.")}
    critic = {k: v for k, v in weights.items() if k.startswith("critic.")}
    return actor, critic


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_clipped_surrogate_equals_a_hand_computation() -> None:
    ratios = torch.tensor([0.5, 0.7, 1.5, 1.1])
    advantages = torch.tensor([1.0, -1.0, 2.0, -0.5])
    old = torch.log(torch.full((4,), 0.4))
    new = (old + torch.log(ratios)).requires_grad_(True)
    loss = ppo.clipped_surrogate(new, old, advantages, clip=0.2)
    # min(r A, clip(r, 0.8, 1.2) A): 0.5 (unclipped), min(-0.7, -0.8) = -0.8 (clipped),
    # min(3.0, 2.4) = 2.4 (clipped), min(-0.55, -0.55) = -0.55; the loss is minus the mean.
    assert loss.item() == pytest.approx(-(0.5 - 0.8 + 2.4 - 0.55) / 4, abs=1e-6)
    loss.backward()
    # d/d log pi of -r A / 4 where the unclipped term is the minimum, 0 where clipped
    expected = torch.tensor([-0.5 * 1.0 / 4, 0.0, 0.0, -1.1 * -0.5 / 4])
    assert torch.allclose(new.grad, expected, atol=1e-6)


def test_gae_equals_a_hand_computation() -> None:
    reward = np.array([[[1.0]], [[0.0]], [[2.0]]], dtype=np.float32)  # (T=3, E=1, N=1)
    value = np.array([[[0.5]], [[1.0]], [[0.2]]], dtype=np.float32)
    done = np.array([[False], [True], [False]])  # the episode ends after step 1
    last = np.array([[0.4]], dtype=np.float32)
    gamma, lam = 0.9, 0.5
    d2 = 2.0 + gamma * 0.4 - 0.2
    d1 = 0.0 - 1.0  # terminal: no bootstrap, no carry-over from the next episode
    d0 = 1.0 + gamma * 1.0 - 0.5
    expected = [d0 + gamma * lam * d1, d1, d2]
    got = ppo.gae(reward, value, done, last, gamma, lam)[:, 0, 0]
    assert np.allclose(got, expected, atol=1e-6)


def test_the_warmup_reaches_no_actor_parameter_with_a_gradient() -> None:
    torch.manual_seed(0)
    model = MarlGpt(SMALL)
    ppo.freeze_actor(model, frozen=True)
    layout = lbf.layout()
    indices = [torch.tensor(layout["indices"][k]) for k in ("attr", "team", "agent", "time")]
    rows = 6
    batch = {"tokens": torch.rand(rows, 18), "mask": torch.ones(rows, 6, dtype=torch.bool),
             "action": torch.arange(rows) % 6, "logp": torch.full((rows,), -1.8),
             "advantage": torch.randn(rows), "target": torch.rand(rows)}
    out = ppo.losses(model, model, batch, indices, 1, 0.2, 0.5, 0.01, 0.75, train_actor=False)
    out["loss"].backward()
    assert all(p.grad is None for p in ppo.actor_parameters(model))
    assert all(p.grad is not None for p in model.critic.parameters())
    ppo.freeze_actor(model, frozen=False)
    model.zero_grad(set_to_none=True)
    out = ppo.losses(model, model, batch, indices, 1, 0.2, 0.5, 0.01, 0.75, train_actor=True)
    out["loss"].backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all()
               for p in ppo.actor_parameters(model))


def test_the_value_loss_leaves_the_trunk_to_the_policy_unless_asked() -> None:
    torch.manual_seed(0)
    model = MarlGpt(SMALL)
    layout = lbf.layout()
    indices = [torch.tensor(layout["indices"][k]) for k in ("attr", "team", "agent", "time")]
    tokens, env_ids = torch.rand(5, 18), torch.full((5,), 1)
    logits, q = ppo.PolicyValueNet(model, trunk_grad=False)(tokens, *indices, env_ids)
    expected_logits, expected_q = model(tokens, *indices, env_ids)
    assert torch.allclose(logits, expected_logits) and torch.allclose(q, expected_q)
    for trunk_grad in (False, True):
        model.zero_grad(set_to_none=True)
        _, q = ppo.PolicyValueNet(model, trunk_grad)(tokens, *indices, env_ids)
        q.square().mean().backward()  # any loss of the critic's output alone
        reached = [p.grad is not None for p in model.trunk.parameters()]
        assert all(reached) if trunk_grad else not any(reached)
        assert all(p.grad is None for p in model.actor.parameters())


def test_two_updates_on_lbf_warm_up_the_critic_then_tune_the_actor_and_resume(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    init = lbf_checkpoint(tmp_path / "pretrained")
    config = write_config(tmp_path / "ft.yaml")
    run = tmp_path / "run"
    assert main(["finetune", "--config", str(config), "--init", str(init), "--out", str(run),
                 "--no-progress"]) == 0
    pretrained = load_file(str(init / "model.safetensors"))
    warm = load_file(str(run / "checkpoints/step-000001/model.safetensors"))
    joint = load_file(str(run / "checkpoints/step-000002/model.safetensors"))
    # Update 1 (warm-up): the actor exactly as pretrained; the critic fresh and trained.
    assert same(actor_and_critic(warm)[0], actor_and_critic(pretrained)[0])
    assert not same(actor_and_critic(warm)[1], actor_and_critic(pretrained)[1])
    # Update 2 (joint PPO): the actor has moved.
    assert not same(actor_and_critic(joint)[0], actor_and_critic(pretrained)[0])
    state = torch.load(run / "checkpoints/step-000002/state.pt", weights_only=False)
    assert state["update"] == 2 and (run / "checkpoints/latest").read_text().strip() == \
        "step-000002"
    saved = yaml.safe_load((run / "checkpoints/step-000002/config.yaml").read_text())
    assert saved["finetune"]["ppo"]["warmup_updates"] == 1 and saved["model"] == \
        SMALL.to_dict()
    # The fine-tuned checkpoint is an ordinary one: marlgpt eval runs it.
    assert main(["eval", "--env", "lbf", "--policy", str(run), "--episodes", "2"]) == 0
    capsys.readouterr()
    # --resume continues the update counter (and the optimizer) up to the new length.
    assert main(["finetune", "--resume", str(run), "--set", "ppo.updates=3",
                 "--no-progress"]) == 0
    assert "resuming at update 2" in capsys.readouterr().out
    state = torch.load(run / "checkpoints/step-000003/state.pt", weights_only=False)
    assert state["update"] == 3
    # epochs x minibatches optimizer steps per update: the critic's in all three, the
    # actor's in the two joint ones (Adam skips a parameter without a gradient)
    optim = state["optimizer"]
    actor_param, critic_param = (group["params"][0] for group in optim["param_groups"])
    assert optim["state"][critic_param]["step"].item() == 3 * 2 * 2
    assert optim["state"][actor_param]["step"].item() == 2 * 2 * 2
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    updates = [line["update"] for line in lines if "phase" in line]
    assert updates == [1, 2, 3]
    assert [line["phase"] for line in lines if "phase" in line] == ["warmup", "joint", "joint"]
    evaluations = [line for line in lines if "eval_score" in line]
    assert [e["update"] for e in evaluations] == [0, 2, 3]
    assert all(e["eval_low"] <= e["eval_score"] <= e["eval_high"] for e in evaluations)
    # checkpoints/best.json names the last evaluation that beat every earlier one (none
    # if the pretrained policy's, at update 0, was never beaten), across the resume
    best, record = None, evaluations[0]["eval_score"]
    for e in evaluations[1:]:
        if e["eval_score"] > record:
            best, record = e["update"], e["eval_score"]
    best_file = run / "checkpoints" / "best.json"
    if best is None:
        assert not best_file.exists()
    else:
        kept = json.loads(best_file.read_text())
        assert kept["update"] == best and kept["eval_score"] == record
        assert (run / "checkpoints" / kept["checkpoint"] / "model.safetensors").is_file()
    assert (run / "tb").is_dir()


@pytest.mark.parametrize("case", ["other-env", "other-layout", "no-checkpoint", "no-init",
                                  "bad-key", "out-taken"])
def test_mismatches_give_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture,
                                        case: str) -> None:
    config = write_config(tmp_path / "ft.yaml")
    out = ["--out", str(tmp_path / "run")]
    if case == "other-env":
        argv = ["finetune", "--config", str(config), "--init",
                str(lbf_checkpoint(tmp_path / "p")), "--env", "pogema-lmapf", *out]
        expected = "was not trained on pogema-lmapf"
    elif case == "other-layout":
        layout = lbf.layout()
        layout["indices"]["attr"] = list(reversed(layout["indices"]["attr"]))
        argv = ["finetune", "--config", str(config), "--init",
                str(lbf_checkpoint(tmp_path / "p", layout)), *out]
        expected = "token layout"
    elif case == "no-checkpoint":
        (tmp_path / "empty").mkdir()
        argv = ["finetune", "--resume", str(tmp_path / "empty")]
        expected = "no checkpoint there"
    elif case == "no-init":
        argv = ["finetune", "--config", str(config), *out]
        expected = "no pretrained model"
    elif case == "bad-key":
        argv = ["finetune", "--config", str(config), "--init",
                str(lbf_checkpoint(tmp_path / "p")), "--set", "ppo.clipping=0.1", *out]
        expected = "unknown keys ['clipping']"
    else:
        (tmp_path / "run" / "checkpoints").mkdir(parents=True)
        argv = ["finetune", "--config", str(config), "--init",
                str(lbf_checkpoint(tmp_path / "p")), *out]
        expected = "already holds a run"
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert expected in err, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err


class RecordingRule:
    """A step rule that keeps the rankings it handed in last."""

    def __init__(self, rule) -> None:
        self.rule, self.rankings = rule, None

    def __getattr__(self, name: str):
        return getattr(self.rule, name)

    def choose(self, *args, **kwargs):
        self.rankings = self.rule.choose(*args, **kwargs)
        return self.rankings


def test_pogema_steps_are_settled_by_the_shield(tmp_path: Path) -> None:
    """The fleet's rule settles every step: no shared cell, each agent's move is one of its
    ranked actions, and the action recorded for PPO is the first of its ranking (a draw from
    the policy)."""
    from marlgpt_planner.actions import moves
    from marlgpt_training.envs import pogema
    from marlgpt_training.finetune import worlds
    from marlgpt_training.model import checkpoint

    directory = pogema.save_untrained(tmp_path / "p", "tiny")
    _, config = checkpoint.load_model(directory)
    world = worlds.make(pogema.NAME, {"sizes": [9], "agents": [6], "steps": 6,
                                      "densities": [0.1]}, config, str(directory),
                        team_reward=False, seed=2)
    assert world.rule.resolution == "shield"
    episode = world.episode(0)
    episode.rule = RecordingRule(episode.rule)
    rng = np.random.default_rng(0)
    for _ in range(6):
        _, mask = episode.observe()
        before = episode.positions.copy()
        logits = rng.normal(size=(episode.num_agents, 5)) * 3
        actions, reward, _, truncated = episode.step(logits, True, rng)
        after = episode.positions
        assert len({tuple(cell) for cell in after}) == len(after)
        rankings = episode.rule.rankings
        assert actions.tolist() == [ranking[0] for ranking in rankings]
        assert mask[np.arange(len(actions)), actions].all()
        assert all(int(m) in ranking for m, ranking in zip(moves(before, after), rankings))
        assert set(np.unique(reward)) <= {0.0, 1.0}
    assert truncated
    with pytest.raises(ValueError, match="asks agents in turn"):
        worlds.make(pogema.NAME, {"resolution": "sequential"}, config, str(directory),
                    team_reward=False, seed=0)


def test_two_process_torchrun_keeps_replicas_identical(tmp_path: Path) -> None:
    """DDP through the critic warm-up and into joint PPO (the wrapper is rebuilt when the
    actor is unfrozen)."""
    init = lbf_checkpoint(tmp_path / "pretrained")
    config = write_config(tmp_path / "ft.yaml", run={"eval_at_start": False})
    out = tmp_path / "ddp"
    env = dict(os.environ, OMP_NUM_THREADS="1", GLOO_SOCKET_IFNAME="lo")
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
         "-m", "marlgpt_training.cli", "finetune", "--config", str(config), "--init",
         str(init), "--out", str(out), "--no-progress"],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    replicas = json.loads((out / "replicas.json").read_text())
    assert replicas["world_size"] == 2
    assert replicas["weights_sha256"][0] == replicas["weights_sha256"][1]
    assert "2 process(es)" in result.stdout and "update 2 (joint)" in result.stdout
    state = torch.load(out / "checkpoints/step-000002/state.pt", weights_only=False)
    assert len(set(state["next_index"])) == 2  # each process its own episodes


def test_the_best_evaluation_names_its_checkpoint(tmp_path: Path) -> None:
    from marlgpt_training.finetune.loop import METRICS, _keep_best

    (tmp_path / "checkpoints").mkdir()
    metrics = tmp_path / METRICS
    best = tmp_path / "checkpoints" / "best.json"

    def evaluation(update: int, score: float) -> None:
        record = {"update": update, "eval_score": score, "eval_low": score - 0.1,
                  "eval_high": score + 0.1}
        with metrics.open("a") as stream:  # the loop logs an evaluation before keeping it
            stream.write(json.dumps(record) + "\n")
        if update:  # update 0 is the pretrained policy: logged, no checkpoint of the run
            _keep_best(tmp_path, record)

    evaluation(0, 0.30)
    evaluation(25, 0.25)
    assert not best.exists()  # below the pretrained policy
    evaluation(50, 0.40)
    assert json.loads(best.read_text())["checkpoint"] == "step-000050"
    evaluation(75, 0.40)  # a tie keeps the earlier one
    evaluation(100, 0.35)
    kept = json.loads(best.read_text())
    assert kept["update"] == 50 and kept["eval_score"] == 0.40
