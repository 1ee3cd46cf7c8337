"""docker/jetbot/slam_toolbox_without_rviz.py on a small stand-in of SLAM Toolbox 2.6's files."""
import subprocess
import sys

from tests.conftest import REPO

SCRIPT = REPO / "docker" / "jetbot" / "slam_toolbox_without_rviz.py"
CMAKE = """cmake_minimum_required(VERSION 3.5)
project(slam_toolbox)
find_package(ament_cmake REQUIRED)
find_package(rviz_common REQUIRED)
find_package(rviz_default_plugins REQUIRED)
find_package(Qt5 REQUIRED COMPONENTS Core Gui Widgets)
set(dependencies
  rclcpp
  rviz_common
  Qt5
)
set(libraries
  toolbox_common
  SlamToolboxPlugin
)
#### rviz Plugin
add_library(SlamToolboxPlugin SHARED rviz_plugin/slam_toolbox_rviz_plugin.cpp)
ament_target_dependencies(SlamToolboxPlugin ${dependencies})
#### Tool lib for mapping
add_library(toolbox_common src/slam_toolbox_common.cpp)
install(TARGETS SlamToolboxPlugin
  EXPORT SlamToolboxPlugin
  LIBRARY DESTINATION lib
)

install(FILES solver_plugins.xml
  rviz_plugins.xml
  DESTINATION share
)
ament_export_targets(SlamToolboxPlugin HAS_LIBRARY_TARGET)
ament_package()
"""
PACKAGE = """<package format="3">
  <name>slam_toolbox</name>
  <depend>rclcpp</depend>
  <depend>rviz_common</depend>
  <build_depend>qtbase5-dev</build_depend>
  <exec_depend>libqt5-core</exec_depend>
  <export>
    <build_type>ament_cmake</build_type>
    <rviz_common plugin="${prefix}/rviz_plugins.xml"/>
  </export>
</package>
"""


def run(directory):
    return subprocess.run([sys.executable, str(SCRIPT), str(directory)], capture_output=True,
                          text=True, timeout=30)


def test_the_panel_and_its_dependencies_are_removed_and_the_rest_kept(tmp_path) -> None:
    (tmp_path / "CMakeLists.txt").write_text(CMAKE)
    (tmp_path / "package.xml").write_text(PACKAGE)
    result = run(tmp_path)
    assert result.returncode == 0, result.stderr
    cmake = (tmp_path / "CMakeLists.txt").read_text()
    package = (tmp_path / "package.xml").read_text()
    for gone in ("rviz", "Qt5", "SlamToolboxPlugin"):
        assert gone not in cmake
    assert "rviz" not in package and "qt" not in package
    for kept in ("toolbox_common", "rclcpp", "solver_plugins.xml", "ament_package()"):
        assert kept in cmake
    assert "<depend>rclcpp</depend>" in package


def test_another_layout_is_refused_before_anything_is_written(tmp_path) -> None:
    (tmp_path / "CMakeLists.txt").write_text("project(other)\nament_package()\n")
    (tmp_path / "package.xml").write_text(PACKAGE)
    result = run(tmp_path)
    assert result.returncode != 0 and "is this SLAM Toolbox 2.6.x" in result.stderr
    assert (tmp_path / "package.xml").read_text() == PACKAGE  # untouched
