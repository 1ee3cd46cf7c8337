"""The repository keeps the design's layout, and CI runs the README's test command."""
import re

from tests.conftest import REPO

LAYOUT = ("ros2_ws/src/marlgpt_planner/package.xml", "ros2_ws/src/marlgpt_msgs/package.xml",
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
