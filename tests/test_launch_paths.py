"""What each launch path would start, run dry (tests/dry_launch.py): one planner per robot
whatever the path, the lidar stamping the URDF's lidar frame, odometry from the kind of robot
asked for, the robot type's footprint in Nav2, AMCL's initial pose with a covariance. Each
check also runs on a deliberately broken copy of a launch file, and must catch it."""
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Dict, List

import pytest
import yaml

from marlgpt_planner.robot_types import ROBOT_TYPES, nav2_footprint
from tests.conftest import REPO
from tests.dry_launch import Started, dry_run

PLANNER_PACKAGE = REPO / "ros2_ws" / "src" / "marlgpt_planner"
BRINGUP = REPO / "launch" / "robot_bringup.launch.py"
GAZEBO = REPO / "launch" / "gazebo_sim.launch.py"
MAZE = PLANNER_PACKAGE / "launch" / "maze.launch.py"
#: A TurtleBot3 model as far as gazebo_sim.launch.py reads it (its drive plugin's <ros> tag).
MAP = "/maps/maze.yaml"  # a saved map, as a robot is started with it (section 6)
BURGER_SDF = ('<sdf version="1.6"><model name="turtlebot3_burger"><plugin name="drive" '
              'filename="libgazebo_ros_diff_drive.so"><ros></ros></plugin></model></sdf>')


@pytest.fixture
def shares(tmp_path: Path) -> Dict[str, str]:
    out = {"marlgpt_planner": str(PLANNER_PACKAGE)}
    for package in ("nav2_bringup", "slam_toolbox", "gazebo_ros", "turtlebot3_gazebo",
                    "turtlebot3_description"):
        out[package] = str(tmp_path / "share" / package)
    model = Path(out["turtlebot3_gazebo"]) / "models" / "turtlebot3_burger" / "model.sdf"
    model.parent.mkdir(parents=True)
    model.write_text(BURGER_SDF)
    urdf = Path(out["turtlebot3_description"]) / "urdf" / "turtlebot3_burger.urdf"
    urdf.parent.mkdir(parents=True)
    urdf.write_text('<robot name="burger"><link name="base_footprint"/></robot>')
    return out


def nodes(started: List[Started], executable: str) -> List[Started]:
    return [s for s in started if s.kind == "node" and s.executable == executable]


def parameters(node: Started) -> dict:
    merged = {}
    for item in node.parameters:
        if isinstance(item, dict):
            merged.update(item)
    return merged


def launch_problems(started: List[Started]) -> List[str]:
    """What would go wrong on the robots if these nodes started."""
    from marlgpt_planner.ros.nav2_ready import arguments

    problems = []
    planners = Counter(s.namespace for s in nodes(started, "planner"))
    problems += [f"{ns}: {count} planners" for ns, count in planners.items() if count > 1]
    links: Dict[str, set] = {}
    for rsp in nodes(started, "robot_state_publisher"):
        root = ET.fromstring(parameters(rsp)["robot_description"])
        links[rsp.namespace] = {link.get("name") for link in root.iter("link")}
    for lidar in nodes(started, "rplidar_node"):
        frame = parameters(lidar).get("frame_id", "laser_frame")  # rplidar_ros's default
        if lidar.namespace in links and frame not in links[lidar.namespace]:
            problems.append(f"{lidar.namespace}: scans stamped {frame!r}, which the URDF's "
                            f"links {sorted(links[lidar.namespace])} do not include")
    for rf2o in nodes(started, "rf2o_laser_odometry_node"):
        p = parameters(rf2o)
        if p.get("init_pose_from_topic", "/base_pose_ground_truth") != "":
            problems.append(f"{rf2o.namespace}: rf2o waits for a ground-truth pose")
        if any(str(p.get(k, "/")).startswith("/") for k in ("laser_scan_topic", "odom_topic")):
            problems.append(f"{rf2o.namespace}: rf2o topics outside the robot's namespace")
        if p.get("base_frame_id", "base_link") != "base_footprint":
            problems.append(f"{rf2o.namespace}: rf2o's base frame is not base_footprint")
    for wait in nodes(started, "wait_for_nav2"):
        try:
            args = arguments([str(a) for a in wait.arguments])
        except SystemExit:
            problems.append(f"wait_for_nav2 {wait.arguments}: refused")
            continue
        if args.localizer == "amcl" and args.x is None:
            problems.append(f"{args.namespace}: AMCL gets no initial pose")
    return problems


def footprint_of(started: List[Started]) -> List[str]:
    """The footprint each Nav2 include is given."""
    found = []
    for include in started:
        if include.kind == "include" and "params_file" in include.arguments[0]:
            params = include.arguments[0]["params_file"]
            while hasattr(params, "kwargs") and "param_rewrites" not in params.kwargs:
                params = params.kwargs["source_file"]  # ReplaceString around it
            found.append(params.rewrites.get("footprint") if hasattr(params, "rewrites")
                         else None)
    return found


def test_a_jetbot_starts_its_drivers_nav2_and_one_planner(shares) -> None:
    started = dry_run(BRINGUP, {"robot": "robot2", "map": MAP}, shares)
    assert launch_problems(started) == []
    assert [s.namespace for s in nodes(started, "planner")] == ["/robot2"]
    (lidar,) = nodes(started, "rplidar_node")
    assert parameters(lidar)["frame_id"] == "laser"
    assert parameters(lidar)["serial_port"] == "/dev/ttyUSB0"
    (base,) = nodes(started, "jetbot_base")
    assert parameters(base)["port"] == "/dev/ttyACM0" and base.namespace == "/robot2"
    assert nodes(started, "rf2o_laser_odometry_node") == []
    assert footprint_of(started) == [nav2_footprint(ROBOT_TYPES["jetbot"].footprint)]
    (wait,) = nodes(started, "wait_for_nav2")
    assert "--x" in wait.arguments and "--sigma-xy" not in wait.arguments  # the default sigma


def test_a_jetbot_without_encoders_takes_laser_odometry(shares) -> None:
    started = dry_run(BRINGUP, {"robot": "robot1", "odometry": "laser", "map": MAP,
                                "lidar_port": "/dev/ttyACM1"}, shares)
    assert launch_problems(started) == []
    assert nodes(started, "jetbot_base") == []
    (rf2o,) = nodes(started, "rf2o_laser_odometry_node")
    assert parameters(rf2o)["odom_topic"] == "odom" and rf2o.namespace == "/robot1"
    assert ("/tf", "tf") in rf2o.remappings
    assert parameters(nodes(started, "rplidar_node")[0])["serial_port"] == "/dev/ttyACM1"


def test_mapping_with_slam_starts_no_planner(shares) -> None:
    started = dry_run(BRINGUP, {"robot": "robot1", "slam": "True", "planner": "False"}, shares)
    assert nodes(started, "planner") == [] and nodes(started, "async_slam_toolbox_node")
    assert footprint_of(started) == [nav2_footprint(ROBOT_TYPES["jetbot"].footprint)]


def test_gazebo_robots_get_one_planner_each_and_the_burgers_footprint(shares,
                                                                      tmp_path) -> None:
    started = dry_run(GAZEBO, {"robots": "3", "out": str(tmp_path / "world")}, shares)
    assert launch_problems(started) == []
    assert sorted(s.namespace for s in nodes(started, "planner")) == [
        "/robot1", "/robot2", "/robot3"]
    assert nodes(started, "rplidar_node") == [] and nodes(started, "jetbot_base") == []
    assert footprint_of(started) == [nav2_footprint(ROBOT_TYPES["burger"].footprint)] * 3


def test_maze_launch_runs_the_loopback_fleet_only(shares) -> None:
    started = dry_run(MAZE, {}, shares)
    assert len(nodes(started, "planner")) == 4 and nodes(started, "loopback_sim")
    for sim in ("gazebo", "none"):
        with pytest.raises(RuntimeError, match="one planner per robot"):
            dry_run(MAZE, {"sim": sim}, shares)


def test_an_unknown_odometry_or_robot_type_is_refused(shares) -> None:
    with pytest.raises(RuntimeError, match="odometry:=encoders is not one of"):
        dry_run(BRINGUP, {"odometry": "encoders", "map": MAP}, shares)
    with pytest.raises(ValueError, match="robot_type 'waffle' is not one of"):
        dry_run(BRINGUP, {"robot_type": "waffle", "map": MAP}, shares)


def broken_copy(tmp_path: Path, source: Path, old: str, new: str) -> Path:
    """``source`` with ``old`` replaced, beside it (so its own includes still resolve)."""
    text = source.read_text()
    assert old in text, old
    copy = source.with_name(f"broken_{tmp_path.name}_{source.name}")
    copy.write_text(text.replace(old, new))
    return copy


@pytest.mark.parametrize("old, new, expected", [
    ('"frame_id": LASER_FRAME, ', "", "scans stamped 'laser_frame'"),
    ('"init_pose_from_topic": "",', "", "waits for a ground-truth pose"),
    ('"--yaw", value["yaw"]]', '"--yaw", value["yaw"], "--sigma-xy", "0"]', "refused"),
    ('"--x", x, "--y", y,', "", "AMCL gets no initial pose"),
])
def test_the_checks_catch_a_broken_bringup(shares, tmp_path, old, new, expected) -> None:
    copy = broken_copy(tmp_path, BRINGUP, old, new)
    try:
        started = dry_run(copy, {"robot": "robot1", "odometry": "laser", "map": MAP}, shares)
    finally:
        copy.unlink()
    assert any(expected in problem for problem in launch_problems(started)), \
        launch_problems(started)


def test_the_checks_catch_duplicate_planners(shares, tmp_path) -> None:
    """A maze.launch.py that started planners for Gazebo robots again: beside
    gazebo_sim.launch.py's own, every namespace would have two."""
    copy = broken_copy(tmp_path, MAZE, 'if value["sim"] != "loopback":',
                       'if value["sim"] not in ("loopback", "gazebo"):')
    try:
        extra = dry_run(copy, {"sim": "gazebo", "robots": "3"}, shares)
    finally:
        copy.unlink()
    gazebo = dry_run(GAZEBO, {"robots": "3", "out": str(tmp_path / "world")}, shares)
    problems = launch_problems(gazebo + extra)
    assert sorted(problems) == [f"/robot{i}: 2 planners" for i in (1, 2, 3)]


def test_the_shipped_nav2_file_parses_with_the_footprint_the_launch_writes() -> None:
    """RewrittenYaml writes the footprint as a string; Nav2 parses it as a list of pairs."""
    text = nav2_footprint(ROBOT_TYPES["burger"].footprint)
    assert yaml.safe_load(text) == [list(p) for p in ROBOT_TYPES["burger"].footprint]


def test_with_security_on_every_node_runs_in_the_robots_enclave(shares, tmp_path,
                                                                monkeypatch) -> None:
    keystore = tmp_path / "keystore"
    monkeypatch.setenv("ROS_SECURITY_ENABLE", "true")
    monkeypatch.setenv("ROS_SECURITY_KEYSTORE", str(keystore))
    monkeypatch.delenv("ROS_SECURITY_ENCLAVE_OVERRIDE", raising=False)
    with pytest.raises(RuntimeError, match="enclave /marlgpt/robot1 is not in the keystore"):
        dry_run(BRINGUP, {"robot": "robot1", "map": MAP}, shares)
    enclave = keystore / "enclaves" / "marlgpt" / "robot1"
    enclave.mkdir(parents=True)
    (enclave / "permissions.p7s").write_text("signed")
    started = dry_run(BRINGUP, {"robot": "robot1", "map": MAP}, shares)
    assert [(s.executable, s.arguments) for s in started if s.kind == "env"] == [
        ("ROS_SECURITY_ENCLAVE_OVERRIDE", ["/marlgpt/robot1"])]
    monkeypatch.setenv("ROS_SECURITY_ENCLAVE_OVERRIDE", "/marlgpt/robot2")
    with pytest.raises(RuntimeError, match="whose enclave is /marlgpt/robot1"):
        dry_run(BRINGUP, {"robot": "robot1", "map": MAP}, shares)
    monkeypatch.delenv("ROS_SECURITY_ENABLE")
    plain = dry_run(BRINGUP, {"robot": "robot1", "map": MAP}, shares)
    assert [s for s in plain if s.kind == "env"] == []


def test_a_robot_without_a_map_or_a_footprint_to_set_is_refused_at_once(shares,
                                                                        tmp_path) -> None:
    with pytest.raises(RuntimeError, match="pass map:=MAP.yaml"):
        dry_run(BRINGUP, {"robot": "robot1"}, shares)
    assert nodes(dry_run(BRINGUP, {"robot": "robot1", "slam": "True"}, shares), "planner")
    params = tmp_path / "nav2.yaml"  # a user's file with a radius and no footprint
    params.write_text("local_costmap:\n  local_costmap:\n    ros__parameters:\n"
                      "      robot_radius: 0.1\n")
    with pytest.raises(RuntimeError, match="no footprint in both costmaps"):
        dry_run(BRINGUP, {"robot": "robot1", "map": MAP, "params_file": str(params)}, shares)
    kept = dry_run(BRINGUP, {"robot": "robot1", "map": MAP, "params_file": str(params),
                             "robot_type": "custom"}, shares)
    assert footprint_of(kept) == [None]  # the file as it is


def test_laser_odometry_starts_after_the_robots_frames(shares) -> None:
    """rf2o reads the lidar's mount once, at its first scan: it starts after a delay."""
    import ast

    tree = ast.parse(BRINGUP.read_text())
    timers = [n for n in ast.walk(tree) if isinstance(n, ast.Call)
              and getattr(n.func, "id", "") == "TimerAction"]
    assert len(timers) == 1 and "rf2o_laser_odometry_node" in ast.unparse(timers[0])


COORDINATOR = REPO / "launch" / "fleet_coordinator.launch.py"


def test_the_fleet_computer_starts_the_coordinator_of_a_central_fleet(shares, tmp_path,
                                                                      monkeypatch) -> None:
    description = yaml.safe_load((PLANNER_PACKAGE / "config" / "fleet_maze.yaml").read_text())
    description["model"] = str(PLANNER_PACKAGE / "models" / "marlgpt.onnx")
    description["map"] = str(PLANNER_PACKAGE / "config" / "maps" / "maze_17x17.txt")
    description["planner"]["fleet_protocol.resolution"] = "central"
    description["coordinator"] = {"expert.iterations": 50}
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(yaml.safe_dump(description))
    monkeypatch.delenv("ROS_SECURITY_ENABLE", raising=False)
    (node,) = dry_run(COORDINATOR, {"fleet": str(fleet)}, shares)
    params = parameters(node)
    assert node.executable == "coordinator" and node.package == "marlgpt_planner"
    assert params["fleet"] == ["robot1", "robot2", "robot3", "robot4"]
    assert params["map.source"] == "static" and params["expert.iterations"] == 50
    # The robots' planners of the same description follow it, and no robot runs one.
    started = dry_run(BRINGUP, {"robot": "robot2", "map": MAP, "fleet": str(fleet)}, shares)
    (planner,) = nodes(started, "planner")
    assert parameters(planner)["fleet_protocol.resolution"] == "central"
    assert nodes(started, "coordinator") == []
    # A description whose planners do not follow a coordinator is refused.
    with pytest.raises(RuntimeError, match="fleet_protocol.resolution: central"):
        dry_run(COORDINATOR, {}, shares)
    monkeypatch.setenv("ROS_SECURITY_ENABLE", "true")
    monkeypatch.setenv("ROS_SECURITY_KEYSTORE", str(tmp_path / "keystore"))
    monkeypatch.delenv("ROS_SECURITY_ENCLAVE_OVERRIDE", raising=False)
    with pytest.raises(RuntimeError, match="enclave /marlgpt/coordinator is not in the"):
        dry_run(COORDINATOR, {"fleet": str(fleet)}, shares)
    enclave = tmp_path / "keystore" / "enclaves" / "marlgpt" / "coordinator"
    enclave.mkdir(parents=True)
    (enclave / "permissions.p7s").write_text("signed")
    started = dry_run(COORDINATOR, {"fleet": str(fleet)}, shares)
    assert [(s.executable, s.arguments) for s in started if s.kind == "env"] == [
        ("ROS_SECURITY_ENCLAVE_OVERRIDE", ["/marlgpt/coordinator"])]
    monkeypatch.setenv("ROS_SECURITY_ENCLAVE_OVERRIDE", "/marlgpt/monitor")
    with pytest.raises(RuntimeError, match="whose coordinator's enclave is"):
        dry_run(COORDINATOR, {"fleet": str(fleet)}, shares)
