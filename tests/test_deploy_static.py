"""Static checks of what cannot run here: Dockerfiles, compose, launch files, Gazebo worlds."""
import ast
import importlib
import importlib.util
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest
import yaml

from marlgpt_planner.fleet_config import DEFAULT_FLEET, FleetDescription
from marlgpt_planner.lattice import Lattice
from marlgpt_sim.gazebo_world import generate, wall_runs, world_sdf
from tests.conftest import REPO

DOCKERFILES = sorted((REPO / "docker").glob("*/Dockerfile"))
LAUNCH_FILES = sorted(REPO.glob("launch/*.launch.py")) + sorted(
    (REPO / "ros2_ws" / "src" / "marlgpt_planner" / "launch").glob("*.launch.py"))
PACKAGES = ("marlgpt_planner", "marlgpt_sim")


def hadolint(path: Path) -> subprocess.CompletedProcess:
    binary = Path(sys.executable).with_name("hadolint")
    return subprocess.run([str(binary), "--config", str(REPO / ".hadolint.yaml"), str(path)],
                          capture_output=True, text=True)


def instructions(path: Path) -> List[List[str]]:
    """A Dockerfile's instructions as word lists (continuation lines joined)."""
    text = re.sub(r"\\\n", " ", path.read_text())
    return [line.split() for line in text.splitlines() if line.strip()
            and not line.lstrip().startswith("#")]


def missing_copy_sources(path: Path, context: Path) -> List[str]:
    missing = []
    for words in instructions(path):
        if words[0].upper() not in ("COPY", "ADD"):
            continue
        args = [w for w in words[1:] if not w.startswith("--")]
        if any(w.startswith("--from") for w in words[1:]):
            continue
        for source in args[:-1]:
            if not list(context.glob(source.rstrip("/"))):
                missing.append(source)
    return missing


def test_there_are_the_three_images() -> None:
    assert [p.parent.name for p in DOCKERFILES] == ["jetbot", "sim", "training"]


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_dockerfiles_pass_hadolint(dockerfile: Path) -> None:
    run = hadolint(dockerfile)
    assert run.returncode == 0, run.stdout + run.stderr


def test_hadolint_catches_an_unpinned_base(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM ubuntu:latest\nRUN apt-get install curl\n")
    assert hadolint(bad).returncode != 0


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_images_copy_only_what_exists_pin_their_base_and_never_copy_test_interfaces(
        dockerfile: Path) -> None:
    assert missing_copy_sources(dockerfile, REPO) == []
    bases = [w[1] for w in instructions(dockerfile) if w[0].upper() == "FROM"]
    for base in bases:
        name, _, tag = base.partition(":")
        assert tag and tag != "latest", f"{dockerfile}: base {base} is not pinned to a tag"
    text = dockerfile.read_text()
    assert "tests/ros/interfaces" not in text  # the test-only nav2_msgs stays out of images
    assert not re.search(r"(PASSWORD|SECRET|TOKEN|API_KEY)\s*=", text, re.I)


def test_copy_check_finds_missing_sources(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM x:1\nCOPY launch /ws/launch\nCOPY nowhere/ /ws/\n")
    assert missing_copy_sources(dockerfile, REPO) == ["nowhere/"]


def test_simulation_and_training_images_do_not_run_as_root() -> None:
    for name in ("sim", "training"):
        users = [w[1] for w in instructions(REPO / "docker" / name / "Dockerfile")
                 if w[0].upper() == "USER"]
        assert users and users[-1] not in ("root", "0")


def test_compose_builds_from_existing_files() -> None:
    compose = yaml.safe_load((REPO / "docker" / "compose.sim.yaml").read_text())
    build = compose["services"]["sim"]["build"]
    context = (REPO / "docker" / build["context"]).resolve()
    assert context == REPO and (context / build["dockerfile"]).is_file()
    assert all(s.get("network_mode") == "host" for s in compose["services"].values())


def test_dockerignore_keeps_large_local_files_out() -> None:
    ignored = (REPO / ".dockerignore").read_text().split()
    for path in (".venv", "data", "runs", "ros2_ws/build", "ros2_ws/install", ".git"):
        assert path in ignored


# --- launch files -------------------------------------------------------------------------
def console_scripts(package: str = "marlgpt_planner") -> List[str]:
    text = (REPO / "ros2_ws" / "src" / package / "setup.py").read_text()
    return re.findall(rf'"(\w+) = {package}[\w.]*:main"', text)


def calls(tree: ast.AST, name: str) -> List[ast.Call]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call)
            and getattr(n.func, "id", getattr(n.func, "attr", None)) == name]


def keyword(call: ast.Call, key: str):
    for kw in call.keywords:
        if kw.arg == key:
            return kw.value
    return None


@pytest.mark.parametrize("launch_file", LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_files_name_only_what_exists(launch_file: Path) -> None:
    tree = ast.parse(launch_file.read_text())
    declared: Dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "ARGUMENTS":
            declared = {elt.elts[0].value: elt.elts[1] for elt in node.value.elts}
    assert declared, f"{launch_file.name}: no ARGUMENTS table"
    assert calls(tree, "generate_launch_description") == [] and any(
        isinstance(n, ast.FunctionDef) and n.name == "generate_launch_description"
        for n in tree.body)
    # Every launch argument read is declared.
    for call in calls(tree, "LaunchConfiguration"):
        if call.args and isinstance(call.args[0], ast.Constant):
            assert call.args[0].value in declared, f"{launch_file.name}: undeclared argument"
    # Every marlgpt executable named exists as a console script of its package; others are
    # ROS packages of the images (checked by name only).
    for call in calls(tree, "Node"):
        package = keyword(call, "package")
        executable = keyword(call, "executable")
        if isinstance(package, ast.Constant) and package.value in PACKAGES:
            if isinstance(executable, ast.Constant):
                assert executable.value in console_scripts(package.value)
    # Files next to the launch file that it opens exist.
    for call in calls(tree, "join"):
        if len(call.args) == 2 and getattr(call.args[0], "id", "") == "HERE":
            assert (launch_file.parent / call.args[1].value).is_file()
    # Names it imports from the planner package exist.
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("marlgpt_"):
            module = importlib.import_module(node.module)
            for alias in node.names:
                assert hasattr(module, alias.name), f"{node.module}.{alias.name}"


def test_the_fleet_starts_only_installed_executables() -> None:
    fleet = FleetDescription.load(DEFAULT_FLEET)
    for spec in fleet.nodes("loopback"):
        assert spec.package in PACKAGES and spec.executable in console_scripts(spec.package)
        assert spec.module.startswith(spec.package + ".")
        assert importlib.util.find_spec(spec.module) is not None, spec.module  # python -m
    robots = FleetDescription.load(DEFAULT_FLEET, goals="generator")
    for sim in ("gazebo", "none"):
        specs = robots.nodes(sim)
        assert [s.executable for s in specs] == ["planner"] * 4
        assert specs[0].parameters["map.source"] == "static"
    with pytest.raises(ValueError, match="loopback"):
        fleet.nodes("gazebo")  # POGEMA goals exist only in the loopback simulator


def test_launch_and_robot_side_code_keep_python_3_8() -> None:
    vermin = Path(sys.executable).with_name("vermin")
    for path in [REPO / "launch", REPO / "ros2_ws" / "src" / "marlgpt_planner"]:
        run = subprocess.run([str(vermin), "-t=3.8-", "--violations", "--no-tips",
                              "--eval-annotations", str(path)], capture_output=True, text=True)
        assert run.returncode == 0, run.stdout


# --- Gazebo world -------------------------------------------------------------------------
def test_the_gazebo_world_is_valid_sdf_and_matches_the_map(tmp_path: Path) -> None:
    files = generate(str(DEFAULT_FLEET), tmp_path, "3")
    fleet = FleetDescription.load(DEFAULT_FLEET, robots=3, goals="generator")
    rows, cols = fleet.obstacles.shape
    lattice = Lattice(fleet.origin[0], fleet.origin[1], fleet.cell_size, rows, cols)
    root = ET.parse(files["world"]).getroot()
    assert root.tag == "sdf" and root.get("version") == "1.6"
    models = {m.get("name"): m for m in root.iter("model")}
    assert set(models) == {"maze", "ground_plane"}  # no model:// includes: runs offline
    assert not list(root.iter("include"))
    plugins = [p.get("filename") for p in root.find("world").findall("plugin")]
    assert plugins == ["libgazebo_ros_state.so"]  # ground truth for the Gazebo test
    model = models["maze"]
    assert model.find("static").text == "true"
    rebuilt = np.zeros((rows, cols), bool)
    for link in model.iter("link"):
        x, y, z = (float(v) for v in link.find("pose").text.split()[:3])
        sx, sy, sz = (float(v) for v in link.find("collision/geometry/box/size").text.split())
        assert link.find("visual/geometry/box") is not None and z == pytest.approx(sz / 2)
        assert sy == pytest.approx(0.3)
        for k in range(round(sx / 0.3)):
            rebuilt[lattice.cell_at(x - sx / 2 + (k + 0.5) * 0.3, y)] = True
    assert np.array_equal(rebuilt, fleet.obstacles)
    spawn = yaml.safe_load(files["spawn"].read_text())
    assert list(spawn) == ["robot1", "robot2", "robot3"]
    for pose in spawn.values():
        cell = lattice.cell_at(pose["x"], pose["y"])
        assert not fleet.obstacles[cell] and list(cell) == pose["cell"]
    nav_map = yaml.safe_load(files["map"].read_text())
    header, pixels = (tmp_path / nav_map["image"]).read_bytes().split(b"255\n", 1)
    width, height = (int(v) for v in header.split()[1:3])
    image = np.frombuffer(pixels, np.uint8).reshape(height, width)
    per = round(0.3 / nav_map["resolution"])
    assert np.array_equal(image[::per, ::per] == 0, fleet.obstacles)


def test_wall_runs_merge_rows() -> None:
    obstacles = np.array([[1, 1, 0, 1], [0, 0, 0, 0], [1, 1, 1, 1]], bool)
    assert wall_runs(obstacles) == [(0, 0, 2), (0, 3, 1), (2, 0, 4)]
    sdf = world_sdf(obstacles, Lattice(0.0, 0.9, 0.3, 3, 4))
    assert sdf.count('<link name="wall_') == 3


def test_robot_models_publish_tf_in_their_namespace() -> None:
    from marlgpt_sim.gazebo_world import namespaced_tf

    model = ('<sdf><model><plugin name="joints" filename="libgazebo_ros_joint_state_publisher.so">'
             '<ros></ros></plugin><plugin name="drive" filename="libgazebo_ros_diff_drive.so">'
             '<ros><!-- ns --></ros><publish_odom_tf>true</publish_odom_tf></plugin>'
             '</model></sdf>')
    out = namespaced_tf(model)
    drive = out[out.index('libgazebo_ros_diff_drive.so'):]
    assert drive.count("<remapping>/tf:=tf</remapping>") == 1
    assert out.count("<remapping>") == 1 and namespaced_tf(out) == out
    ET.fromstring(out)
    with pytest.raises(ValueError):
        namespaced_tf("<sdf><model/></sdf>")


# --- Nav2 parameters ----------------------------------------------------------------------
NAV2_MAZE = REPO / "ros2_ws" / "src" / "marlgpt_planner" / "config" / "nav2_maze.yaml"


def footprint_radii(points) -> tuple:
    """A footprint polygon's circumscribed and inscribed radii around base_footprint (the
    largest distance to a corner; the smallest to an edge), as Nav2 computes them."""
    outer = max(float(np.hypot(x, y)) for x, y in points)
    inner = np.inf
    for (x1, y1), (x2, y2) in zip(points, points[1:] + points[:1]):
        dx, dy = x2 - x1, y2 - y1
        t = np.clip(-(x1 * dx + y1 * dy) / (dx * dx + dy * dy), 0, 1)
        inner = min(inner, float(np.hypot(x1 + t * dx, y1 + t * dy)))
    return outer, inner


def nav2_problems(params: dict, corridor: float = 0.30) -> List[str]:
    """What in Nav2 (Humble) parameters does not fit a namespaced robot in ``corridor`` m."""
    problems = []

    def sections(tree: dict, name: str = ""):
        for key, value in tree.items():
            if not isinstance(value, dict):
                problems.append(f"{name}{key}: not a node section")
            elif "ros__parameters" in value:
                yield name + key, value["ros__parameters"]
            elif value and all(isinstance(v, dict) for v in value.values()):
                yield from sections(value, f"{name}{key}/")  # a node in a sub-namespace
            else:
                problems.append(f"{name}{key}: no ros__parameters")

    nodes = dict(sections(params))
    for name in ("amcl", "bt_navigator", "controller_server", "local_costmap/local_costmap",
                 "global_costmap/global_costmap", "map_server", "planner_server",
                 "behavior_server", "velocity_smoother"):
        if name not in nodes:
            problems.append(f"{name}: missing")
    for name in ("local_costmap/local_costmap", "global_costmap/global_costmap"):
        costmap = nodes.get(name, {})
        footprint = yaml.safe_load(str(costmap.get("footprint", "[]")))
        padding = costmap.get("footprint_padding", 0.01)  # Humble's default padding
        if footprint:
            outer, inner = footprint_radii(footprint)
        else:  # Humble's default radius is 0.1
            outer = inner = costmap.get("robot_radius", 0.1)
        resolution = costmap.get("resolution", 0.1)
        if outer + padding >= corridor / 2:
            problems.append(f"{name}: robot radius {outer + padding:.3f} m (padded) cannot turn "
                            f"in a {corridor} m corridor")
        if resolution > 0.05:
            problems.append(f"{name}: resolution {resolution} m")
        layers = [costmap.get(layer, {}).get("plugin") for layer in costmap.get("plugins", [])]
        if "nav2_costmap_2d::StaticLayer" not in layers:
            problems.append(f"{name}: no static layer: walls nearer than the lidar's 0.15 m "
                            "minimum range vanish")
        radius = inner + padding  # Nav2 inflates from the padded footprint
        for layer_name in costmap.get("plugins", []):
            layer = costmap.get(layer_name, {})
            if layer.get("plugin") == "nav2_costmap_2d::InflationLayer":
                reach = layer.get("inflation_radius", 0.55)
                # Nav2's inflation, in cells from the nearest wall cell: lethal within the
                # robot's radius, exponential decay beyond it up to the reach rounded up.
                centre = (round(corridor / resolution) + 1) // 2  # the corridor's middle cell
                cost = (0 if centre > np.ceil(reach / resolution - 1e-9)
                        else 253 if centre * resolution <= radius
                        else 252 * np.exp(-layer.get("cost_scaling_factor", 10.0)
                                          * (centre * resolution - radius)))
                if reach > 0.15 or cost >= 128:
                    problems.append(f"{name}: inflation {reach} m charges {cost:.0f} in the "
                                    f"corridor's middle, {centre * resolution:.2f} m from walls")
            for source in str(layer.get("observation_sources", "")).split():
                topic = str(layer.get(source, {}).get("topic", source))
                if not topic.startswith(("/", "<robot_namespace>/")):
                    problems.append(f"{name}: {layer_name}.{source} reads {topic!r}, "
                                    f"in the costmap's own namespace")
    controller = nodes.get("controller_server", {})
    for checker in controller.get("goal_checker_plugins", ["goal_checker"]):
        if controller.get(checker, {}).get("xy_goal_tolerance", 0.25) > 0.05:
            problems.append(f"controller_server: {checker} xy tolerance over 0.05 m")
    for controller_name in controller.get("controller_plugins", ["FollowPath"]):
        if controller.get(controller_name, {}).get("max_vel_x", 0.26) > 0.2:
            problems.append(f"controller_server: {controller_name} faster than 0.2 m/s")
    amcl = nodes.get("amcl", {})
    if amcl.get("base_frame_id", "base_footprint") != "base_footprint":
        problems.append(f"amcl: base frame {amcl.get('base_frame_id')}")
    for node, node_params in nodes.items():  # the robot's own topics stay in its namespace
        for key in ("scan_topic", "odom_topic"):
            if str(node_params.get(key, "")).startswith("/"):
                problems.append(f"{node}: {key} {node_params[key]} outside the namespace")
    return problems


def test_the_nav2_params_fit_30_cm_corridors_and_namespaced_scans() -> None:
    shipped = yaml.safe_load(NAV2_MAZE.read_text())
    assert nav2_problems(shipped) == []
    # The Gazebo launch file passes this file to every robot's Nav2, and the package installs it.
    launch_text = (REPO / "launch" / "gazebo_sim.launch.py").read_text()
    assert '"nav2_maze.yaml"' in launch_text and "nav2_params.yaml" not in launch_text
    assert 'glob("config/*.yaml")' in (NAV2_MAZE.parents[1] / "setup.py").read_text()

    def broken(path: str, value) -> dict:
        copy = yaml.safe_load(NAV2_MAZE.read_text())
        *keys, last = path.split(".")
        node = copy
        for key in keys:
            node = node[key]
        node[last] = value
        return copy

    local = "local_costmap.local_costmap.ros__parameters."
    glob_ = "global_costmap.global_costmap.ros__parameters."
    for path, value, expected in [
            (local + "voxel_layer.scan.topic", "scan", "costmap's own namespace"),
            (glob_ + "obstacle_layer.scan.topic", "scan", "costmap's own namespace"),
            (glob_ + "footprint", "[[0.15, 0.15], [0.15, -0.15], [-0.15, -0.15], [-0.15, 0.15]]",
             "robot radius 0.222 m (padded) cannot turn"),
            (local + "plugins", ["voxel_layer", "inflation_layer"], "no static layer"),
            (glob_ + "inflation_layer.inflation_radius", 0.55, "inflation 0.55"),
            (glob_ + "inflation_layer.cost_scaling_factor", 3.0, "charges 214"),
            (local + "resolution", 0.1, "resolution 0.1"),
            ("controller_server.ros__parameters.general_goal_checker.xy_goal_tolerance", 0.25,
             "xy tolerance"),
            ("controller_server.ros__parameters.FollowPath.max_vel_x", 0.26, "faster"),
            ("amcl.ros__parameters.base_frame_id", "base_link", "base frame base_link"),
            ("bt_navigator.ros__parameters.odom_topic", "/odom", "outside the namespace"),
            ("map_server", {"yaml_filename": ""}, "no ros__parameters")]:
        problems = nav2_problems(broken(path, value))
        assert any(expected in problem for problem in problems), (path, problems)
    both = broken(local + "voxel_layer.scan.topic", "scan")
    both["local_costmap"]["local_costmap"]["ros__parameters"]["footprint"] = "[]"
    both["local_costmap"]["local_costmap"]["ros__parameters"]["robot_radius"] = 0.22
    problems = nav2_problems(both)
    assert ("local_costmap/local_costmap: robot radius 0.230 m (padded) cannot turn in a 0.3 m "
            "corridor") in problems
    assert ("local_costmap/local_costmap: voxel_layer.scan reads 'scan', in the costmap's own "
            "namespace") in problems


# --- robot types: footprints against the real robots ----------------------------------------
def urdf_extent(path: Path) -> tuple:
    """The floor-plane extent (x_min, x_max, y_min, y_max) in base_footprint of a plain URDF's
    collision boxes, through its fixed joints (no rotations of boxes other than about z by a
    multiple of pi/2 are expected on a wheeled base)."""
    root = ET.parse(path).getroot()
    parent = {j.find("child").get("link"): (j.find("parent").get("link"), j.find("origin"))
              for j in root.iter("joint")}

    def offset(link: str) -> np.ndarray:
        total = np.zeros(3)
        while link in parent:
            link, origin = parent[link]
            total += np.array([float(v) for v in origin.get("xyz", "0 0 0").split()])
        return total

    corners = []
    for link in root.iter("link"):
        for collision in link.findall("collision"):
            box = collision.find("geometry/box")
            if box is None:
                continue
            size = np.array([float(v) for v in box.get("size").split()])
            origin = collision.find("origin")
            centre = offset(link.get("name")) + np.array(
                [float(v) for v in (origin.get("xyz") if origin is not None else "0 0 0").split()])
            for sx in (-1, 1):
                for sy in (-1, 1):
                    corners.append((centre[0] + sx * size[0] / 2, centre[1] + sy * size[1] / 2))
    xs, ys = zip(*corners)
    return min(xs), max(xs), min(ys), max(ys)


#: TurtleBot3 Burger's extent in base_footprint, from turtlebot3_description's
#: turtlebot3_burger.urdf (humble): the base box 0.140 x 0.140 centred at x = -0.032, the
#: wheels (radius 0.033, 0.018 wide) at y = +-0.080. The Gazebo test reads the real file.
BURGER_EXTENT = (-0.102, 0.038, -0.089, 0.089)


def footprint_problems(name: str, footprint, extent: tuple, corridor: float = 0.30,
                       padding: float = 0.01) -> List[str]:
    """What is wrong with ``footprint`` for a robot whose body spans ``extent``: it must
    cover the body (or Nav2 plans for a smaller robot than the one that drives) and, padded,
    still turn in a corridor."""
    problems = []
    xs, ys = zip(*footprint)
    x_min, x_max, y_min, y_max = extent
    if min(xs) > x_min + 1e-9 or max(xs) < x_max - 1e-9 or min(ys) > y_min + 1e-9 \
            or max(ys) < y_max - 1e-9:
        problems.append(f"{name}: footprint x {min(xs)}..{max(xs)}, y {min(ys)}..{max(ys)} "
                        f"does not cover the robot's x {x_min}..{x_max}, y {y_min}..{y_max}")
    outer, _ = footprint_radii(list(footprint))
    if outer + padding >= corridor / 2:
        problems.append(f"{name}: padded radius {outer + padding:.3f} m cannot turn in a "
                        f"{corridor} m corridor")
    return problems


def test_each_robot_types_footprint_covers_the_real_robot() -> None:
    from marlgpt_planner.robot_types import ROBOT_TYPES, box, nav2_footprint

    urdf = REPO / "ros2_ws" / "src" / "marlgpt_planner" / "urdf" / "jetbot.urdf"
    extents = {"jetbot": urdf_extent(urdf), "burger": BURGER_EXTENT}
    assert extents["jetbot"] == pytest.approx((-0.085, 0.085, -0.085, 0.085))
    assert set(ROBOT_TYPES) == set(extents)
    for name, robot in ROBOT_TYPES.items():
        assert footprint_problems(name, robot.footprint, extents[name]) == []
        if robot.description:
            assert (urdf.parent / f"{robot.description}.urdf").is_file()
    # The shipped Nav2 file carries the JetBot's footprint (robot_type:=custom keeps it).
    shipped = yaml.safe_load(NAV2_MAZE.read_text())
    for costmap in ("local_costmap", "global_costmap"):
        assert yaml.safe_load(shipped[costmap][costmap]["ros__parameters"]["footprint"]) == \
            yaml.safe_load(nav2_footprint(ROBOT_TYPES["jetbot"].footprint))
    # Broken copies: the old 0.08 m circle's square, a JetBot footprint on the Burger, and one
    # too large to turn.
    assert "does not cover" in footprint_problems("x", box(0.08, -0.08, 0.08),
                                                   extents["jetbot"])[0]
    assert "does not cover" in footprint_problems("x", ROBOT_TYPES["jetbot"].footprint,
                                                   BURGER_EXTENT)[0]
    assert "cannot turn" in footprint_problems("x", box(0.11, -0.11, 0.11),
                                               extents["jetbot"])[-1]
