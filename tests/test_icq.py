"""``loss.mode: icq``: Oryx's sequential ICQ loss, its data (the preceding agents' actions)
and its model input (CPU)."""
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from safetensors.torch import load_file

from marlgpt_training.cli import main
from marlgpt_training.data.loader import BatchStream, pool_shards
from marlgpt_training.data.preceding import (
    neighbour_slots,
    pool_preceding,
    preceding_actions,
    step_ranks,
)
from marlgpt_training.data.records import Dataset, DatasetError, write_manifest
from marlgpt_training.model.gpt import MarlGpt, ModelConfig, hl_gauss_targets, masked_logits
from marlgpt_training.model.losses import LossConfig, compute_losses, icq_weights
from marlgpt_training.train import config as config_module
from tests.conftest import REPO

# The trainer tests' small POGEMA episodes (the expert without LNS: fast; 6 agents on 9x9
# see each other) and model.
from tests.test_training import MODEL, SMALL_DATA


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("icq") / "data"
    assert main(["generate", "--out", str(out), "--episodes", "4", *SMALL_DATA]) == 0
    return out


def first_shard(data_dir: Path) -> "tuple[dict, dict]":
    dataset = Dataset(data_dir)
    layout = dataset.manifest["environments"]["pogema-lmapf"]["token_layout"]
    return dataset.load_shard(dataset.shards[0]), layout


class Rows:
    """Stands in for the loader's generator: its "permutation" is the rows asked for."""

    def __init__(self, rows) -> None:
        self.rows = np.asarray(rows)

    def permutation(self, n: int) -> np.ndarray:
        return self.rows


def batch_of(data_dir: Path, shard: dict, layout: dict, rows, order: str = "index") -> dict:
    """The loader's batch of exactly ``rows`` of ``shard`` (its preceding actions rebuilt)."""
    stream = BatchStream([data_dir], len(rows), preceding=order)
    pool = pool_shards([shard])
    pool["preceding"] = pool_preceding([shard], layout, order, np.random.default_rng(0))
    return next(stream._batches(pool, Rows(rows)))


def icq_model(seed: int = 0) -> MarlGpt:
    torch.manual_seed(seed)
    return MarlGpt(ModelConfig(**MODEL, preceding_actions=True))


# --- which actions reach an agent -------------------------------------------------------------

def test_only_the_agents_before_in_the_order_give_their_actions() -> None:
    # One step of 3 agents, each seeing the other two (slot 1, slot 2); order by rank.
    action = np.array([4, 2, 3])
    slots = np.array([[1, 2], [0, 2], [0, 1]])
    rank = np.array([0, 1, 2])  # agent 0 first, then 1, then 2
    got = preceding_actions(action, slots, rank)
    assert got.tolist() == [[-1, -1], [4, -1], [4, 2]]
    # Another order: 2 first, then 0, then 1.
    got = preceding_actions(action, slots, np.array([1, 2, 0]))
    assert got.tolist() == [[-1, 3], [4, 3], [-1, -1]]
    # An empty slot (-1) never gives an action, even to the last agent.
    got = preceding_actions(action, np.array([[1, -1], [0, -1], [0, -1]]), rank)
    assert got.tolist() == [[-1, -1], [4, -1], [4, -1]]


def test_shuffled_orders_are_permutations_of_each_step() -> None:
    episode = np.array([0] * 6 + [1] * 3)
    step = np.array([0, 0, 0, 1, 1, 1, 0, 0, 0])
    agent = np.array([0, 1, 2] * 3)
    rank = step_ranks(episode, step, agent, "shuffled", np.random.default_rng(3))
    for start in (0, 3, 6):
        assert sorted(rank[start:start + 3].tolist()) == [0, 1, 2]
    orders = {tuple(step_ranks(episode, step, agent, "shuffled",
                               np.random.default_rng(s))[:3]) for s in range(20)}
    assert len(orders) > 1  # not always the same order
    assert step_ranks(episode, step, agent, "index", None).tolist() == agent.tolist()


def test_the_ablation_order_gives_no_action(data_dir: Path) -> None:
    shard, layout = first_shard(data_dir)
    rng = np.random.default_rng(0)
    assert (pool_preceding([shard], layout, "none", rng) == -1).all()
    assert (pool_preceding([shard], layout, "index", rng) >= 0).any()


def test_lbf_slots_are_the_other_agents_in_index_order() -> None:
    from marlgpt_training.envs.lbf import layout

    shard = {"action": np.zeros(5, np.uint8), "episode": np.array([0, 0, 0, 1, 1]),
             "step": np.zeros(5, np.int32), "agent": np.array([0, 1, 2, 0, 1])}
    slots = neighbour_slots(shard, layout())
    assert slots.tolist() == [[1, 2], [0, 2], [0, 1], [4, -1], [3, -1]]


def test_pogema_slots_are_the_encoders_neighbours(data_dir: Path) -> None:
    """Slot k's agent is the one whose offset the row's tokens show in neighbour slot k."""
    shard, layout = first_shard(data_dir)
    slots = neighbour_slots(shard, layout)
    assert slots.shape == (len(shard["action"]), layout["neighbours"])
    index = {k: np.asarray(v) for k, v in layout["indices"].items()}
    base, radius = (2 * layout["radius"] + 1) ** 2, layout["radius"]
    position = shard["state/position"].astype(float)
    tokens = shard["tokens"].astype(float)
    assert (slots[:, 0] >= 0).mean() > 0.5  # most agents see someone on a 9x9 map
    for k in range(slots.shape[1]):
        for axis, attr in ((0, base + 9), (1, base + 10)):  # offset[row], offset[col]
            column = np.flatnonzero((index["team"] == 1) & (index["agent"] == k + 1)
                                    & (index["attr"] == attr))[0]
            seen = slots[:, k] >= 0
            offset = (position[slots[seen, k], axis] - position[seen, axis]) / radius
            np.testing.assert_allclose(tokens[seen, column], offset, atol=1e-3)
            assert (tokens[~seen, column] == -2.0).all()  # ABSENT
    same_step = (shard["episode"][slots] == shard["episode"][:, None]) \
        & (shard["step"][slots] == shard["step"][:, None])
    assert same_step[slots >= 0].all()


def a_row_with_one_before_and_one_after(shard: dict, layout: dict) -> "tuple[int, int, int]":
    """(row, a slot agent's row before it, a slot agent's row after it) in the index order."""
    slots = neighbour_slots(shard, layout)
    for row in range(len(slots)):
        seen = slots[row][slots[row] >= 0]
        agent = shard["agent"]
        before = [j for j in seen if agent[j] < agent[row]]
        after = [j for j in seen if agent[j] > agent[row]]
        if before and after:
            return row, int(before[0]), int(after[0])
    raise AssertionError("no agent sees one agent before it and one after it")


def test_q_reads_the_preceding_agents_actions_and_not_the_following(data_dir: Path) -> None:
    """Changing the dataset action of an agent before agent i (in the step's order) changes
    agent i's Q and ICQ loss; changing one after it changes neither."""
    shard, layout = first_shard(data_dir)
    row, before, after = a_row_with_one_before_and_one_after(shard, layout)
    rows = [row]
    model, target = icq_model(0), icq_model(1).requires_grad_(False)
    config = LossConfig(mode="icq")

    def q_and_loss(actions: np.ndarray) -> "tuple[torch.Tensor, dict]":
        changed = dict(shard, action=actions)
        batch = batch_of(data_dir, changed, layout, rows)
        _, q = model(batch["tokens"], batch["attr"], batch["team"], batch["agent"],
                     batch["time"], batch["env_id"], preceding=batch["preceding"])
        return model.q_values(q), compute_losses(model, batch, config, target)

    q, losses = q_and_loss(shard["action"])
    for other, moves in ((before, True), (after, False)):
        actions = shard["action"].copy()
        actions[other] = (actions[other] + 1) % 5
        q2, losses2 = q_and_loss(actions)
        if moves:
            assert not torch.allclose(q, q2, atol=1e-6)
            assert abs(float(losses2["critic"]) - float(losses["critic"])) > 1e-6
        else:
            assert torch.equal(q, q2)
            for key in ("critic", "actor", "loss"):
                assert torch.equal(losses[key], losses2[key]), key
    # The actor does not read them: the deployed policy is the same whatever came before.
    batch = batch_of(data_dir, shard, layout, rows)
    args = (batch["tokens"], batch["attr"], batch["team"], batch["agent"], batch["time"],
            batch["env_id"])
    none = torch.full_like(batch["preceding"], -1)
    assert torch.equal(model(*args, preceding=batch["preceding"])[0],
                       model(*args, preceding=none)[0])


# --- the weights and the two terms ------------------------------------------------------------

def test_icq_weights_are_a_softmax_over_the_batch() -> None:
    alpha = 0.1
    advantage = torch.tensor([0.0, alpha * math.log(2.0), alpha * math.log(4.0)])
    # exp(A / alpha) = 1, 2, 4; normalised over the batch and scaled by its size 3
    torch.testing.assert_close(icq_weights(advantage, alpha),
                               torch.tensor([3 / 7, 6 / 7, 12 / 7]))
    # Rows left out (done rows in the critic target) weigh 0; the rest average 1.
    values = torch.tensor([1.0, 5.0, 1.0])
    torch.testing.assert_close(icq_weights(values, 0.5, torch.tensor([True, False, True])),
                               torch.tensor([1.0, 0.0, 1.0]))
    assert torch.equal(icq_weights(values, 0.5, torch.zeros(3, dtype=torch.bool)),
                       torch.zeros(3))
    # A large temperature gives weights near 1 (Oryx's value temperature 1000: SARSA).
    torch.testing.assert_close(icq_weights(values, 1000.0), torch.ones(3), atol=1e-2, rtol=0)


def test_icq_terms_as_written(data_dir: Path) -> None:
    """The actor term is the ICQ-weighted log-likelihood of the dataset action with the
    in-sample counterfactual advantage; the critic's target the in-sample ICQ TD target."""
    shard, layout = first_shard(data_dir)
    rows = list(range(0, len(shard["action"]), 7))[:24]
    batch = batch_of(data_dir, shard, layout, rows, order="shuffled")
    assert batch["done"].any() and not batch["done"].all()
    model, target = icq_model(0), icq_model(1).requires_grad_(False)
    config = LossConfig(mode="icq", bc=0.0, critic=1.0, actor=1.0, icq_alpha=0.3,
                        icq_beta=0.7, gamma=0.9)
    losses = compute_losses(model, batch, config, target)
    index = (batch["attr"], batch["team"], batch["agent"], batch["time"])
    n, a = len(rows), batch["action"]
    with torch.no_grad():
        logits, q_logits = model(batch["tokens"], *index, batch["env_id"],
                                 preceding=batch["preceding"])
        log_pi = torch.log_softmax(masked_logits(logits, batch["action_mask"]), -1)
        q = model.q_values(q_logits)
        advantage = q[range(n), a] - (log_pi.exp() * q).sum(-1)
        weights = n * torch.exp(advantage / 0.3) / torch.exp(advantage / 0.3).sum()
        actor = -(weights * log_pi[range(n), a]).mean()
        _, next_q = target(batch["next_tokens"], *index, batch["env_id"],
                           preceding=batch["next_preceding"])
        next_value = target.q_values(next_q)[range(n), batch["next_action"]]
        live = ~batch["done"]
        rho = torch.exp(next_value / 0.7) * live
        rho = live.sum() * rho / rho.sum()
        returns = batch["reward"] + 0.9 * live * rho * next_value
        probs = hl_gauss_targets(returns, model.bins, config.hl_gauss_sigma)
        critic = -(probs * torch.log_softmax(q_logits[range(n), a], -1)).sum(-1).mean()
    torch.testing.assert_close(losses["actor"], actor, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(losses["critic"], critic, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(losses["loss"], actor + critic, rtol=1e-5, atol=1e-6)
    # The next step's action is the dataset's next action of the same agent
    assert torch.equal(batch["next_action"], torch.from_numpy(
        shard["action"][pool_shards([shard])["next"][rows]].astype(np.int64)))


def test_icq_trains_down_on_a_small_batch(data_dir: Path) -> None:
    shard, layout = first_shard(data_dir)
    batch = next(iter(BatchStream([data_dir], 32, seed=0, mix_shards=1, preceding="shuffled")))
    model, target = icq_model(0), icq_model(0).requires_grad_(False)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    config = LossConfig(mode="icq", bc=0.0, actor=1.0, icq_alpha=1.0)
    first = None
    for _ in range(60):  # (the BC term's own knee, as in full mode, comes later: 250-300)
        losses = compute_losses(model, batch, config, target)
        optimizer.zero_grad()
        losses["loss"].backward()
        optimizer.step()
        first = first or {k: float(v.detach()) for k, v in losses.items()}
    assert float(losses["bc"]) < 0.8 * first["bc"]  # the weighted likelihood imitates
    assert float(losses["critic"]) < 0.6 * first["critic"]
    assert 0.0 < float(losses["icq_ess"]) <= 1.0


# --- config, old data, other modes ------------------------------------------------------------

def test_config_and_modes(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"model": {"size": "tiny"}, "data": {"dirs": ["x"]}}))
    icq = config_module.load(path, ["loss.mode=icq"])
    assert icq.model.preceding_actions and icq.model.to_dict()["preceding_actions"] is True
    bc = config_module.load(path, [])
    assert not bc.model.preceding_actions
    assert "preceding_actions" not in bc.model.to_dict()  # old configs and checkpoints match
    assert not any(k.startswith("preceding") for k in MarlGpt(bc.model).state_dict())
    shipped = config_module.load(REPO / "training/configs/tiny-icq.yaml")
    assert shipped.loss.mode == "icq" and shipped.model.preceding_actions
    with pytest.raises(ValueError, match="icq_order"):
        LossConfig(mode="icq", icq_order="random")
    with pytest.raises(ValueError, match="positive"):
        LossConfig(mode="icq", icq_alpha=0.0)
    plain = MarlGpt(ModelConfig(**MODEL))
    values = torch.zeros(1, 3)
    idx = torch.zeros(3, dtype=torch.long)
    with pytest.raises(ValueError, match="preceding_actions is off"):
        plain(values, idx, idx, idx, idx, torch.zeros(1, dtype=torch.long),
              preceding=torch.zeros(1, 2, dtype=torch.long))


def test_icq_refuses_data_it_cannot_read(data_dir: Path, tmp_path: Path) -> None:
    # POGEMA data without the positions the slots are rebuilt from
    copy = tmp_path / "no-state"
    shutil.copytree(data_dir, copy)
    dataset = Dataset(copy)
    manifest = dict(dataset.manifest)
    for entry in manifest["shards"]:
        arrays = dict(np.load(copy / entry["file"]))
        del arrays["state/position"]
        np.savez(copy / entry["file"], **arrays)
        from marlgpt_planner.model_file import sha256_file

        entry["sha256"] = sha256_file(copy / entry["file"])
    write_manifest(copy, manifest)
    next(iter(BatchStream([copy], 8)))  # bc and full read it as before
    with pytest.raises(DatasetError, match="needs state/position"):
        next(iter(BatchStream([copy], 8, preceding="shuffled")))
    # An encoder whose slots are not matched to agents here
    other = dict(manifest)
    layout = dict(other["environments"]["pogema-lmapf"]["token_layout"], encoder="grf-players")
    other["environments"] = {"pogema-lmapf": dict(other["environments"]["pogema-lmapf"],
                                                  token_layout=layout)}
    write_manifest(copy, other)
    with pytest.raises(DatasetError, match="not for 'grf-players'"):
        BatchStream([copy], 8, preceding="shuffled")


# --- end to end -------------------------------------------------------------------------------

def test_marlgpt_train_with_the_tiny_icq_config(data_dir: Path, tmp_path: Path) -> None:
    """`marlgpt train` with training/configs/tiny-icq.yaml (smaller model, a few steps) on
    POGEMA and LBF data; the run's checkpoint acts in both environments."""
    from marlgpt_training.benchmark.episode import run_episode
    from marlgpt_training.benchmark.mapset import Instance
    from marlgpt_training.envs import lbf as foraging
    from marlgpt_training.model.checkpoint import load_model
    from marlgpt_training.policies import make_policy
    from marlgpt_training.policies.model import VectorModel

    lbf = tmp_path / "lbf"
    assert main(["generate", "--env", "lbf", "--out", str(lbf), "--episodes", "6",
                 "--no-progress", "--workers", "1"]) == 0
    run = tmp_path / "run"
    sets = [f"model.{k}={v}" for k, v in MODEL.items()] + [
        "optim.batch_size=16", "optim.warmup_steps=2", "optim.max_steps=4",
        "data.workers=0", "run.eval_map_set=null", "run.log_every=1", "run.checkpoint_every=2"]
    args = ["train", "--config", str(REPO / "training/configs/tiny-icq.yaml"), "--data",
            str(data_dir), str(lbf), "--out", str(run), "--no-progress"]
    assert main(args + [a for s in sets for a in ("--set", s)]) == 0
    step = run / "checkpoints/step-000004"
    weights, target = (load_file(str(step / name))
                       for name in ("model.safetensors", "target.safetensors"))
    assert "preceding.weight" in weights and "preceding.weight" in target
    model, saved = load_model(run)
    assert saved["loss"]["mode"] == "icq" and saved["model"]["preceding_actions"] is True
    assert model.config.preceding_actions
    instance = Instance("room", 0, 4, 16, "....#\n.#...\n...#.\n.....")
    assert run_episode(instance, make_policy(str(run))).steps == 16
    scores = foraging.evaluate(VectorModel(str(run), "lbf", "lbf-vector"), episodes=2)
    assert 0.0 <= scores["score"] <= 1.0
