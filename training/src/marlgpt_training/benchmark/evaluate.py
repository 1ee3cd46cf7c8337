"""The evaluation harness: a policy over a map set's instances and agent counts, in parallel."""
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, NamedTuple, Optional, Sequence

from tqdm import tqdm

from marlgpt_planner.step_rule import SOFT_RULE, StepRule
from marlgpt_training.benchmark.episode import EpisodeResult, run_episode
from marlgpt_training.benchmark.mapset import Instance, MapSet, mean_over
from marlgpt_training.policies import make_policy


@dataclass
class EvalReport:
    map_set: str
    policy: str
    episodes: List[EpisodeResult]
    references: Dict[str, Dict[tuple, float]] = field(default_factory=dict)
    #: How conflicting moves were settled (resolution, path weight, search).
    rule: StepRule = SOFT_RULE
    #: Trained models: actions (or rankings) sampled from the policy instead of greedy.
    sample: bool = False

    @property
    def agent_counts(self) -> List[int]:
        return sorted({e.num_agents for e in self.episodes})

    def throughputs(self, num_agents: int) -> List[float]:
        return [e.avg_throughput for e in self.episodes if e.num_agents == num_agents]

    @property
    def score(self) -> float:
        """Mean over agent counts of the mean throughput over instances."""
        return mean_over([mean_over(self.throughputs(n)) for n in self.agent_counts])

    def reference(self, algorithm: str, num_agents: int) -> Optional[float]:
        """The algorithm's mean on exactly this report's instances, or None if it lacks any."""
        results = self.references.get(algorithm, {})
        keys = [(e.map_name, e.seed, e.num_agents) for e in self.episodes
                if e.num_agents == num_agents]
        if not keys or any(k not in results for k in keys):
            return None
        return mean_over([results[k] for k in keys])

    def reference_score(self, algorithm: str) -> Optional[float]:
        per = [self.reference(algorithm, n) for n in self.agent_counts]
        return None if any(v is None for v in per) else mean_over(per)  # type: ignore[arg-type]

    def to_json(self) -> dict:
        return {
            "map_set": self.map_set,
            "policy": self.policy,
            "resolution": self.rule.resolution,
            "path_weight": self.rule.path_weight,
            "sample": self.sample,
            "search": self.rule.search,
            "rotations": self.rule.rotations,
            "per_agents": {
                str(n): {"avg_throughput": mean_over(self.throughputs(n)),
                         "instances": len(self.throughputs(n)),
                         "reference": {a: self.reference(a, n) for a in sorted(self.references)}}
                for n in self.agent_counts
            },
            "score": self.score,
            "reference_score": {a: self.reference_score(a) for a in sorted(self.references)},
            "episodes": [asdict(e) for e in self.episodes],
        }

    def table(self) -> str:
        """A text table: this policy beside each reference algorithm, per agent count."""
        algorithms = sorted(self.references)
        label = Path(self.policy).name if "/" in self.policy else self.policy
        if self.rule.label():
            label += f" ({self.rule.label()})"
        head = ["agents", "instances", label] + algorithms
        rows = []
        for n in self.agent_counts:
            row = [str(n), str(len(self.throughputs(n))), f"{mean_over(self.throughputs(n)):.3f}"]
            row += [_fmt(self.reference(a, n)) for a in algorithms]
            rows.append(row)
        rows.append(["score", "", f"{self.score:.3f}"]
                    + [_fmt(self.reference_score(a)) for a in algorithms])
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
        lines = [f"{self.map_set}: throughput (goals per step), mean over instances",
                 "  ".join(h.rjust(w) for h, w in zip(head, widths, strict=True)),
                 "  ".join("-" * w for w in widths)]
        lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
        return "\n".join(lines)


def _fmt(value: Optional[float]) -> str:
    return "n/a" if value is None else f"{value:.3f}"


class _Task(NamedTuple):
    instance: Instance
    policy_spec: str
    sample: bool
    rule: StepRule


def _run(task: _Task) -> EpisodeResult:
    return run_episode(task.instance, make_policy(task.policy_spec, task.sample), task.rule)


def run_instances(instances: Sequence[Instance], policy_spec: str, workers: int = 1,
                  progress: bool = True, sample: bool = False,
                  rule: StepRule = SOFT_RULE) -> Iterator[EpisodeResult]:
    """Episode results for ``instances`` as they finish (order not kept with workers > 1)."""
    # Fail fast on a bad name or a policy the rule cannot ask, before any worker starts.
    make_policy(policy_spec, sample).check_rule(rule)
    tasks = [_Task(instance, policy_spec, sample, rule) for instance in instances]
    bar = tqdm(total=len(tasks), desc=f"eval {policy_spec}", unit="episode", disable=not progress,
               dynamic_ncols=True)
    try:
        if workers <= 1:
            for task in tasks:
                yield _run(task)
                bar.update()
            return
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            for result in pool.map(_run, tasks, chunksize=1):
                yield result
                bar.update()
    finally:
        bar.close()


def evaluate(map_set: MapSet, policy_spec: str, agent_counts: Optional[Sequence[int]] = None,
             max_instances: Optional[int] = None, workers: int = 1,
             progress: bool = True, sample: bool = False,
             rule: StepRule = SOFT_RULE, first_instance: int = 1) -> EvalReport:
    """Run ``policy_spec`` on ``map_set`` (its instances from ``first_instance`` on, at most
    ``max_instances``) and collect the report with its references; ``rule`` settles
    conflicting moves (see :func:`run_episode`)."""
    counts = list(agent_counts or map_set.agent_counts)
    instances = [inst for n in counts
                 for inst in map_set.instances(n, max_instances, first_instance)]
    if not instances:
        raise ValueError(f"{map_set.name} has no instance from number {first_instance} on")
    # Longest episodes (most agents) first keeps the workers busy to the end.
    instances.sort(key=lambda inst: -inst.num_agents)
    episodes = list(run_instances(instances, policy_spec, workers, progress, sample, rule))
    episodes.sort(key=lambda e: (e.num_agents, e.map_name, e.seed))
    return EvalReport(map_set.name, policy_spec, episodes, map_set.reference_results(),
                      rule, sample)
