"""The repository keeps the design's layout, and CI runs the README's test command."""
import ast
import re
import subprocess
import sys
from pathlib import Path
from typing import List, Tuple

from tests.conftest import REPO

LAYOUT = ("ros2_ws/src/marlgpt_planner/package.xml", "ros2_ws/src/marlgpt_msgs/package.xml",
          "ros2_ws/src/marlgpt_sim/package.xml",
          "training/pyproject.toml", "docker", "launch", "tests", "docs", "Makefile",
          "README.md", ".ci/run", "requirements/lock.txt")


def test_layout_exists() -> None:
    missing = [path for path in LAYOUT if not (REPO / path).exists()]
    assert missing == []


def test_ci_runs_the_readme_test_command() -> None:
    readme = (REPO / "README.md").read_text()
    first_block = re.search(r"```(?:bash|sh)\n(.*?)```", readme, re.S)
    assert first_block, "README.md has no shell block"
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines()]
    commands = [command for command in commands if command]
    assert commands[:2] == ["make demo", "make test"]
    ci_lines = [line.strip() for line in (REPO / ".ci/run").read_text().splitlines()]
    assert "make test" in ci_lines


def test_lock_pins_every_requirement_exactly() -> None:
    lines = [line.strip() for line in (REPO / "requirements/lock.txt").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    loose = [line for line in lines if not re.fullmatch(r"[A-Za-z0-9_.\-]+==[^=<>~!,;\s]+", line)]
    assert loose == []
    assert "torch==2.13.0" in lines and "pogema==1.4.0" in lines and "numpy==1.26.4" in lines
    assert "ros-rclpy==9.1.2" in lines


ROBOT_SIDE = REPO / "ros2_ws" / "src" / "marlgpt_planner" / "marlgpt_planner"


def _vermin(path: Path) -> subprocess.CompletedProcess:
    vermin = Path(sys.executable).with_name("vermin")
    return subprocess.run([str(vermin), "-t=3.8-", "--violations", "--no-tips",
                           "--eval-annotations", str(path)], capture_output=True, text=True)


def test_robot_side_code_keeps_python_3_8(tmp_path: Path) -> None:
    run = _vermin(ROBOT_SIDE)
    assert run.returncode == 0, run.stdout + run.stderr
    newer = tmp_path / "newer.py"  # the check itself must catch 3.9+ code
    newer.write_text("def f(a: dict, b: dict) -> dict:\n    return a | b\n\n"
                     "x = 'abc'.removeprefix('a')\n")
    assert _vermin(newer).returncode != 0


FORBIDDEN = re.compile(r"^\s*(import|from)\s+(torch|pogema|marlgpt_training|marlgpt_sim)\b",
                       re.M)


def test_robot_side_imports_neither_torch_nor_pogema_nor_the_simulators() -> None:
    package = ROBOT_SIDE.parent
    files = sorted(package.rglob("*.py"))
    assert ROBOT_SIDE / "ros" / "node.py" in files and package / "setup.py" in files
    offenders = [str(p.relative_to(package)) for p in files if FORBIDDEN.search(p.read_text())]
    assert offenders == []
    # The pattern finds an import however deep it sits in a function.
    assert FORBIDDEN.search("def f():\n    from pogema import pogema_v0\n")


#: rclpy and the ROS interface packages (std_msgs, rcl_interfaces, std_srvs, marlgpt_msgs, ...).
ROS_IMPORT = re.compile(r"^\s*(import|from)\s+(rclpy|\w+_msgs|\w+_interfaces|\w+_srvs)\b", re.M)


def ros_imports_outside_the_ros_room(package: Path) -> List[str]:
    """Files of ``package`` outside its ``ros/`` sub-package that import ROS, however deep."""
    room = package / "ros"
    return sorted(str(p.relative_to(package)) for p in package.rglob("*.py")
                  if room not in p.parents and ROS_IMPORT.search(p.read_text()))


def test_only_the_ros_room_imports_rclpy_and_the_ros_messages() -> None:
    """docs/architecture.md: the robot runtime's pure logic never imports ROS; its ROS plumbing
    lives in marlgpt_planner/ros/."""
    room = ROBOT_SIDE / "ros"
    assert (room / "__init__.py").is_file() and (room / "goal_input.py").is_file()
    assert ros_imports_outside_the_ros_room(ROBOT_SIDE) == []
    # The plumbing's real imports are what the pattern finds.
    for name in ("node.py", "process.py", "goal_input.py", "pose_input.py", "qos.py"):
        assert ROS_IMPORT.search((room / name).read_text()), name


def test_the_ros_room_check_finds_ros_imports(tmp_path: Path) -> None:
    for line in ("import rclpy", "from rclpy.node import Node", "import rclpy.qos as qos",
                 "from geometry_msgs.msg import PoseStamped",
                 "from marlgpt_msgs.srv import SetGoal",
                 "from rcl_interfaces.msg import ParameterDescriptor",
                 "from std_srvs.srv import Empty", "from builtin_interfaces.msg import Time"):
        assert ROS_IMPORT.search(f"def f():\n    if True:\n        {line}\n"), line
    for line in ("import numpy as np", "from marlgpt_planner.lattice import Lattice",
                 "# import rclpy", "import rclpyx", "from msgs import x", "x = 'import rclpy'"):
        assert not ROS_IMPORT.search(line + "\n"), line
    package = tmp_path / "pkg"
    (package / "ros").mkdir(parents=True)
    (package / "grid.py").write_text("import numpy as np\n")
    (package / "ros" / "node.py").write_text("import rclpy\nfrom std_msgs.msg import String\n")
    assert ros_imports_outside_the_ros_room(package) == []
    (package / "lattice.py").write_text("def f():\n    from geometry_msgs.msg import Pose\n")
    (package / "tools").mkdir()
    (package / "tools" / "run.py").write_text("import rclpy\n")
    assert ros_imports_outside_the_ros_room(package) == ["lattice.py", "tools/run.py"]


#: The most methods a class of the robot runtime may have (def in the class body).
MAX_METHODS = 25


def crowded_classes(source: str, limit: int = MAX_METHODS) -> List[Tuple[str, int]]:
    """(class, number of methods) of each class in ``source`` with more than ``limit``."""
    counts = [(node.name, sum(isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))
                              for item in node.body))
              for node in ast.walk(ast.parse(source)) if isinstance(node, ast.ClassDef)]
    return [(name, count) for name, count in counts if count > limit]


def test_no_class_of_the_robot_runtime_has_more_than_25_methods() -> None:
    files = sorted(ROBOT_SIDE.rglob("*.py"))
    assert ROBOT_SIDE / "ros" / "node.py" in files and ROBOT_SIDE / "robot.py" in files
    crowded = {str(p.relative_to(ROBOT_SIDE)): crowded_classes(p.read_text()) for p in files}
    assert {path: found for path, found in crowded.items() if found} == {}


def test_the_method_count_finds_a_crowded_class() -> None:
    def source(methods: int) -> str:
        body = "".join(f"        def m{i}(self):\n            pass\n" for i in range(methods))
        return "class Outer:\n    class Crowded:\n" + body  # nested classes count too

    assert crowded_classes(source(MAX_METHODS)) == []
    assert crowded_classes(source(MAX_METHODS + 1)) == [("Crowded", MAX_METHODS + 1)]
    assert crowded_classes("class A:\n" + "".join(f"    async def m{i}(self): pass\n"
                                                    for i in range(30))) == [("A", 30)]


def test_training_and_the_simulators_do_not_import_each_other() -> None:
    """docs/architecture.md: training and marlgpt_sim both build on the robot runtime only."""
    rules = {REPO / "training" / "src": "marlgpt_sim",
             REPO / "ros2_ws" / "src" / "marlgpt_sim": "marlgpt_training"}
    offenders = []
    for root, name in rules.items():
        pattern = re.compile(rf"^\s*(import|from)\s+{name}\b", re.M)
        files = list(root.rglob("*.py"))
        assert files
        offenders += [str(p.relative_to(REPO)) for p in files if pattern.search(p.read_text())]
    assert offenders == []


def test_the_model_file_contract_has_its_own_module() -> None:
    """policy.py and tensorrt_engine.py build on model_file.py; neither imports the other at
    module level (policy loads the TensorRT runner lazily, only for that backend)."""
    engine = (ROBOT_SIDE / "tensorrt_engine.py").read_text()
    policy = (ROBOT_SIDE / "policy.py").read_text()
    assert "from marlgpt_planner.policy" not in engine
    assert "from marlgpt_planner.model_file import" in engine
    assert "from marlgpt_planner.model_file import" in policy
    top_level = [line for line in policy.splitlines() if line.startswith(("import", "from"))]
    assert not any("tensorrt_engine" in line for line in top_level)
    assert "class ModelError" in (ROBOT_SIDE / "model_file.py").read_text()
    assert "class ModelError" not in policy
