"""What the robot image must hold: every module the robot package imports, at the Python
version the robot code assumes (checked against docker/jetbot/Dockerfile's install lines)."""
import ast
import re
import sys
from pathlib import Path
from typing import Dict, Set

from tests.conftest import REPO

PACKAGE = REPO / "ros2_ws" / "src" / "marlgpt_planner"
JETBOT = REPO / "docker" / "jetbot" / "Dockerfile"
#: Where each third-party module of the robot package comes from in the JetBot image:
#: ("pip", name) installed by a pip line, ("ros", package) from the ROS 2 base image or the
#: workspace built in it, ("source", package) built from source by the Dockerfile, ("wheel",
#: pattern) a wheel the Dockerfile installs from docker/jetbot/wheels/ when one is there.
PROVIDERS = {
    "numpy": ("pip", "numpy"), "yaml": ("pip", "pyyaml"), "onnxruntime": ("pip", "onnxruntime"),
    "pycuda": ("pip", "pycuda"), "tensorrt": ("wheel", "tensorrt-*.whl"),
    "rclpy": ("ros", "rclpy"), "ament_index_python": ("ros", "ament_index_python"),
    "geometry_msgs": ("ros", "geometry_msgs"), "nav_msgs": ("ros", "nav_msgs"),
    "diagnostic_msgs": ("ros", "diagnostic_msgs"),
    "visualization_msgs": ("ros", "visualization_msgs"),
    "action_msgs": ("ros", "action_msgs"), "rcl_interfaces": ("ros", "rcl_interfaces"),
    "tf2_msgs": ("ros", "tf2_msgs"), "marlgpt_msgs": ("ros", "marlgpt_msgs"),
    "lifecycle_msgs": ("ros", "lifecycle_msgs"),
    "nav2_msgs": ("source", "navigation2"), "launch": ("ros", "launch"),
    "launch_ros": ("ros", "launch_ros"),
}


def third_party_imports(root: Path) -> Set[str]:
    """Top-level modules imported anywhere in ``root``'s Python files (also inside functions),
    minus the standard library and the package itself."""
    found: Set[str] = set()
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return {m for m in found if m not in sys.stdlib_module_names
            and m not in ("marlgpt_planner", "setuptools")}


def pip_installs(dockerfile: str) -> Set[str]:
    """Package names on the Dockerfile's ``pip install`` lines (lower case)."""
    names: Set[str] = set()
    for line in re.findall(r"pip install[^\n]*(?:\\\n[^\n]*)*", dockerfile):
        for token in re.findall(r'"([A-Za-z0-9_\-]+)[<>=!~ ,\d.]*[^"]*"|\s([a-z][a-z0-9_\-]+)'
                                r'(?=[\s"<>=]|$)', line):
            name = (token[0] or token[1]).lower()
            names.add(name)
    return names


def missing_modules(modules: Set[str], dockerfile: str,
                    providers: Dict[str, tuple] = PROVIDERS) -> Set[str]:
    """Modules the image would lack: no provider known, or a pip one not on a pip line, or a
    source-built one the Dockerfile does not build."""
    pip = pip_installs(dockerfile)
    missing = set()
    for module in modules:
        kind, name = providers.get(module, (None, None))
        if kind is None or (kind == "pip" and name.lower() not in pip) or (
                kind in ("source", "wheel") and name not in dockerfile):
            missing.add(module)
    return missing


def test_the_jetbot_image_installs_every_module_the_robot_package_imports() -> None:
    modules = third_party_imports(PACKAGE)
    assert {"numpy", "rclpy", "onnxruntime", "yaml", "pycuda"} <= modules  # the scan works
    dockerfile = JETBOT.read_text()
    assert missing_modules(modules, dockerfile) == set()
    # The check can fail: the same Dockerfile without its pycuda install lacks pycuda.
    assert "pycuda" in missing_modules(modules, dockerfile.replace("pycuda", "pyc-u-d-a"))
    assert "brand_new" in missing_modules(modules | {"brand_new"}, dockerfile)


def test_the_image_checks_the_python_version_the_robot_code_assumes() -> None:
    setup = (PACKAGE / "setup.py").read_text()
    wanted = re.search(r'python_requires=">=(\d+)\.(\d+)"', setup)
    assert wanted, "setup.py states no python_requires"
    major, minor = int(wanted.group(1)), int(wanted.group(2))
    dockerfile = JETBOT.read_text()
    check = re.search(r"assert sys\.version_info >= \((\d+), (\d+)\)", dockerfile)
    assert check and (int(check.group(1)), int(check.group(2))) == (major, minor)


LAUNCH_FILES = sorted((REPO / "launch").glob("*.launch.py")) + sorted(
    (PACKAGE / "launch").glob("*.launch.py"))


def descriptions_not_through_xacro(source: str) -> list:
    """robot_state_publisher nodes whose robot_description is not made by xacro (a file read
    as is breaks on xacro sources such as turtlebot3_description >= 2.2.8)."""
    tree = ast.parse(source)
    assigned = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            assigned[node.targets[0].id] = node.value
    problems = []
    for call in ast.walk(tree):
        if not (isinstance(call, ast.Call) and getattr(call.func, "id", "") == "Node"):
            continue
        package = next((k.value for k in call.keywords if k.arg == "package"), None)
        if not (isinstance(package, ast.Constant) and package.value == "robot_state_publisher"):
            continue
        for d in ast.walk(call):
            if not isinstance(d, ast.Dict):
                continue
            for key, value in zip(d.keys, d.values):
                if isinstance(key, ast.Constant) and key.value == "robot_description":
                    made = assigned.get(value.id) if isinstance(value, ast.Name) else value
                    text = ast.unparse(made) if made is not None else ""
                    if "xacro" not in text and not text.startswith("plain_urdf("):
                        problems.append(f"line {call.lineno}: robot_description = {text!r}")
    return problems


def test_robot_descriptions_go_through_xacro() -> None:
    checked = 0
    for path in LAUNCH_FILES:
        source = path.read_text()
        assert descriptions_not_through_xacro(source) == [], path.name
        checked += source.count('"robot_state_publisher"')
    assert checked >= 1  # the Gazebo launch feeds one
    gazebo = (REPO / "launch" / "gazebo_sim.launch.py").read_text()
    broken = re.sub(r"xacro\.process_file\([^\n]*\)\.toxml\(\)", "open(urdf_path).read()", gazebo)
    assert broken != gazebo and descriptions_not_through_xacro(broken)
    assert "ros-humble-xacro" in (REPO / "docker" / "sim" / "Dockerfile").read_text()


def test_the_jetbot_description_is_plain_urdf_with_the_frames_nav2_needs() -> None:
    import xml.etree.ElementTree as ET

    urdfs = sorted((PACKAGE / "urdf").glob("*.urdf"))
    assert [p.name for p in urdfs] == ["jetbot.urdf"]
    text = urdfs[0].read_text()
    assert "${" not in text and "<xacro:" not in text  # what plain_urdf() accepts
    root = ET.fromstring(text)
    links = {link.get("name") for link in root.findall("link")}
    parent = {j.find("child").get("link"): j.find("parent").get("link")
              for j in root.findall("joint")}
    assert set(parent) | set(parent.values()) <= links
    chain, frame = [], "laser"
    while frame in parent:
        chain.append(frame)
        frame = parent[frame]
    assert chain + [frame] == ["laser", "base_link", "base_footprint"]
    assert '"urdf/*.urdf"' in (PACKAGE / "setup.py").read_text()  # installed to share/


def test_maze_launch_with_no_arguments_needs_no_pogema() -> None:
    """What `ros2 launch marlgpt_planner maze.launch.py` starts in the simulation image, which
    has no pogema: the loopback simulator must not be asked for POGEMA's lock-step."""
    from marlgpt_planner.fleet_config import DEFAULT_FLEET, FleetDescription

    tree = ast.parse((PACKAGE / "launch" / "maze.launch.py").read_text())
    defaults = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "ARGUMENTS":
            defaults = {e.elts[0].value: ast.literal_eval(e.elts[1]) for e in node.value.elts
                        if isinstance(e.elts[1], ast.Constant)}
    assert defaults["sim"] == "loopback"

    def simulator(goals):
        (sim,) = [s for s in FleetDescription.load(DEFAULT_FLEET, goals=goals).nodes("loopback")
                  if s.package == "marlgpt_sim"]
        return sim.parameters

    assert "pogema.seed" not in simulator(defaults["goals"])
    assert "pogema.seed" in simulator("pogema")  # the check can fail


#: ROS packages of ros_base, which the JetBot image builds whole (rosinstall_generator).
ROS_BASE = {"robot_state_publisher"}


def launched_packages(launch_file: Path) -> set:
    """The packages of the nodes a launch file starts (constant package names)."""
    tree = ast.parse(launch_file.read_text())
    return {kw.value.value for call in ast.walk(tree) if isinstance(call, ast.Call)
            and getattr(call.func, "id", "") == "Node" for kw in call.keywords
            if kw.arg == "package" and isinstance(kw.value, ast.Constant)}


def unbuilt_packages(packages: set, dockerfile: str) -> set:
    """Packages the JetBot image neither builds (named in its Dockerfile) nor has in ros_base."""
    return {p for p in packages
            if p not in ROS_BASE and p != "marlgpt_planner" and p not in dockerfile}


def test_the_jetbot_image_has_every_package_the_robot_launch_starts() -> None:
    packages = launched_packages(REPO / "launch" / "robot_bringup.launch.py")
    assert {"rplidar_ros", "rf2o_laser_odometry", "slam_toolbox", "marlgpt_planner"} <= packages
    dockerfile = JETBOT.read_text()
    assert unbuilt_packages(packages, dockerfile) == set()
    assert unbuilt_packages(packages, dockerfile.replace("rf2o_laser_odometry", "rf2o")) == {
        "rf2o_laser_odometry"}


def test_rosdep_failures_stop_the_jetbot_build() -> None:
    """rosdep's -r (--ignore-errors) would let a missing system dependency pass, to fail hours
    later in colcon: every rosdep install in the image runs without it."""
    def forgiving(dockerfile: str) -> list:
        return [line for line in re.findall(r"rosdep install[^\n]*(?:\\\n[^\n]*)*", dockerfile)
                if re.search(r"\s(-r|--ignore-errors|-[a-z]*r[a-z]*)\s", line + " ")]
    dockerfile = JETBOT.read_text()
    assert dockerfile.count("&& rosdep install") == 2 and forgiving(dockerfile) == []
    assert len(forgiving(dockerfile.replace("rosdep install -y", "rosdep install -y -r"))) == 2
