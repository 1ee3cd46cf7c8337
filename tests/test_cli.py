"""The marlgpt command: help without the ROS workspace, a working stack inside it."""
import os
import subprocess

import pytest

from marlgpt_training.cli import main
from tests.conftest import REPO

MARLGPT = REPO / ".venv/bin/marlgpt"
ROS_VARS = ("AMENT_PREFIX_PATH", "CMAKE_PREFIX_PATH", "PYTHONPATH", "LD_LIBRARY_PATH",
            "COLCON_PREFIX_PATH", "MARLGPT_ENV", "VIRTUAL_ENV")


def test_help_works_without_the_sourced_workspace() -> None:
    if not MARLGPT.exists():
        pytest.skip("no .venv/bin/marlgpt: run 'make setup'")
    env = {k: v for k, v in os.environ.items() if k not in ROS_VARS}
    result = subprocess.run([str(MARLGPT), "--help"], env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert "usage: marlgpt" in result.stdout
    assert "info" in result.stdout


def test_no_command_prints_help_and_fails(capsys: pytest.CaptureFixture) -> None:
    assert main([]) == 2
    assert "usage: marlgpt" in capsys.readouterr().out


def test_info_reports_every_part_of_the_stack(capsys: pytest.CaptureFixture) -> None:
    if not os.environ.get("MARLGPT_ENV"):
        pytest.skip("needs the sourced workspace: run through scripts/run")
    code = main(["info"])
    out = capsys.readouterr().out
    assert "MISSING" not in out, out
    assert code == 0
    for name in ("torch", "pogema", "onnxruntime", "rclpy", "marlgpt_msgs.msg"):
        assert name in out
