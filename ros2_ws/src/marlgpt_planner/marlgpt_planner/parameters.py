"""The planner node's parameters: names, defaults and the checks made once at start (no ROS).

:data:`PARAMETERS` lists every parameter with its default, in the order the node declares
them (``config/planner.yaml`` and docs/planner.md explain each). :func:`validate` takes their
values as rclpy gives them and returns them cleaned (floats as ``float``, ints as ``int``,
lists as lists, strings stripped, empty robot names dropped), or raises
:class:`ParameterError` naming every bad value at once, so a robot with a wrong
configuration stops before it joins the fleet rather than misbehaving in it.
"""
import array
import math
import numbers
from collections import abc
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from marlgpt_planner.expert import pibt
from marlgpt_planner.policy import BACKENDS
from marlgpt_planner.step_rule import SHIELD, StepRule
from marlgpt_planner.step_rule import names as resolutions

#: (name, default) of every parameter, in declaration order.
PARAMETERS: Tuple[Tuple[str, Any], ...] = (
    ("robots", [""]), ("fleet", [""]),
    ("lattice.origin", [0.0, 0.0]), ("lattice.cell_size", 0.30),
    ("lattice.rows", 0), ("lattice.cols", 0), ("lattice.yaw", 0.0),
    ("map.source", "topic"), ("map.topic", "/map"), ("map.static", ""),
    ("map.occupied_threshold", 65), ("map.occupied_fraction", 0.2),
    ("map.unknown_fraction", 0.5), ("map.unknown_policy", "obstacle"),
    ("pose.source", "tf"), ("pose.map_frame", "map"), ("pose.base_frame", "base_footprint"),
    ("pose.tf_topic", "tf"), ("pose.tf_static_topic", "tf_static"),
    ("pose.topic", ""), ("pose.type", "PoseWithCovarianceStamped"),
    ("pose.timeout", 1.0), ("pose.hysteresis", 0.2),
    ("model.path", ""), ("model.backend", "cpu"), ("model.threads", 1),
    ("model.sample", False), ("model.seed", 0), ("model.path_weight", 0.0),
    ("goals.source", "generator"), ("goals.seed", 0), ("goals.next_wait", 0.0),
    ("nav.action", "navigate_to_pose"), ("nav.frame", "map"), ("nav.behavior_tree", ""),
    ("nav.tolerance", 0.05), ("nav.retries", 2), ("nav.server_timeout", 10.0),
    ("nav.step_timeout", 20.0),
    ("fleet_protocol.lost_after", 5.0), ("fleet_protocol.startup_timeout", 60.0),
    ("fleet_protocol.heartbeat", 0.5), ("fleet_protocol.resolution", SHIELD),
    ("fleet_protocol.search", 16), ("fleet_protocol.rotations", True),
    ("fleet_protocol.state_topic", "/fleet/state"), ("fleet_protocol.step_topic", "/fleet/step"),
    ("fleet_protocol.plan_topic", "/fleet/plan"), ("fleet_protocol.plan_timeout", 1.0),
    ("markers_topic", "/marlgpt/markers"), ("stats_file", ""), ("tick_rate", 20.0),
)
DEFAULTS: Dict[str, Any] = dict(PARAMETERS)

#: The fleet coordinator's parameters (``ros2 run marlgpt_planner coordinator``): the
#: planners' names for what it shares with them, and its expert's settings.
_SHARED = ("fleet", "lattice.origin", "lattice.cell_size", "lattice.rows", "lattice.cols",
           "lattice.yaw", "map.source", "map.topic", "map.static", "map.occupied_threshold",
           "map.occupied_fraction", "map.unknown_fraction", "map.unknown_policy",
           "fleet_protocol.lost_after", "fleet_protocol.startup_timeout",
           "fleet_protocol.state_topic", "fleet_protocol.step_topic",
           "fleet_protocol.plan_topic", "stats_file", "tick_rate")
COORDINATOR_PARAMETERS: Tuple[Tuple[str, Any], ...] = tuple(
    (name, DEFAULTS[name]) for name in _SHARED) + (
    ("expert.seed", 0), ("expert.candidates", pibt.CANDIDATES), ("expert.horizon", pibt.HORIZON),
    ("expert.noise", pibt.NOISE), ("expert.window", pibt.WINDOW),
    ("expert.iterations", pibt.ITERATIONS), ("expert.group", pibt.GROUP),
)

POSE_SOURCES = ("tf", "amcl", "slam", "topic")
POSE_TYPES = ("PoseWithCovarianceStamped", "PoseStamped")


class ParameterError(ValueError):
    """Bad parameter values; ``problems`` has one line per problem, each naming the parameter."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems: Tuple[str, ...] = tuple(problems)
        count = len(self.problems)
        super().__init__(f"{count} invalid parameter{'s' if count != 1 else ''}:\n  "
                         + "\n  ".join(self.problems))


class _Invalid(Exception):
    """Raised by a rule: ``str(self)`` says what is allowed."""


#: A rule cleans one raw value or raises _Invalid with what is allowed.
Rule = Callable[[Any], Any]


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_list(value: Any) -> bool:
    """A list, tuple or array (rclpy gives arrays for double-array parameters), not a string."""
    # array.array is an abc.Sequence only from Python 3.10; robots run 3.8.
    return (isinstance(value, (abc.Sequence, array.array))
            and not isinstance(value, (str, bytes)))


def _fmt(bound: float) -> str:
    return f"{bound:g}"


def number(low: Optional[float] = None, high: Optional[float] = None,
           low_open: bool = False, high_open: bool = False) -> Rule:
    """A finite number within the bounds (open bounds exclude their value)."""
    if low is not None and high is not None:
        allowed = (f"a number in {'(' if low_open else '['}{_fmt(low)}, {_fmt(high)}"
                   f"{')' if high_open else ']'}")
    elif low is not None:
        allowed = f"a finite number {'>' if low_open else '>='} {_fmt(low)}"
    else:
        allowed = "a finite number"

    def check(value: Any) -> float:
        if not _is_number(value) or not math.isfinite(value):
            raise _Invalid(allowed)
        value = float(value)
        if low is not None and (value <= low if low_open else value < low):
            raise _Invalid(allowed)
        if high is not None and (value >= high if high_open else value > high):
            raise _Invalid(allowed)
        return value
    return check


def integer(low: Optional[int] = None, high: Optional[int] = None, note: str = "") -> Rule:
    """A whole number within the bounds (a whole float such as 5.0 counts)."""
    if low is not None and high is not None:
        allowed = f"an integer in {low}..{high}"
    elif low is not None:
        allowed = f"an integer >= {low}"
    else:
        allowed = "an integer"
    allowed += note

    def check(value: Any) -> int:
        if not _is_number(value) or not math.isfinite(value) or value != int(value):
            raise _Invalid(allowed)
        value = int(value)
        if (low is not None and value < low) or (high is not None and value > high):
            raise _Invalid(allowed)
        return value
    return check


def choice(options: Sequence[str]) -> Rule:
    """One of ``options`` (surrounding spaces ignored)."""
    allowed = f"one of {', '.join(options)}"

    def check(value: Any) -> str:
        if not isinstance(value, str) or value.strip() not in options:
            raise _Invalid(allowed)
        return value.strip()
    return check


def text(required: bool = True) -> Rule:
    """A string, stripped; non-empty if ``required``."""
    allowed = "a non-empty string" if required else "a string"

    def check(value: Any) -> str:
        if not isinstance(value, str) or (required and not value.strip()):
            raise _Invalid(allowed)
        return value.strip()
    return check


def flag(value: Any) -> bool:
    """true or false."""
    if not isinstance(value, bool):
        raise _Invalid("true or false")
    return value


def names(value: Any) -> List[str]:
    """A list of distinct names; empty ones are dropped."""
    allowed = "a list of distinct names (strings)"
    if not _is_list(value):
        raise _Invalid(allowed)
    items = list(value)
    if not all(isinstance(item, str) for item in items):
        raise _Invalid(allowed)
    cleaned = [item.strip() for item in items if item.strip()]
    if len(set(cleaned)) != len(cleaned):
        raise _Invalid(allowed)
    return cleaned


def point(value: Any) -> List[float]:
    """Exactly two finite numbers, x and y."""
    allowed = "a list of exactly 2 finite numbers [x, y]"
    if not _is_list(value):
        raise _Invalid(allowed)
    items = list(value)
    if len(items) != 2 or not all(_is_number(v) and math.isfinite(v) for v in items):
        raise _Invalid(allowed)
    return [float(v) for v in items]


_FROM_MAZE = " (the fleet description or launch file sets it from the maze)"
_POSITIVE = number(0.0, low_open=True)
_NON_NEGATIVE = number(0.0)

#: The rule of every parameter in PARAMETERS.
RULES: Dict[str, Rule] = {
    "robots": names,
    "fleet": names,
    "lattice.origin": point,
    "lattice.cell_size": _POSITIVE,
    "lattice.rows": integer(1, note=_FROM_MAZE),
    "lattice.cols": integer(1, note=_FROM_MAZE),
    "lattice.yaw": number(),
    "map.source": choice(("topic", "static")),
    "map.topic": text(),
    "map.static": text(required=False),  # and non-empty when map.source is static, below
    "map.occupied_threshold": integer(1, 100),
    "map.occupied_fraction": number(0.0, 1.0),
    "map.unknown_fraction": number(0.0, 1.0),
    "map.unknown_policy": choice(("obstacle", "free")),
    "pose.source": choice(POSE_SOURCES),
    "pose.map_frame": text(),
    "pose.base_frame": text(),
    "pose.tf_topic": text(),
    "pose.tf_static_topic": text(),
    "pose.topic": text(required=False),  # empty: the source's own topic
    "pose.type": choice(POSE_TYPES),
    "pose.timeout": _POSITIVE,
    "pose.hysteresis": number(0.0, 0.5, high_open=True),
    "model.path": text(),
    "model.backend": choice(BACKENDS),
    "model.threads": integer(1),
    "model.sample": flag,
    "model.seed": integer(0),
    "model.path_weight": _NON_NEGATIVE,
    "goals.source": choice(("generator", "topic")),
    "goals.seed": integer(0),
    "goals.next_wait": _NON_NEGATIVE,
    "nav.action": text(),
    "nav.frame": text(),
    "nav.behavior_tree": text(required=False),
    "nav.tolerance": _POSITIVE,
    "nav.retries": integer(0),
    "nav.server_timeout": _POSITIVE,
    "nav.step_timeout": _POSITIVE,
    "fleet_protocol.lost_after": _POSITIVE,
    "fleet_protocol.startup_timeout": _POSITIVE,
    "fleet_protocol.heartbeat": _POSITIVE,
    "fleet_protocol.resolution": choice(resolutions()),
    "fleet_protocol.search": integer(1),
    "fleet_protocol.rotations": flag,
    "fleet_protocol.state_topic": text(),
    "fleet_protocol.step_topic": text(),
    "fleet_protocol.plan_topic": text(),
    "fleet_protocol.plan_timeout": _NON_NEGATIVE,
    "expert.seed": integer(0),
    "expert.candidates": integer(1),
    "expert.horizon": integer(1),
    "expert.noise": _NON_NEGATIVE,
    "expert.window": integer(0),
    "expert.iterations": integer(0),
    "expert.group": integer(1),
    "markers_topic": text(),
    "stats_file": text(required=False),
    "tick_rate": _POSITIVE,
}


def _static_map(values: Dict[str, Any]) -> Optional[str]:
    if values["map.source"] == "static" and not values["map.static"]:
        return "map.static: got ''; must be non-empty grid text when map.source is static"
    return None


def _robots_in_fleet(values: Dict[str, Any]) -> Optional[str]:
    missing = [r for r in values["robots"] if values["fleet"] and r not in values["fleet"]]
    if missing:
        return (f"robots: got {values['robots']!r}; every robot must be in fleet "
                f"{values['fleet']!r} (missing {', '.join(missing)})")
    return None


#: Checks across parameters: (the parameters they read, check). A check runs only when each
#: of its parameters passed its own rule.
CROSS_CHECKS: Tuple[Tuple[Tuple[str, ...], Callable[[Dict[str, Any]], Optional[str]]], ...] = (
    (("map.source", "map.static"), _static_map),
    (("robots", "fleet"), _robots_in_fleet),
)


def robots_and_fleet(values: Dict[str, Any], namespace: str) -> Tuple[List[str], List[str]]:
    """The robots a node drives (default: its namespace's) and the fleet (default: those)."""
    ns = namespace.strip("/")
    robots = values["robots"] or ([ns] if ns else [])
    fleet = values["fleet"] or robots
    if not robots or any(r not in fleet for r in robots):
        raise ParameterError([f"robots: got {robots}; must be non-empty (or the node "
                              f"namespaced) and every robot in fleet {fleet}"])
    return robots, fleet


def validate(values: Dict[str, Any],
             parameters: Tuple[Tuple[str, Any], ...] = PARAMETERS) -> Dict[str, Any]:
    """Clean parameter values by name; a missing name takes its default.

    Returns every parameter of ``parameters`` (the planner's, or
    :data:`COORDINATOR_PARAMETERS`), cleaned. Raises :class:`ParameterError` listing every
    problem, one line each: ``NAME: got VALUE; must be ALLOWED``.
    """
    problems: List[str] = []
    cleaned: Dict[str, Any] = {}
    for name in sorted(set(values) - {name for name, _ in parameters}):
        problems.append(f"{name}: got {values[name]!r}; not a parameter of this node")
    for name, default in parameters:
        value = values.get(name, default)
        try:
            cleaned[name] = RULES[name](value)
        except _Invalid as exc:
            problems.append(f"{name}: got {value!r}; must be {exc}")
    for needs, check in CROSS_CHECKS:
        if all(name in cleaned for name in needs):
            problem = check(cleaned)
            if problem:
                problems.append(problem)
    if problems:
        raise ParameterError(problems)
    return cleaned


def expert_settings(values: Dict[str, Any]) -> Dict[str, Any]:
    """The coordinator's :class:`~marlgpt_planner.expert.PibtExpert` keywords from its
    validated parameters (``expert.*``)."""
    return {name[len("expert."):]: value for name, value in values.items()
            if name.startswith("expert.")}


def step_rule(values: Dict[str, Any]) -> StepRule:
    """The fleet's step rule from validated parameters: ``fleet_protocol.resolution`` with
    ``model.path_weight`` and ``fleet_protocol.search`` where that resolution reads them (the
    defaults of the others are ignored), and ``fleet_protocol.rotations``."""
    return StepRule.lenient(values["fleet_protocol.resolution"], values["model.path_weight"],
                            values["fleet_protocol.search"], values["fleet_protocol.rotations"])
