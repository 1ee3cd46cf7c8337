"""The fine-tuning loop: rollouts, the critic warm-up, joint PPO, checkpoints, resume, DDP.

One update: every process steps its own ``rollout.num_envs`` instances for
``rollout.steps`` steps (its episodes differ from the other processes'), computes GAE, and
makes ``ppo.epochs x ppo.minibatches`` optimizer steps on its rows; under ``torchrun`` DDP
averages the gradients (gloo on CPUs, NCCL on GPUs), so every process keeps the same weights.
The first ``ppo.warmup_updates`` updates train the fresh critic alone, the actor frozen.

``OUT/checkpoints/step-N`` (N: the update) holds the weights (the checkpoint layout
``marlgpt eval``, ``export`` and ``train --init`` read), ``state.pt`` (optimizer, update
counter, where each process's episode numbering stands) and ``config.yaml`` (the pretrained
model's config plus a ``finetune`` section, from which ``--resume`` reads the run's settings).
``OUT/metrics.jsonl`` has one JSON line per update (and per evaluation); ``OUT/tb`` the same
as TensorBoard scalars.
"""
import gc
import hashlib
import json
import math
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
import torch.distributed as dist
import yaml
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from marlgpt_training.envs import common
from marlgpt_training.finetune import config as config_module
from marlgpt_training.finetune import ppo, worlds
from marlgpt_training.finetune.config import FinetuneConfig
from marlgpt_training.finetune.rollout import Batch, Forward, collect, explained_variance
from marlgpt_training.finetune.vector import SyncVector
from marlgpt_training.model import checkpoint
from marlgpt_training.model.gpt import MarlGpt, ModelConfig
from marlgpt_training.train.trainer import Distributed, weights_digest

METRICS = "metrics.jsonl"
#: Episode numbers of process r start at r << RANK_SHIFT (no two processes share one).
RANK_SHIFT = 40


def actor_digest(model: MarlGpt) -> str:
    """SHA-256 of the actor's parameters (everything the policy reads)."""
    digest = hashlib.sha256()
    for param in ppo.actor_parameters(model):
        digest.update(param.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def interval(scores: Sequence[float]) -> Dict[str, float]:
    """Mean and its 95 % normal interval (mean +- 1.96 standard errors; one score: no width)."""
    mean, half = common.interval(scores)
    half = 0.0 if math.isnan(half) else half
    return {"mean": mean, "low": mean - half, "high": mean + half}


class Run:
    """Where a run starts: its config, model, optimizer state and counters."""

    def __init__(self, config: FinetuneConfig, model: MarlGpt, base: dict, source: str,
                 update: int = 0, state: Optional[dict] = None) -> None:
        self.config, self.model, self.base, self.source = config, model, base, source
        self.update, self.state = update, state or {}

    @classmethod
    def start(cls, config: FinetuneConfig, init: Optional[str]) -> "Run":
        """A new run from a pretrained checkpoint, its critic re-initialised."""
        source = init or config.init
        if not source:
            raise ValueError("no pretrained model: give --init RUN (a run or checkpoint "
                             "directory) or init: in the config")
        directory = checkpoint.resolve(source)
        model, base = checkpoint.load_model(directory)
        base = {k: v for k, v in base.items() if k != "finetune"}
        ppo.fresh_critic(model, config.rollout.seed)
        config.init = str(source)
        return cls(config, model, base, str(directory))

    @classmethod
    def resume(cls, out: Path, overrides: Sequence[str] = ()) -> "Run":
        """The run in ``out`` from its latest checkpoint (``overrides``: ``section.key=value``
        applied to its saved fine-tuning config, e.g. ``ppo.updates=400``)."""
        found = checkpoint.latest(out)
        if found is None:
            raise FileNotFoundError(f"--resume {out}: no checkpoint there "
                                    "(OUT/checkpoints/latest)")
        saved = yaml.safe_load((found / "config.yaml").read_text())
        if "finetune" not in saved:
            raise ValueError(f"--resume {out}: {found} is not a fine-tuning checkpoint "
                             "(its config has no finetune section)")
        config = config_module.parse(config_module.override(saved["finetune"], overrides),
                                     f"{found / 'config.yaml'}")
        model = MarlGpt(ModelConfig(**saved["model"]))
        checkpoint.load_weights(model, found / "model.safetensors")
        state = torch.load(found / "state.pt", map_location="cpu", weights_only=False)
        base = {k: v for k, v in saved.items() if k not in ("finetune", "finetune_from")}
        return cls(config, model, base, saved.get("finetune_from", config.init or ""),
                   int(state["update"]), state)


def _all_sum(values: List[float], env: Distributed) -> List[float]:
    tensor = torch.tensor(values, dtype=torch.float64)
    if env.world_size > 1:
        dist.all_reduce(tensor)
    return tensor.tolist()


def _trim_metrics(path: Path, update: int) -> None:
    """Drop lines logged after ``update`` (a resumed run logs them again)."""
    if not path.is_file():
        return
    keep = [line for line in path.read_text().splitlines()
            if line.strip() and json.loads(line).get("update", 0) <= update]
    path.write_text("".join(line + "\n" for line in keep))


def _tensors(batch: Batch, device: torch.device) -> Dict[str, torch.Tensor]:
    advantage = batch.advantage
    advantage = (advantage - advantage.mean()) / (advantage.std() + 1e-8)
    return {"tokens": torch.from_numpy(batch.tokens).to(device),
            "mask": torch.from_numpy(batch.mask).to(device),
            "action": torch.from_numpy(batch.action).to(device),
            "logp": torch.from_numpy(batch.logp).to(device),
            "advantage": torch.from_numpy(advantage.astype(np.float32)).to(device),
            "target": torch.from_numpy(batch.target).to(device)}


def optimise(model: MarlGpt, forward: torch.nn.Module, optimizer: torch.optim.Optimizer,
             rows: Dict[str, torch.Tensor], config: FinetuneConfig, indices: list,
             env_id: int, train_actor: bool, generator: torch.Generator) -> Dict[str, float]:
    """``ppo.epochs`` passes of ``ppo.minibatches`` optimizer steps over ``rows``; the mean of
    each loss."""
    p = config.ppo
    count = len(rows["action"])
    if count < p.minibatches:
        raise ValueError(f"{count} agent rows cannot make {p.minibatches} minibatches: "
                         "raise rollout.steps or rollout.num_envs")
    rows = dict(rows, target=rows["target"] / p.value_scale)
    sums: Dict[str, float] = {}
    for _ in range(p.epochs):
        order = torch.randperm(count, generator=generator).to(rows["action"].device)
        for chunk in torch.tensor_split(order, p.minibatches):
            batch = {k: v[chunk] for k, v in rows.items()}
            out = ppo.losses(forward, model, batch, indices, env_id, p.clip, p.value_coef,
                             p.entropy_coef, p.hl_gauss_sigma, train_actor)
            optimizer.zero_grad(set_to_none=True)
            out["loss"].backward()
            norm = ppo.clip_gradients(model, p.grad_clip)
            optimizer.step()
            for key, value in dict(out, grad_norm=norm).items():
                sums[key] = sums.get(key, 0.0) + float(value.detach())
    steps = p.epochs * p.minibatches
    return {key: value / steps for key, value in sums.items()}


def finetune(run: Run, out: Path, progress: bool = True,
             stop_at: Optional[int] = None) -> dict:
    """Run updates until ``ppo.updates`` (or ``stop_at``); the last update's metrics."""
    env = Distributed()
    config, model = run.config, run.model.to(env.device)
    if env.device.type == "cpu" and config.run.threads:
        torch.set_num_threads(config.run.threads)
    stop = min(config.ppo.updates, stop_at) if stop_at is not None else config.ppo.updates
    world = worlds.make(config.env, config.settings, run.base, run.source,
                        config.rollout.team_reward, config.rollout.seed)
    layout = world.layout
    indices = [torch.tensor(layout["indices"][k], dtype=torch.long, device=env.device)
               for k in ("attr", "team", "agent", "time")]
    env_id = int(run.base["environments"][config.env]["env_id"])
    forward = Forward(indices, env_id, config.ppo.value_scale, env.device)
    optimizer = ppo.make_optimizer(model, config.ppo.lr, config.ppo.critic_lr)
    if "optimizer" in run.state:
        optimizer.load_state_dict(run.state["optimizer"])
    update = run.update
    starts = run.state.get("next_index", [])
    first = int(starts[env.rank]) if env.rank < len(starts) else env.rank << RANK_SHIFT
    vector = SyncVector(world.episode, config.rollout.num_envs, world.max_agents,
                        world.num_tokens, world.num_actions, first_index=first)
    rng = np.random.default_rng([config.rollout.seed, env.rank, update])
    generator = torch.Generator().manual_seed(config.rollout.seed * 7919 + update)
    saved_config = dict(run.base, finetune=config.to_dict(), finetune_from=run.source)
    out.mkdir(parents=True, exist_ok=True)
    metrics_path = out / METRICS
    writer = None
    if env.main:
        _trim_metrics(metrics_path, update)
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(out / "tb"))
        verb = "resuming at update" if update else "starting from"
        print(f"{verb} {update or run.source}; {world.describe()}; "
              f"{config.rollout.num_envs} instances x {config.rollout.steps} steps per update "
              f"on {env.world_size} process(es), device {env.device}; critic warm-up "
              f"{config.ppo.warmup_updates} updates, {stop} in all", flush=True)

    def log(record: dict) -> None:
        with metrics_path.open("a") as stream:
            stream.write(json.dumps(record) + "\n")
        if writer is not None:
            for key, value in record.items():
                if isinstance(value, (int, float)) and key != "update":
                    group = "eval" if key.startswith("eval") else "finetune"
                    writer.add_scalar(f"{group}/{key}", value, record["update"])

    def evaluate() -> dict:
        model.eval()
        scores = world.eval_scores(
            lambda tokens: forward.logits(model, tokens)[:, :world.num_actions],
            config.run.eval_episodes)
        model.train()
        ci = interval(scores)
        return {"update": update, "eval_score": ci["mean"], "eval_low": ci["low"],
                "eval_high": ci["high"], "eval_episodes": len(scores), "eval_scores": scores}

    if env.main and update == 0 and config.run.eval_at_start and stop > 0:
        record = evaluate()
        log(record)
        print(f"update 0 (the pretrained policy): eval {record['eval_score']:.4g} "
              f"[{record['eval_low']:.4g}, {record['eval_high']:.4g}]", flush=True)
    bar = tqdm(total=stop, initial=update, desc="finetune", unit="update",
               disable=not (progress and env.main), dynamic_ncols=True)
    phase, wrapped, frozen_digest = None, model, None
    totals = run.state.get("totals", {"agent_steps": 0.0, "episodes": 0.0})
    record: dict = {}
    obs = vector.observe()
    while update < stop:
        warm = update < config.ppo.warmup_updates
        if warm != phase:  # a phase starts: (un)freeze the actor, wrap DDP around the rest
            phase = warm
            wrapped = None
            gc.collect()  # the previous phase's DDP wrapper (and its gradient hooks) goes
            ppo.freeze_actor(model, frozen=warm)
            frozen_digest = actor_digest(model) if warm else None
            net = ppo.PolicyValueNet(model, config.ppo.value_trunk)
            wrapped = DistributedDataParallel(net) if env.world_size > 1 else net
        started = time.perf_counter()
        model.eval()
        batch, obs = collect(model, vector, obs, config.rollout.steps, forward, rng,
                             config.ppo.gamma, config.ppo.gae_lambda)
        model.train()
        collected = time.perf_counter() - started
        losses = optimise(model, wrapped, optimizer, _tensors(batch, env.device), config,
                          indices, env_id, not warm, generator)
        update += 1
        if warm and (update == config.ppo.warmup_updates or update == stop):
            if actor_digest(model) != frozen_digest:
                raise RuntimeError("the actor changed during the critic warm-up")
        episodes, score_sum, reward_sum, rows = _all_sum(
            [batch.stats["episodes"], batch.stats["score_sum"],
             batch.stats["reward_mean"] * len(batch), float(len(batch))], env)
        totals["agent_steps"] += rows
        totals["episodes"] += episodes
        seconds = time.perf_counter() - started
        record = {"update": update, "phase": "warmup" if warm else "joint",
                  "agent_steps": int(totals["agent_steps"]),
                  "episodes": int(totals["episodes"]),
                  "score": score_sum / episodes if episodes else float("nan"),
                  "reward_mean": reward_sum / max(rows, 1.0),
                  "explained_variance": explained_variance(batch.value, batch.target),
                  **{k: v for k, v in losses.items() if k != "loss"},
                  "seconds": seconds, "collect_seconds": collected,
                  "agent_steps_per_s": rows / max(seconds, 1e-9)}
        if env.main and (update % config.run.log_every == 0 or update == stop):
            log(record)
            bar.set_postfix(phase=record["phase"], score=f"{record['score']:.4g}",
                            v_loss=f"{record['value_loss']:.3f}")
            if not progress:
                print(f"update {update} ({record['phase']}): score {record['score']:.4g} "
                      f"value_loss {record['value_loss']:.4f} entropy {record['entropy']:.3f} "
                      f"kl {record['approx_kl']:.4f} ev {record['explained_variance']:.3f} "
                      f"{record['agent_steps_per_s']:.0f} agent-steps/s", flush=True)
        bar.update()
        indices_now = _gather(vector.next_index, env)
        last = update == stop
        every = config.run.eval_every
        evaluating = env.main and ((every and update % every == 0) or last)
        if env.main and (update % config.run.checkpoint_every == 0 or last or evaluating):
            checkpoint.save(out, update, model, None, optimizer,
                            {"update": update, "next_index": indices_now,
                             "totals": dict(totals)}, saved_config)
        if evaluating:
            evaluated = evaluate()
            log(evaluated)
            _keep_best(out, evaluated)
            record.update({k: v for k, v in evaluated.items() if k != "eval_scores"})
            bar.write(f"update {update}: eval {evaluated['eval_score']:.4g} "
                      f"[{evaluated['eval_low']:.4g}, {evaluated['eval_high']:.4g}]")
    bar.close()
    if writer is not None:
        writer.close()
    _record_replicas(out, model, env)
    env.close()
    record["update"] = update
    return record


def _keep_best(out: Path, evaluated: dict) -> None:
    """``OUT/checkpoints/best.json``: the checkpoint of the best evaluation so far, when it beats
    every earlier one of the run (the pretrained policy's, at update 0, included). Chosen on the
    evaluation's own episodes: confirm it on others (``scripts/paired_intervals.py --seed``)."""
    best_path = out / "checkpoints" / "best.json"
    earlier = [json.loads(line) for line in (out / METRICS).read_text().splitlines()
               if line.strip() and '"eval_score"' in line]
    earlier = [e for e in earlier if e["update"] < evaluated["update"]]
    if any(e["eval_score"] >= evaluated["eval_score"] for e in earlier):
        return
    best_path.write_text(json.dumps({
        "update": evaluated["update"], "checkpoint": f"step-{evaluated['update']:06d}",
        "eval_score": evaluated["eval_score"], "eval_low": evaluated["eval_low"],
        "eval_high": evaluated["eval_high"]}) + "\n")


def _gather(value: int, env: Distributed) -> List[int]:
    if env.world_size == 1:
        return [int(value)]
    values: List[Optional[int]] = [None] * env.world_size
    dist.all_gather_object(values, int(value))
    return [int(v) for v in values]


def _record_replicas(out: Path, model: MarlGpt, env: Distributed) -> None:
    """Every process's weights digest in OUT/replicas.json (DDP keeps them equal)."""
    digests = _gather_text(weights_digest(model), env)
    if env.main:
        (out / "replicas.json").write_text(json.dumps({"world_size": env.world_size,
                                                       "weights_sha256": digests}) + "\n")


def _gather_text(value: str, env: Distributed) -> List[str]:
    if env.world_size == 1:
        return [value]
    values: List[Optional[str]] = [None] * env.world_size
    dist.all_gather_object(values, value)
    return [str(v) for v in values]
