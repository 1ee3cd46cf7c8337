"""One time budget, one better model: generate, train, export, check and evaluate.

``marlgpt pipeline --size SIZE --budget-s S --out DIR`` (docs/training.md, "A GPU window")
plans the budget from measurements, not guesses:

1. **probe**: generate a few episodes (all workers) and train a few steps on them, timing both
   (the training steps are the real run's first steps; their checkpoint is resumed);
2. **plan**: keep a tail for export, agreement and evaluation; split the rest between more
   data and training so that each trained sample is seen about once, and set the cosine
   schedule's length from the measured training speed, so it ends on time;
3. **generate** the rest of the data, **train** to the planned step, **export** the ONNX file,
   measure its **agreement** with the expert on held-out rows (other seeds), **evaluate** it on
   the shared benchmark subsets (whole rounds of instances, while time is left), and write
   ``DIR/summary.json`` and a weights-only checkpoint (``DIR/checkpoint``, what ``--init``
   takes next time).

Everything is resumable stage by stage in the same ``--out`` only in the sense that datasets
and checkpoints are; a rerun starts a new plan.
"""
import json
import math
import shutil
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence

#: Training configs of each size (the pipeline overrides data, schedule and outputs).
CONFIGS = Path(__file__).resolve().parents[2] / "configs"
SHARED_SETS = ("01-random", "02-mazes")
#: Episodes per shard: small shards keep the generation plan fine-grained.
EPISODES_PER_SHARD = 2


@dataclass
class PipelineOptions:
    size: str
    budget_s: float
    out: Path
    workers: int = 1
    init: Optional[str] = None
    eval_instances: int = 2
    eval_agents: Sequence[int] = (8, 32)
    map_sets: Sequence[Path] = ()
    overrides: Sequence[str] = ()
    probe_steps: int = 20
    tail_fraction: float = 0.2  # of the budget, for export, agreement and evaluation
    seed: int = 0
    progress: bool = False
    #: How the evaluation settles steps; ``sequential`` also makes the data encoder v3
    #: (the claims each robot sees when its turn comes) and lets --init be an older layout.
    resolution: str = "shield"

    @property
    def claims(self) -> bool:
        from marlgpt_planner.step_rule import StepRule

        return StepRule(self.resolution).in_turn


@dataclass
class Clock:
    """Seconds per stage and the deadline."""

    budget_s: float
    started: float = field(default_factory=time.perf_counter)
    stages: Dict[str, float] = field(default_factory=dict)

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def left(self) -> float:
        return self.budget_s - self.elapsed()

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Add the time spent in the ``with`` block to stage ``name``."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.stages[name] = round(self.stages.get(name, 0.0)
                                      + time.perf_counter() - started, 2)


def split_time(seconds: float, gen_rate: float, train_rate: float, passes: float = 1.0) -> float:
    """Seconds of generation so that the data made equals what training reads in the rest
    (``passes`` times over): ``gen_rate * g * passes = train_rate * (seconds - g)``."""
    if seconds <= 0 or gen_rate <= 0:
        return 0.0
    return seconds * train_rate / (gen_rate * passes + train_rate)


def training_config(options: PipelineOptions, data: Path):
    from marlgpt_training.train import config as config_module

    path = CONFIGS / f"{options.size}.yaml"
    if not path.is_file():
        raise ValueError(f"no training config for size {options.size!r} ({path})")
    config = config_module.load(path, options.overrides)
    config.data.dirs = [str(data)]
    config.data.generate = None
    config.run.eval_map_set = None
    config.run.checkpoint_every = 10 ** 9  # only the last step is saved
    config.optim.seed = options.seed
    return config


def _generator(seed: int, claims: bool = False):
    from marlgpt_training.envs.pogema import GeneratorConfig, LifelongMapfGenerator

    return LifelongMapfGenerator(GeneratorConfig(seed=seed, claims=claims))


def _generate(directory: Path, episodes: int, seed: int, workers: int, progress: bool,
              claims: bool = False) -> dict:
    from marlgpt_training.data.generate import generate

    return generate(directory, episodes, _generator(seed, claims), workers=workers,
                    episodes_per_shard=EPISODES_PER_SHARD, progress=progress)


def run(options: PipelineOptions) -> dict:
    """Run the pipeline; returns (and writes) the summary."""
    import torch

    from marlgpt_training.benchmark.agreement import expert_agreement
    from marlgpt_training.export import export_checkpoint
    from marlgpt_training.model import checkpoint
    from marlgpt_training.train.trainer import train

    clock = Clock(options.budget_s)
    out = options.out
    out.mkdir(parents=True, exist_ok=True)
    data, heldout, run_dir = out / "data", out / "heldout", out / "run"
    for stale in (run_dir, out / "model.onnx", out / "checkpoint"):
        if stale.is_dir():
            shutil.rmtree(stale)
        elif stale.exists():
            stale.unlink()
    workers = max(1, options.workers)

    def say(text: str) -> None:
        print(f"[pipeline {clock.elapsed():6.1f} s] {text}", flush=True)

    device = "cuda" if torch.cuda.is_available() else "cpu"
    say(f"size {options.size}, budget {options.budget_s:.0f} s, {workers} workers, {device}")

    # 1. Probe: data first (every worker two shards), then the run's first steps.
    with clock.stage("generate"):
        probe_episodes = 2 * workers * EPISODES_PER_SHARD
        gen = _generate(data, probe_episodes, options.seed, workers, options.progress,
                        options.claims)
    gen_rate = gen["agent_steps"] / max(gen["seconds"], 1e-9)  # all workers together
    rows_per_episode = gen["rows"] / max(gen["episodes"], 1)
    config = training_config(options, data)
    config.run.log_every = max(1, options.probe_steps // 2)
    with clock.stage("train"):
        probe = train(config, run_dir, progress=options.progress,
                      max_steps=options.probe_steps, init=options.init,
                      init_any_layout=options.claims)
    train_rate = float(probe["samples_per_s"])  # the second half of the probe: warm
    samples_per_step = config.optim.batch_size * config.optim.grad_accum
    say(f"probe: generation {gen_rate:,.0f} agent-steps/s, training {train_rate:,.0f} "
        f"samples/s ({samples_per_step} per step)")

    # 2. Plan: the tail, then generation and training in the time left.
    tail = options.tail_fraction * options.budget_s
    middle = max(0.0, clock.left() - tail)
    gen_seconds = split_time(middle, gen_rate, train_rate)
    more_episodes = int(gen_seconds * gen_rate / max(rows_per_episode, 1))
    episodes = probe_episodes + more_episodes // (workers * EPISODES_PER_SHARD) * (
        workers * EPISODES_PER_SHARD)
    train_seconds = middle - (episodes - probe_episodes) * rows_per_episode / max(gen_rate, 1)
    steps = max(options.probe_steps + 1,
                options.probe_steps + int(train_seconds * train_rate / samples_per_step))
    config.optim.max_steps = steps
    config.optim.warmup_steps = max(1, min(config.optim.warmup_steps, steps // 10))
    config.run.log_every = max(1, min(50, steps // 20))
    plan = {"generation_agent_steps_per_s": round(gen_rate, 1),
            "training_samples_per_s": round(train_rate, 1), "episodes": episodes,
            "steps": steps, "tail_s": round(tail, 1),
            "generate_s": round(gen_seconds, 1), "train_s": round(train_seconds, 1)}
    say(f"plan: {episodes} episodes, {steps} steps ({steps * samples_per_step:,} samples), "
        f"{tail:.0f} s kept for export and evaluation")

    # 3. The run.
    with clock.stage("generate"):
        if episodes > probe_episodes:
            gen = _generate(data, episodes, options.seed, workers, options.progress,
                            options.claims)
        held = _generate(heldout, workers * EPISODES_PER_SHARD, options.seed + 10_000, workers,
                         False, options.claims)
    with clock.stage("train"):
        started = time.perf_counter()
        # The plan's step count, or less if the machine turns slower than the probe measured:
        # training ends where the tail begins.
        deadline = time.monotonic() + max(0.0, clock.left() - tail)
        metrics = train(config, run_dir, resume=True, progress=options.progress,
                        deadline=deadline)
        train_wall = time.perf_counter() - started
    steps = int(metrics["step"])
    trained = (steps - options.probe_steps) * samples_per_step
    say(f"trained to step {steps} (planned {plan['steps']}): loss "
        f"{metrics.get('loss', float('nan')):.4f}")
    onnx_path = out / "model.onnx"
    with clock.stage("export"):
        report = export_checkpoint(run_dir, onnx_path, num_observations=256)
        released = _release_checkpoint(checkpoint.resolve(run_dir), out / "checkpoint")
    with clock.stage("agreement"):
        agreement = expert_agreement(onnx_path, heldout, rows=4096, seed=options.seed)
    say(f"exported {onnx_path} (parity {report.parity['max_abs_diff']:.2e}); agreement with the "
        f"expert on held-out rows {agreement['agreement']:.3f}")
    with clock.stage("eval"):
        scores = _evaluate(onnx_path, options, clock, workers, say)
    summary = {
        "size": options.size, "budget_s": options.budget_s, "device": device,
        "workers": workers, "init": options.init, "seconds": dict(clock.stages,
                                                                   total=round(clock.elapsed(), 2)),
        "plan": plan,
        "samples_per_s": round(trained / max(train_wall, 1e-9), 1),
        "samples": options.probe_steps * samples_per_step + trained, "steps": steps,
        "episodes": gen["episodes"], "rows": gen["rows"], "heldout_rows": held["rows"],
        "final_loss": metrics.get("loss"), "agreement": agreement,
        "scores": scores, "onnx": str(onnx_path), "checkpoint": str(released),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    say(f"done in {clock.elapsed():.1f} s of {options.budget_s:.0f}: {out / 'summary.json'}")
    return summary


def _release_checkpoint(source: Path, target: Path) -> Path:
    """Weights and config only (what ``--init`` reads): small enough to carry back."""
    target.mkdir(parents=True, exist_ok=True)
    for name in ("model.safetensors", "config.yaml"):
        shutil.copy2(source / name, target / name)
    return target


def _evaluate(onnx_path: Path, options: PipelineOptions, clock: Clock, workers: int,
              say) -> Dict[str, dict]:
    """Whole rounds (one instance per set and agent count) while the last round's time fits;
    the first round always runs."""
    from marlgpt_planner.step_rule import StepRule
    from marlgpt_training.benchmark.evaluate import EvalReport, run_instances
    from marlgpt_training.benchmark.mapset import MapSet

    rule = StepRule(options.resolution)

    sets = [MapSet.load(path) for path in options.map_sets]
    episodes: Dict[str, list] = {s.name: [] for s in sets}
    last_round = 0.0
    for index in range(options.eval_instances):
        if index and clock.left() < last_round:
            say(f"evaluation stopped after {index} round(s): the next would not fit")
            break
        started = time.perf_counter()
        tasks = [(s, inst) for s in sets for n in options.eval_agents
                 for inst in s.instances(n, index + 1)[index:index + 1]]
        if not tasks:
            break
        by_key = {(inst.map_name, inst.seed, inst.num_agents): s for s, inst in tasks}
        for result in run_instances([inst for _, inst in tasks], str(onnx_path), workers,
                                    progress=False, rule=rule):
            owner = by_key[(result.map_name, result.seed, result.num_agents)]
            episodes[owner.name].append(result)
        last_round = time.perf_counter() - started
    scores = {}
    for s in sets:
        report = EvalReport(s.name, str(onnx_path), sorted(
            episodes[s.name], key=lambda e: (e.num_agents, e.map_name, e.seed)),
            s.reference_results(), rule)
        data = report.to_json()
        scores[s.name] = {"score": data["score"], "resolution": rule.resolution,
                          "per_agents": {n: {"avg_throughput": v["avg_throughput"],
                                             "instances": v["instances"],
                                             "Follower": v["reference"].get("Follower")}
                                         for n, v in data["per_agents"].items()}}
        say(f"{s.name}: score {data['score']:.3f} ({rule.label()}, greedy; "
            + ", ".join(f"{n} agents {v['avg_throughput']:.3f} on {v['instances']}"
                        for n, v in data["per_agents"].items()) + ")")
    return scores


def default_map_sets() -> List[Path]:
    root = Path(__file__).resolve().parents[3].parent / "shared" / "benchmarks" / "pogema-lmapf"
    return [root / name for name in SHARED_SETS]


def check_options(options: PipelineOptions) -> List[str]:
    problems = []
    if not math.isfinite(options.budget_s) or options.budget_s < 30:
        problems.append(f"--budget-s must be at least 30 s, got {options.budget_s}")
    if options.workers < 1:
        problems.append(f"--workers must be >= 1, got {options.workers}")
    if options.eval_instances < 1:
        problems.append(f"--eval-instances must be >= 1, got {options.eval_instances}")
    for path in options.map_sets:
        if not (Path(path) / "maps.yaml").is_file():
            problems.append(f"map set {path} not found (no maps.yaml)")
    if options.out.exists() and not options.out.is_dir():
        problems.append(f"--out {options.out} is a file")
    return problems


def main_cli(options: PipelineOptions) -> int:
    problems = check_options(options)
    if problems:
        for problem in problems:
            print(f"marlgpt pipeline: {problem}", file=sys.stderr)
        return 2
    run(options)
    return 0
