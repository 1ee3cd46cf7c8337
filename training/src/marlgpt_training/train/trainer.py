"""The training loop: one process, or DDP under ``torchrun`` (NCCL on GPUs, gloo on CPUs)."""
import copy
import hashlib
import json
import math
import os
import time
from collections import defaultdict
from contextlib import nullcontext
from pathlib import Path
from typing import Dict, List, Optional

import torch
import torch.distributed as dist
from safetensors.torch import load_file
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from marlgpt_training import envs
from marlgpt_training.data.loader import BatchStream, balanced_batches, loaders
from marlgpt_training.data.records import Dataset
from marlgpt_training.model import checkpoint
from marlgpt_training.model.gpt import MarlGpt
from marlgpt_training.model.losses import compute_losses
from marlgpt_training.train.config import TrainConfig


def lr_at(step: int, config: TrainConfig) -> float:
    """Linear warmup, then cosine decay from ``lr`` to ``min_lr`` at ``max_steps``."""
    o = config.optim
    if step < o.warmup_steps:
        return o.lr * (step + 1) / o.warmup_steps
    progress = min(1.0, (step - o.warmup_steps) / max(1, o.max_steps - o.warmup_steps))
    return o.min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (o.lr - o.min_lr)


def make_optimizer(model: torch.nn.Module, config: TrainConfig) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices only (not on biases, norms or embeddings)."""
    decay, plain = [], []
    for name, param in model.named_parameters():
        if param.requires_grad:
            is_matrix = param.dim() >= 2 and not any(
                key in name for key in ("attr.", "team.", "agent.", "time.", "env.",
                                        "preceding."))
            (decay if is_matrix else plain).append(param)
    groups = [{"params": decay, "weight_decay": config.optim.weight_decay},
              {"params": plain, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=config.optim.lr, betas=tuple(config.optim.betas))


class Distributed:
    """Rank, world size and device, set up from torchrun's environment (or single-process)."""

    def __init__(self) -> None:
        self.world_size = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        if torch.cuda.is_available():
            self.device = torch.device("cuda", local_rank)
            torch.cuda.set_device(self.device)
        else:
            self.device = torch.device("cpu")
        if self.world_size > 1 and not dist.is_initialized():
            dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")

    @property
    def main(self) -> bool:
        return self.rank == 0

    def close(self) -> None:
        if self.world_size > 1 and dist.is_initialized():
            # Every rank done with every collective before any tears the group down: a rank
            # leaving while another is still in gloo's last exchange can abort at exit.
            dist.barrier()
            dist.destroy_process_group()


def group_by_environment(dirs: List[str]) -> Dict[str, List[Path]]:
    groups: Dict[str, List[Path]] = defaultdict(list)
    for d in dirs:
        for env in Dataset(d, verify=False).manifest["environments"]:
            groups[env].append(Path(d))
    return dict(sorted(groups.items()))


def train(config: TrainConfig, out: Path, resume: bool = False, progress: bool = True,
          max_steps: Optional[int] = None, init: Optional[str] = None,
          deadline: Optional[float] = None, init_any_layout: bool = False) -> dict:
    """Train until ``optim.max_steps`` (or ``max_steps``); returns the last logged metrics,
    with ``step``, the step the run ended at.

    ``init``: a run or checkpoint whose weights the model starts from (fine-tuning); its
    model size and token layout must be this config's (``init_any_layout``: the layout may
    differ, a warm start for a new layout version). A resumed run ignores it.
    ``deadline``: a ``time.monotonic()`` time after which the run ends at the step it has
    reached (checkpointed as its last), all processes alike: a time budget holds even when the
    machine turns slower than it was measured.
    """
    env = Distributed()
    stop = max_steps if max_steps is not None else config.optim.max_steps
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.optim.seed)
    groups = group_by_environment(config.data.dirs)
    order = config.loss.icq_order if config.loss.mode == "icq" else None
    streams = [BatchStream(dirs, config.optim.batch_size, config.optim.seed, env.rank,
                           env.world_size, config.data.mix_shards, preceding=order,
                           exchangeable=envs.get(name).exchangeable
                           if config.data.shuffle_agents else ())
               for name, dirs in groups.items()]
    encoder = streams[0].layout if len(streams) == 1 else {s.env_name: s.layout for s in streams}
    saved_config = dict(config.to_dict(), encoder=encoder,
                        environments={s.env_name: {"env_id": s.env_id,
                                                   "num_actions": s.num_actions}
                                      for s in streams})

    model = MarlGpt(config.model).to(env.device)
    critic = config.loss.mode in ("full", "icq")
    target = copy.deepcopy(model).requires_grad_(False) if critic else None
    if not critic:  # BC trains no critic: frozen, so DDP finds no parameter without a gradient
        model.critic.requires_grad_(False)
    optimizer = make_optimizer(model, config)
    step, consumed = 0, 0
    found = checkpoint.latest(out) if resume else None
    if found is not None:
        model.load_state_dict(load_file(str(found / "model.safetensors"), device=str(env.device)))
        if target is not None and (found / "target.safetensors").is_file():
            target.load_state_dict(load_file(str(found / "target.safetensors"),
                                             device=str(env.device)))
        state = torch.load(found / "state.pt", map_location=env.device, weights_only=False)
        optimizer.load_state_dict(state["optimizer"])
        step, consumed = int(state["step"]), int(state["consumed"])
        torch.set_rng_state(state["rng_torch"])
        if env.main:
            print(f"resuming from {found} (step {step})")
    elif init is not None:
        start = checkpoint.init_weights(model, init, saved_config, init_any_layout)
        if target is not None:
            target.load_state_dict(model.state_dict())
        if env.main:
            print(f"starting from the weights of {start}")
    ddp = DistributedDataParallel(model) if env.world_size > 1 else model
    compile_ = config.optim.compile
    if compile_ == "auto":
        compile_ = env.device.type == "cuda"
    forward = torch.compile(ddp) if compile_ else ddp  # checkpoints keep `model`

    batches = balanced_batches(loaders(streams, config.data.workers))
    for _ in range(consumed):  # replay the data order exactly up to the checkpoint
        next(batches)
    micro_steps = config.optim.grad_accum * len(streams)
    samples_per_step = micro_steps * config.optim.batch_size * env.world_size
    autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if env.device.type == "cuda"
                else nullcontext())
    writer = None
    if env.main:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(out / "tb"))
        print(f"model {model.num_parameters():,} parameters; environments "
              f"{', '.join(f'{s.env_name} ({s.rows:,} rows)' for s in streams)}; "
              f"{samples_per_step} samples per step on {env.world_size} process(es), "
              f"device {env.device}")
    bar = tqdm(total=stop, initial=step, desc="train", unit="step",
               disable=not (progress and env.main), dynamic_ncols=True)
    metrics: dict = {}
    # Running sums stay on the device: read (one host sync) only when logging.
    sums: Dict[str, torch.Tensor] = {}
    timer = time.perf_counter()
    window = 0
    while step < stop:
        lr = lr_at(step, config)
        for group in optimizer.param_groups:
            group["lr"] = lr
        for micro in range(micro_steps):
            batch = {k: v.to(env.device, non_blocking=True) for k, v in next(batches).items()}
            consumed += 1
            sync = micro == micro_steps - 1 or env.world_size == 1
            with (nullcontext() if sync else ddp.no_sync()), autocast:
                losses = compute_losses(forward, batch, config.loss, target)
                (losses["loss"] / micro_steps).backward()
            for key, value in losses.items():
                value = value.detach().float() / micro_steps
                sums[key] = sums[key] + value if key in sums else value
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), config.optim.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if target is not None:
            with torch.no_grad():
                for t, p in zip(target.parameters(), model.parameters(), strict=True):
                    t.lerp_(p, 1.0 - config.optim.target_ema)
        step += 1
        window += 1
        bar.update()
        late = deadline is not None and _past(deadline, env)
        if step % config.run.log_every == 0 or step == stop or late:
            seconds = time.perf_counter() - timer
            metrics = {k: float(v) / window for k, v in sums.items()}
            metrics.update(lr=lr, grad_norm=float(norm),
                           samples_per_s=window * samples_per_step / max(seconds, 1e-9))
            if writer is not None:
                for key, value in metrics.items():
                    writer.add_scalar(f"train/{key}", value, step)
            bar.set_postfix(loss=f"{metrics['loss']:.4f}",
                            samples_s=f"{metrics['samples_per_s']:.0f}")
            if env.main and not progress:
                print(f"step {step}: " + " ".join(f"{k} {v:.4g}" for k, v in metrics.items()),
                      flush=True)
            sums.clear()
            window, timer = 0, time.perf_counter()
        last = step == stop or late
        if env.main and (step % config.run.checkpoint_every == 0 or last):
            directory = checkpoint.save(out, step, model, target, optimizer,
                                        {"consumed": consumed}, saved_config)
            every = config.run.eval_every
            if config.run.eval_map_set and ((every and step % every == 0) or last):
                metrics["eval_score"] = _evaluate(directory, config, writer, step)
        if late:
            if env.main:
                print(f"\nstopped at step {step} of {stop}: the deadline has passed", flush=True)
            break
    metrics["step"] = step
    bar.close()
    if writer is not None:
        writer.close()
    _record_replicas(out, model, env)
    env.close()
    return metrics


def _past(deadline: float, env: Distributed) -> bool:
    """Whether ``deadline`` has passed, as every process sees it (one all-reduce with DDP)."""
    late = torch.tensor([float(time.monotonic() > deadline)], device=env.device)
    if env.world_size > 1:
        dist.all_reduce(late, op=dist.ReduceOp.MAX)
    return bool(late.item())


def weights_digest(model: torch.nn.Module) -> str:
    """SHA-256 of every parameter's bytes, in order: equal digests mean identical weights."""
    digest = hashlib.sha256()
    for tensor in model.state_dict().values():
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _record_replicas(out: Path, model: torch.nn.Module, env: Distributed) -> None:
    """Write every rank's weights digest to OUT/replicas.json (DDP keeps them equal)."""
    digest = weights_digest(model)
    digests = [digest]
    if env.world_size > 1:
        digests = [None] * env.world_size
        dist.all_gather_object(digests, digest)
    if env.main:
        (out / "replicas.json").write_text(json.dumps({"world_size": env.world_size,
                                                       "weights_sha256": digests}) + "\n")


def _evaluate(directory: Path, config: TrainConfig, writer, step: int) -> float:
    from marlgpt_training.benchmark.evaluate import evaluate
    from marlgpt_training.benchmark.mapset import MapSet

    report = evaluate(MapSet.load(config.run.eval_map_set), str(directory),
                      agent_counts=config.run.eval_agents,
                      max_instances=config.run.eval_max_instances, workers=1, progress=False)
    if writer is not None:
        writer.add_scalar("eval/score", report.score, step)
    print(f"\nstep {step}: " + report.table().replace("\n", "\n  "))
    return report.score
