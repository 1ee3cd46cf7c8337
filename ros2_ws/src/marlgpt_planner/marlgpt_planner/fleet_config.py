"""The fleet description: one YAML file read by the launch files and by the fleet runner.

It names the map, the lattice, the model, the robots and the parameters of every node, and
turns them into :class:`NodeSpec` s (executable, namespace, parameters), so that
``ros2 launch marlgpt_planner maze.launch.py`` and ``python -m marlgpt_sim.fleet_runner``
start the same executables with the same parameters. See config/fleet_maze.yaml and
docs/planner.md. Pure Python + PyYAML, Python >= 3.8.
"""
from pathlib import Path
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

import numpy as np
import yaml

from marlgpt_planner.grid import parse_grid, render_grid
from marlgpt_planner.lattice import Lattice
from marlgpt_planner.parameters import COORDINATOR_PARAMETERS
from marlgpt_planner.step_rule import CENTRAL


def package_share() -> Path:
    """The package's data (config/, models/, launch/): its ament share directory when the
    package is installed (with or without --symlink-install, in an image or on a robot),
    else the source tree this module sits in."""
    source = Path(__file__).resolve().parent.parent
    if (source / "package.xml").is_file():
        return source  # the source tree (or a symlink install pointing into it)
    try:
        from ament_index_python.packages import PackageNotFoundError, get_package_share_directory
    except ImportError:
        return source
    try:
        return Path(get_package_share_directory("marlgpt_planner"))
    except PackageNotFoundError:
        return source


PACKAGE_DIR = package_share()
DEFAULT_FLEET = PACKAGE_DIR / "config" / "fleet_maze.yaml"
GOAL_MODES = ("pogema", "generator")
SIMS = ("loopback", "gazebo", "none")
#: The fleet description's pose modes -> the planner's pose.source (the loopback simulator
#: takes the mode itself as its pose.mode).
POSE_MODES = {"tf": "tf", "amcl": "amcl", "slam": "slam", "stream": "topic"}


class NodeSpec(NamedTuple):
    """A node to start: ``ros2 run PACKAGE EXECUTABLE`` == ``python -m MODULE``."""

    package: str
    name: str
    executable: str
    module: str
    namespace: str
    parameters: Dict[str, Any]


class Robot(NamedTuple):
    id: str
    start: Optional[Tuple[int, int]]


class FleetError(ValueError):
    """A fleet description that cannot be run."""


class FleetDescription:
    """A loaded fleet description (see the module doc)."""

    def __init__(self, data: dict, base: Path, source: str = "fleet description") -> None:
        self.source = source
        self.base = base
        map_path = self._path(_require(data, "map", source))
        try:
            self.obstacles = read_map(map_path.read_text())
        except OSError as exc:
            raise FleetError(f"{source}: map {map_path}: {exc.strerror}") from None
        except ValueError as exc:
            raise FleetError(f"{source}: map {map_path}: {exc}") from None
        self.map_path = map_path
        self.cell_size = float(data.get("cell_size", 0.30))
        origin = data.get("origin", [0.0, 0.0])
        try:
            self.origin = (float(origin[0]), float(origin[1]))
            self.yaw = float(data.get("yaw", 0.0))
        except (TypeError, ValueError, IndexError):
            raise FleetError(f"{source}: origin must be [x, y] and yaw a number (radians), got "
                             f"{origin!r} and {data.get('yaw')!r}") from None
        self.pose = data.get("pose", "tf")
        if self.pose not in POSE_MODES:
            raise FleetError(f"{source}: pose must be one of {', '.join(POSE_MODES)}, got "
                             f"{self.pose!r}")
        self.model = self._path(_require(data, "model", source))
        self.goals = data.get("goals", "pogema")
        if self.goals not in GOAL_MODES:
            raise FleetError(f"{source}: goals must be one of {GOAL_MODES}, got {self.goals!r}")
        self.seed = int(data.get("seed", 0))
        self.prefix = str(data.get("prefix", "robot"))
        self.planner_parameters: Dict[str, Any] = dict(data.get("planner") or {})
        self.sim_parameters: Dict[str, Any] = dict(data.get("sim") or {})
        self.coordinator_parameters: Dict[str, Any] = dict(data.get("coordinator") or {})
        self.robots = self._robots(data.get("robots", 4))

    @classmethod
    def load(cls, path: "str | Path" = DEFAULT_FLEET, robots=None,
             model: Optional[str] = None, goals: Optional[str] = None,
             map_path: Optional[str] = None, prefix: Optional[str] = None,
             pose: Optional[str] = None) -> "FleetDescription":
        """Load a description; ``robots`` (a count, a list of ids or "a,b,c"), ``model``,
        ``goals``, ``map_path``, the id ``prefix`` of counted robots and the ``pose`` mode
        override it."""
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except OSError as exc:
            raise FleetError(f"{path}: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise FleetError(f"{path}: not valid YAML ({exc})") from None
        if isinstance(robots, str):
            robots = int(robots) if robots.strip().isdigit() else \
                [r.strip() for r in robots.split(",") if r.strip()]
        if isinstance(robots, list):
            robots = [r if isinstance(r, dict) else {"id": str(r)} for r in robots]
        if robots is not None:
            data["robots"] = robots
        if map_path is not None:
            data["map"] = str(Path(map_path).resolve())
        if prefix is not None:
            data["prefix"] = prefix
        if model is not None:
            data["model"] = str(Path(model).resolve())
        if goals is not None:
            data["goals"] = goals
        if pose is not None:
            data["pose"] = pose
        return cls(data, path.parent, str(path))

    # --- parsing --------------------------------------------------------------------------------
    def _path(self, value: str) -> Path:
        path = Path(value)
        return path if path.is_absolute() else (self.base / path).resolve()

    def _robots(self, value) -> List[Robot]:
        free = np.argwhere(~self.obstacles)
        if isinstance(value, int):
            if not 1 <= value <= len(free):
                raise FleetError(f"{self.source}: robots must be 1..{len(free)} (free cells), "
                                 f"got {value}")
            picks = np.random.default_rng(self.seed).permutation(len(free))[:value]
            return [Robot(f"{self.prefix}{i + 1}", tuple(int(v) for v in free[k]))
                    for i, k in enumerate(sorted(picks))]
        starts = iter(self._robots(len(value)) if value else [])
        robots = []
        for entry in value or []:
            if not isinstance(entry, dict) or "id" not in entry:
                raise FleetError(f"{self.source}: each robot needs an id, got {entry!r}")
            start = entry.get("start")
            seeded = next(starts).start
            if start is None and self.goals == "generator":
                start = seeded  # listed without a start: a seeded free cell
            if start is not None:
                start = (int(start[0]), int(start[1]))
                if not (0 <= start[0] < self.obstacles.shape[0]
                        and 0 <= start[1] < self.obstacles.shape[1]) or self.obstacles[start]:
                    raise FleetError(f"{self.source}: {entry['id']} starts on {start}, which is "
                                     "outside the map or an obstacle")
            robots.append(Robot(str(entry["id"]), start))
        ids = [r.id for r in robots]
        if not robots or len(set(ids)) != len(ids):
            raise FleetError(f"{self.source}: robots must be a count or a list of unique ids")
        return robots

    # --- node specs -----------------------------------------------------------------------------
    @property
    def ids(self) -> List[str]:
        return [r.id for r in self.robots]

    def lattice(self) -> Lattice:
        rows, cols = self.obstacles.shape
        return Lattice(self.origin[0], self.origin[1], self.cell_size, int(rows), int(cols),
                       self.yaw)

    def lattice_parameters(self) -> Dict[str, Any]:
        rows, cols = self.obstacles.shape
        return {"lattice.origin": list(self.origin), "lattice.cell_size": self.cell_size,
                "lattice.rows": int(rows), "lattice.cols": int(cols), "lattice.yaw": self.yaw}

    def planner(self, robot: str, extra: Optional[Dict[str, Any]] = None) -> NodeSpec:
        params = dict(self.lattice_parameters(), robots=[robot], fleet=self.ids)
        params.update({"model.path": str(self.model),
                       "goals.source": "topic" if self.goals == "pogema" else "generator",
                       # The loopback simulator sends each next goal as POGEMA takes the
                       # step, before the move ends; waiting for it keeps the fleet's steps
                       # POGEMA's on a loaded machine, where it can come after the arrival.
                       "goals.next_wait": 1.0 if self.goals == "pogema" else 0.0,
                       "goals.seed": self.seed, "pose.source": POSE_MODES[self.pose]})
        params.update(self.planner_parameters)
        params.update(extra or {})
        return NodeSpec("marlgpt_planner", "marlgpt_planner", "planner",
                        "marlgpt_planner.ros.node", robot, params)

    def simulator(self, extra: Optional[Dict[str, Any]] = None) -> NodeSpec:
        params = dict(self.lattice_parameters(), robots=self.ids,
                      **{"map.grid": render_grid(self.obstacles), "seed": self.seed,
                         "pose.mode": self.pose})
        if self.goals == "pogema":
            params["pogema.seed"] = self.seed
        else:
            if any(r.start is None for r in self.robots):
                raise FleetError(f"{self.source}: every robot needs a start without POGEMA goals")
            params["starts"] = [v for r in self.robots for v in r.start]
        params.pop("lattice.rows")
        params.pop("lattice.cols")
        params.update(self.sim_parameters)
        params.update(extra or {})
        return NodeSpec("marlgpt_sim", "loopback_sim", "loopback_sim", "marlgpt_sim.loopback", "",
                        params)

    @property
    def central(self) -> bool:
        """The planners follow a fleet coordinator's plans
        (``fleet_protocol.resolution: central``)."""
        return self.planner_parameters.get("fleet_protocol.resolution") == CENTRAL

    def coordinator(self, extra: Optional[Dict[str, Any]] = None) -> NodeSpec:
        """The fleet coordinator (a fleet computer's expert planning every step): the
        planners' lattice, map and fleet protocol, the expert seeded with the fleet's seed,
        then the description's ``coordinator`` parameters."""
        params = dict(self.lattice_parameters(), fleet=self.ids, **{"expert.seed": self.seed})
        shared = {name for name, _ in COORDINATOR_PARAMETERS}
        params.update({k: v for k, v in dict(self.planner_parameters, **(extra or {})).items()
                       if k in shared and k not in ("stats_file", "tick_rate")})
        params.update(self.coordinator_parameters)
        return NodeSpec("marlgpt_planner", "marlgpt_coordinator", "coordinator",
                        "marlgpt_planner.ros.coordinator", "", params)

    def nodes(self, sim: str = "loopback") -> List[NodeSpec]:
        """What ``maze.launch.py sim:=SIM`` starts: the loopback simulator and a planner per
        robot; with Gazebo or real robots, the planners alone, reading the fleet's map as a
        static grid and each robot's pose as the description's ``pose`` says (TF by default:
        Nav2's AMCL localizing every robot on the one saved maze map), unless the
        description's ``planner`` parameters say otherwise. A fleet under the central
        resolution gets its coordinator too (on real robots: start it on the fleet
        computer, launch/README.md)."""
        if sim not in SIMS:
            raise FleetError(f"sim must be one of {SIMS}, got {sim!r}")
        if sim == "loopback":
            coordinator = [self.coordinator()] if self.central else []
            return [self.simulator()] + coordinator + [self.planner(r) for r in self.ids]
        if self.goals == "pogema":
            raise FleetError(f"{self.source}: goals: pogema needs the loopback simulator; use "
                             "goals: generator with sim " + sim)
        robot_side = {"map.source": "static", "map.static": render_grid(self.obstacles)}
        robot_side.update(self.planner_parameters)
        coordinator = [self.coordinator(robot_side)] if self.central else []
        return coordinator + [self.planner(r, robot_side) for r in self.ids]


def read_map(text: str) -> np.ndarray:
    """A map file: POGEMA's grid text (``.`` free, ``#`` obstacle), with comment lines that
    start with ``# `` (a hash and a space, which no grid row contains)."""
    return parse_grid("\n".join(line for line in text.splitlines()
                                 if not line.startswith("# ")))


def _require(data: dict, key: str, source: str):
    if key not in data:
        raise FleetError(f"{source}: '{key}' is required")
    return data[key]


def nested(parameters: Dict[str, Any]) -> Dict[str, Any]:
    """Dotted parameter names as nested mappings (the form ROS 2 parameter files use)."""
    out: Dict[str, Any] = {}
    for key, value in parameters.items():
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


def parameter_file(spec: NodeSpec) -> str:
    """The YAML ``--params-file`` text for ``spec`` (applies to the node in any namespace)."""
    return yaml.safe_dump({"/**": {"ros__parameters": nested(spec.parameters)}},
                          sort_keys=True)
