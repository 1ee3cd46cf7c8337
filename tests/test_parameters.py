"""The planner node's parameter checks (pure logic, no ROS)."""
import array
import math

import pytest

from marlgpt_planner.parameters import (
    COORDINATOR_PARAMETERS,
    DEFAULTS,
    PARAMETERS,
    RULES,
    ParameterError,
    validate,
)

#: The parameters whose defaults are deliberately unusable: the deployment must set them.
MUST_SET = {"lattice.rows": 5, "lattice.cols": 5, "model.path": "model.onnx"}


def good(**changes) -> dict:
    """The defaults with what must be set, then ``changes`` (``__`` for ``.`` in names)."""
    values = dict(DEFAULTS, **MUST_SET)
    values.update({name.replace("__", "."): value for name, value in changes.items()})
    return values


def problems(values: dict) -> tuple:
    with pytest.raises(ParameterError) as info:
        validate(values)
    return info.value.problems


def test_every_parameter_has_a_rule():
    names = [name for name, _ in PARAMETERS]
    assert len(names) == len(set(names)), "a parameter is listed twice"
    coordinator = [name for name, _ in COORDINATOR_PARAMETERS]
    assert len(coordinator) == len(set(coordinator)), "a parameter is listed twice"
    names += coordinator
    assert set(names) == set(RULES), (
        f"without a rule: {sorted(set(names) - set(RULES))}; "
        f"rule without a parameter: {sorted(set(RULES) - set(names))}")


def test_defaults_validate_once_the_deployment_sets_the_maze_and_model():
    cleaned = validate(good())
    assert list(cleaned) == [name for name, _ in PARAMETERS]
    assert cleaned["robots"] == [] and cleaned["fleet"] == []
    assert cleaned["lattice.origin"] == [0.0, 0.0]
    assert cleaned["lattice.rows"] == 5 and cleaned["model.path"] == "model.onnx"
    assert cleaned["pose.source"] == "tf" and cleaned["pose.topic"] == ""
    assert cleaned["pose.base_frame"] == "base_footprint"
    assert cleaned["lattice.yaw"] == 0.0


def test_only_the_must_set_defaults_are_rejected():
    assert {line.split(":")[0] for line in problems(dict(DEFAULTS))} == set(MUST_SET)


def test_missing_names_take_their_default():
    cleaned = validate(dict(MUST_SET))
    assert cleaned["tick_rate"] == 20.0 and cleaned["fleet_protocol.resolution"] == "shield"


def test_ints_where_floats_are_expected_are_coerced():
    cleaned = validate(good(lattice__cell_size=1, pose__timeout=2, lattice__origin=[1, -2],
                            lattice__yaw=0, map__occupied_fraction=1, tick_rate=10))
    for name in ("lattice.cell_size", "pose.timeout", "lattice.yaw",
                 "map.occupied_fraction", "tick_rate"):
        assert type(cleaned[name]) is float, name
    assert cleaned["lattice.origin"] == [1.0, -2.0]
    assert all(type(v) is float for v in cleaned["lattice.origin"])


def test_whole_floats_where_ints_are_expected_are_coerced():
    cleaned = validate(good(lattice__rows=7.0, nav__retries=0.0))
    assert cleaned["lattice.rows"] == 7 and type(cleaned["lattice.rows"]) is int
    assert type(cleaned["nav.retries"]) is int


def test_lists_and_strings_are_cleaned():
    cleaned = validate(good(robots=["", " r1 "], fleet=("r0", "r1", ""),
                            lattice__origin=array.array("d", [0.5, 1.5]),
                            model__backend=" auto ", model__path=" m.onnx\n"))
    assert cleaned["robots"] == ["r1"] and cleaned["fleet"] == ["r0", "r1"]
    assert cleaned["lattice.origin"] == [0.5, 1.5]
    assert cleaned["model.backend"] == "auto" and cleaned["model.path"] == "m.onnx"


@pytest.mark.parametrize("name, value, allowed", [
    ("lattice.origin", [0.0], "exactly 2 finite numbers"),
    ("lattice.origin", [0.0, math.nan], "exactly 2 finite numbers"),
    ("lattice.origin", "0 0", "exactly 2 finite numbers"),
    ("lattice.cell_size", 0.0, "> 0"),
    ("lattice.cell_size", -0.3, "> 0"),
    ("lattice.cell_size", math.inf, "finite number > 0"),
    ("lattice.cell_size", "abc", "number > 0"),
    ("lattice.rows", 0, "integer >= 1 (the fleet description or launch file sets it"),
    ("lattice.cols", 2.5, "integer >= 1 (the fleet description or launch file sets it"),
    ("lattice.yaw", math.nan, "finite number"),
    ("map.source", "file", "one of topic, static"),
    ("map.occupied_threshold", 0, "integer in 1..100"),
    ("map.occupied_threshold", 101, "integer in 1..100"),
    ("map.occupied_fraction", 1.5, "in [0, 1]"),
    ("map.unknown_fraction", -0.1, "in [0, 1]"),
    ("map.unknown_policy", "unknown", "one of obstacle, free"),
    ("pose.source", "odom", "one of tf, amcl, slam, topic"),
    ("pose.type", "Odometry", "one of PoseWithCovarianceStamped, PoseStamped"),
    ("pose.timeout", 0, "> 0"),
    ("pose.hysteresis", 0.5, "in [0, 0.5)"),
    ("pose.map_frame", "  ", "non-empty string"),
    ("pose.base_frame", "", "non-empty string"),
    ("pose.tf_topic", "", "non-empty string"),
    ("model.path", "", "non-empty string"),
    ("model.backend", "gpu", "one of auto, cpu, cuda, ort-tensorrt, tensorrt"),
    ("model.threads", 0, "integer >= 1"),
    ("model.sample", "yes", "true or false"),
    ("model.seed", -1, "integer >= 0"),
    ("model.path_weight", -1.0, ">= 0"),
    ("goals.source", "file", "one of generator, topic"),
    ("nav.step_timeout", math.inf, "> 0"),
    ("nav.tolerance", 0.0, "> 0"),
    ("nav.retries", -1, "integer >= 0"),
    ("nav.frame", "", "non-empty string"),
    ("nav.server_timeout", -5.0, "> 0"),
    ("nav.step_timeout", "20", "> 0"),
    ("fleet_protocol.lost_after", 0.0, "> 0"),
    ("fleet_protocol.startup_timeout", math.nan, "> 0"),
    ("fleet_protocol.heartbeat", True, "> 0"),
    ("fleet_protocol.resolution", "pibt", "one of soft, shield"),
    ("fleet_protocol.search", 0, "an integer >= 1"),
    ("tick_rate", 0, "> 0"),
    ("fleet", ["a", "b", "a"], "distinct names"),
    ("robots", "r1", "list of distinct names"),
    ("robots", [1, 2], "list of distinct names"),
])
def test_a_bad_value_is_named_with_what_is_allowed(name, value, allowed):
    (line,) = problems(good(**{name.replace(".", "__"): value}))
    assert line.startswith(f"{name}: got {value!r}; must be ")
    assert allowed in line


def test_a_static_map_needs_its_grid():
    (line,) = problems(good(map__source="static", map__static=" \n"))
    assert line.startswith("map.static: got ''") and "map.source is static" in line
    assert validate(good(map__source="static", map__static="..\n.#"))["map.static"] == "..\n.#"


def test_robots_must_be_in_the_fleet():
    (line,) = problems(good(robots=["r1", "r9"], fleet=["r0", "r1"]))
    assert line.startswith("robots: ") and "missing r9" in line
    assert validate(good(robots=["r1"], fleet=[]))["robots"] == ["r1"]


def test_unknown_names_are_reported():
    (line,) = problems(good(**{"lattice.cellsize": 0.3}))
    assert line.startswith("lattice.cellsize: got 0.3; not a parameter")


def test_every_problem_is_reported_at_once():
    values = good(lattice__cell_size=0.0, lattice__rows=0, map__source="static",
                  pose__source="gps", model__backend="gpu", model__threads=0,
                  tick_rate=math.nan, fleet=["a", "a"])
    lines = problems(values)
    named = [line.split(":")[0] for line in lines]
    assert named == ["fleet", "lattice.cell_size", "lattice.rows", "pose.source",
                     "model.backend", "model.threads", "tick_rate", "map.static"]
    with pytest.raises(ParameterError) as info:
        validate(values)
    message = str(info.value)
    assert message.startswith("8 invalid parameters:")
    assert all(line in message.splitlines()[1 + i] for i, line in enumerate(lines))
    assert isinstance(info.value, ValueError)
