"""Map sets in the POGEMA benchmark's format, and their published reference results.

A set directory holds ``maps.yaml`` (map name -> grid text), one ``*-lmapf.yaml`` (the
benchmark config: an ``environment`` block whose ``grid_search`` lists span the instances and
agent counts, plus ``scenarios`` with explicit starts and goals) and optionally
``reference-results/*.json`` (per-instance results of published algorithms).
"""
import itertools
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import yaml

#: libyaml's parser where PyYAML has it: the scenario files take ~15 s with the pure-Python one.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: Environment keys a set may vary per instance (besides num_agents).
INSTANCE_KEYS = ("map_name", "seed")


@dataclass(frozen=True)
class Instance:
    """One benchmark episode: a map, a seed and an agent count, with the set's settings."""

    map_name: str
    seed: int
    num_agents: int
    max_episode_steps: int
    grid: str
    collision_system: str = "soft"
    on_target: str = "restart"
    obs_radius: int = 5

    @property
    def key(self) -> Tuple[str, int]:
        """What identifies the instance across agent counts (and in reference results)."""
        return self.map_name, self.seed


@dataclass
class MapSet:
    name: str
    path: Path
    maps: Dict[str, str]
    environment: dict
    scenario_text: str = ""

    @classmethod
    def load(cls, path: "str | Path") -> "MapSet":
        path = Path(path)
        if not path.is_dir():
            raise FileNotFoundError(f"map set {path} is not a directory")
        configs = sorted(path.glob("*-lmapf.yaml"))
        if len(configs) != 1:
            raise ValueError(
                f"map set {path} needs exactly one *-lmapf.yaml, found {len(configs)}")
        maps_file = path / "maps.yaml"
        if not maps_file.is_file():
            raise FileNotFoundError(f"map set {path} has no maps.yaml")
        sections = _top_level_sections(configs[0].read_text())
        if "environment" not in sections:
            raise ValueError(f"{configs[0]} has no 'environment' block")
        environment = yaml.load(sections["environment"], Loader=_LOADER)["environment"]
        return cls(name=configs[0].name[: -len("-lmapf.yaml")], path=path,
                   maps=yaml.load(maps_file.read_text(), Loader=_LOADER),
                   environment=environment, scenario_text=sections.get("scenarios", ""))

    @cached_property
    def scenarios(self) -> Dict[str, dict]:
        """The set's explicit scenarios (parsed on first use: they are most of the file)."""
        if not self.scenario_text:
            return {}
        return yaml.load(self.scenario_text, Loader=_LOADER)["scenarios"] or {}

    def _values(self, key: str) -> List:
        value = self.environment.get(key)
        if isinstance(value, dict) and "grid_search" in value:
            return list(value["grid_search"])
        return [value]

    @property
    def agent_counts(self) -> List[int]:
        return [int(n) for n in self._values("num_agents")]

    @property
    def max_episode_steps(self) -> int:
        return int(self.environment["max_episode_steps"])

    def instances(self, num_agents: int, max_instances: Optional[int] = None,
                  first: int = 1) -> List[Instance]:
        """The set's instances for ``num_agents``, in its grid-search order, from the
        ``first``-th (1-based) on, at most ``max_instances`` of them if given."""
        if first < 1:
            raise ValueError(f"the first instance is numbered 1, got {first}")
        grid = [self._values(key) for key in INSTANCE_KEYS]
        out = []
        for map_name, seed in itertools.product(*grid):
            if map_name not in self.maps:
                raise KeyError(f"map {map_name!r} is not in {self.path / 'maps.yaml'}")
            out.append(Instance(
                map_name=map_name, seed=int(seed or 0), num_agents=int(num_agents),
                max_episode_steps=self.max_episode_steps, grid=self.maps[map_name],
                collision_system=self.environment.get("collision_system", "soft"),
                on_target=self.environment.get("on_target", "restart"),
            ))
        out = out[first - 1:]
        return out[:max_instances] if max_instances else out

    def scenario(self, instance: Instance) -> Optional[dict]:
        """The set's explicit scenario (agents_xy, targets_xy) for the instance's map and seed."""
        for scenario in self.scenarios.values():
            if (scenario.get("map_name") == instance.map_name
                    and int(scenario.get("seed", 0)) == instance.seed):
                return scenario
        return None

    def reference_results(self) -> Dict[str, Dict[Tuple[str, int, int], float]]:
        """algorithm -> {(map_name, seed, num_agents): avg_throughput} from reference-results/."""
        out: Dict[str, Dict[Tuple[str, int, int], float]] = {}
        for file in sorted((self.path / "reference-results").glob("*.json")):
            for row in json.loads(file.read_text()):
                env = row["env_grid_search"]
                key = (env.get("map_name", self._values("map_name")[0]), int(env.get("seed", 0)),
                       int(env["num_agents"]))
                out.setdefault(row.get("algorithm", file.stem), {})[key] = float(
                    row["metrics"]["avg_throughput"])
        return out


def _top_level_sections(text: str) -> Dict[str, str]:
    """Split a YAML mapping document into the text of each top-level key."""
    sections: Dict[str, List[str]] = {}
    current: Optional[List[str]] = None
    for line in text.splitlines(keepends=True):
        if line[:1] not in (" ", "\t", "#", "\n", "") and ":" in line:
            current = sections.setdefault(line.split(":", 1)[0].strip(), [])
        if current is not None:
            current.append(line)
    return {key: "".join(lines) for key, lines in sections.items()}


def mean_over(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else float("nan")
