"""The packages work installed as images install them: colcon without --symlink-install."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

PROBE = """
import json, sys
from pathlib import Path
from marlgpt_planner import fleet_config
fleet = fleet_config.FleetDescription.load()
specs = fleet.nodes("loopback")
old_guess = Path(fleet_config.__file__).resolve().parent.parent / "config" / "fleet_maze.yaml"
print(json.dumps({"module": fleet_config.__file__, "default": str(fleet_config.DEFAULT_FLEET),
                  "model": str(fleet.model), "model_exists": fleet.model.is_file(),
                  "map_exists": fleet.map_path.is_file(), "nodes": len(specs),
                  "old_guess_exists": old_guess.is_file()}))
"""


@pytest.fixture(scope="module")
def install(tmp_path_factory) -> Path:
    if shutil.which("colcon") is None and not (Path(sys.executable).parent / "colcon").exists():
        pytest.fail("colcon is not installed in the environment (make setup installs it)")
    root = tmp_path_factory.mktemp("ws")
    colcon = str(Path(sys.executable).parent / "colcon")
    run = subprocess.run(
        [colcon, "--log-base", str(root / "log"), "build", "--base-paths",
         str(REPO / "ros2_ws" / "src" / "marlgpt_planner"), "--build-base", str(root / "build"),
         "--install-base", str(root / "install"), "--event-handlers", "console_cohesion-"],
        cwd=root, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    return root / "install"


def test_the_default_fleet_resolves_in_an_install_without_symlinks(install: Path) -> None:
    site = next(install.glob("marlgpt_planner/lib/python3*/site-packages"))
    share = install / "marlgpt_planner" / "share" / "marlgpt_planner"
    env = dict(os.environ, PYTHONPATH=f"{site}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
               AMENT_PREFIX_PATH=f"{install / 'marlgpt_planner'}{os.pathsep}"
               f"{os.environ.get('AMENT_PREFIX_PATH', '')}")
    run = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, run.stderr[-3000:]
    found = json.loads(run.stdout.strip().splitlines()[-1])
    assert found["module"].startswith(str(site))  # the installed copy, not the sources
    assert found["default"] == str(share / "config" / "fleet_maze.yaml")
    assert found["model_exists"] and found["map_exists"] and found["nodes"] == 5
    # What a path next to the module would have given there: nothing (the old bug).
    assert not found["old_guess_exists"]
    for path in ("launch/maze.launch.py", "config/planner.yaml", "models/marlgpt.onnx",
                 "config/maps/maze_17x17.txt"):
        assert (share / path).is_file(), path
    for module in ("ros/__init__.py", "ros/node.py", "ros/goal_input.py"):  # sub-packages too
        assert (site / "marlgpt_planner" / module).is_file(), module
