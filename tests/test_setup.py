"""The set-up scripts: prerequisite checks, the CMake path fix, the environment they build."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

sys.path.insert(0, str(REPO / "scripts"))
import fix_ros_cmake_paths  # noqa: E402


def _bin_dir_without(tmp_path: Path, missing: str) -> Path:
    """A PATH directory with what setup.sh's prerequisite check uses, less ``missing``."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    tools = {"python3.11": sys._base_executable}
    for tool in ("bash", "dirname", "cut", "tr", "cat", "sha256sum", "cmake", "g++", "make"):
        found = subprocess.run(["bash", "-c", "command -v " + tool], capture_output=True,
                               text=True).stdout.strip()
        if found:
            tools[tool] = found
    for name, target in tools.items():
        if name != missing:
            (bindir / name).symlink_to(target)
    return bindir


@pytest.mark.parametrize("missing, apt_package", [("cmake", "cmake"), ("g++", "g++")])
def test_setup_names_the_missing_prerequisite(tmp_path: Path, missing: str,
                                              apt_package: str) -> None:
    bindir = _bin_dir_without(tmp_path, missing)
    env = {"PATH": str(bindir), "HOME": str(tmp_path)}
    result = subprocess.run([str(bindir / "bash"), str(REPO / "scripts/setup.sh")], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "missing system prerequisites" in result.stderr
    assert f"apt-get install {apt_package}" in result.stderr


def test_setup_refuses_a_python_that_is_not_3_11(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHON="/nonexistent/python3.11")
    result = subprocess.run(["bash", str(REPO / "scripts/setup.sh")], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "/nonexistent/python3.11 not found" in result.stderr
    assert "python3.11-dev" in result.stderr


def test_cmake_fix_rewrites_builder_paths_once(tmp_path: Path) -> None:
    cmake = tmp_path / "share/std_msgs/cmake/export_std_msgs__rosidl_generator_pyExport.cmake"
    cmake.parent.mkdir(parents=True)
    builder = fix_ros_cmake_paths.BUILDER
    cmake.write_text(f'INTERFACE_INCLUDE_DIRECTORIES "{builder}/include/python3.11;'
                     f'{builder}/lib/python3.11/site-packages/numpy/_core/include"\n')
    assert fix_ros_cmake_paths.fix(tmp_path) == 1
    text = cmake.read_text()
    assert builder not in text
    for real in fix_ros_cmake_paths.REWRITES.values():
        assert real in text
    assert fix_ros_cmake_paths.fix(tmp_path) == 0


def test_the_venv_has_no_builder_include_paths_left() -> None:
    venv = REPO / ".venv"
    if not venv.is_dir():
        pytest.skip("no .venv: run 'make setup'")
    stale = [str(p) for p in venv.glob("share/*/cmake/*.cmake")
             if fix_ros_cmake_paths.BUILDER + "/include" in p.read_text()]
    assert stale == []
