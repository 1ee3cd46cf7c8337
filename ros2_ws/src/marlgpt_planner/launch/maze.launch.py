"""The marlgpt fleet in a maze: ros2 launch marlgpt_planner maze.launch.py [robots:=4] ...

Reads the same fleet description as the fleet runner (marlgpt_planner.fleet_config) and
starts the same nodes with the same parameters: the loopback simulator and one planner per
robot (what `make demo` runs, without ros2 launch). Robots in Gazebo and real robots get their
planners elsewhere, one per robot: launch/gazebo_sim.launch.py and, on each robot,
launch/robot_bringup.launch.py; this file refuses sim:=gazebo and sim:=none, which would start
a second planner for each of them.

With no arguments it runs anywhere the package is installed: each planner draws its own goals
(goals:=generator), so the simulator needs no POGEMA; goals:=pogema puts the loopback
simulator in lock-step with POGEMA (pogema installed, as in `make demo`).
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from marlgpt_planner.fleet_config import DEFAULT_FLEET, FleetDescription

ARGUMENTS = (
    ("fleet", str(DEFAULT_FLEET), "fleet description (YAML)"),
    ("robots", "", "robot count, or comma-separated ids (default: the description's)"),
    ("namespace_prefix", "robot", "id prefix of counted robots: PREFIX1..PREFIXN"),
    ("map", "", "maze map file (POGEMA grid text; default: the description's)"),
    ("model", "", "exported .onnx model (default: the description's)"),
    ("sim", "loopback", "loopback (the only one here: Gazebo and real robots start their "
     "planners with gazebo_sim.launch.py and robot_bringup.launch.py)"),
    ("goals", "generator", "generator (each planner's own, seeded) or pogema (loopback only: "
     "POGEMA's goals in lock-step; needs pogema installed)"),
    ("log_level", "info", "ROS log level of the nodes"),
)


def nodes(context):
    value = {name: LaunchConfiguration(name).perform(context) for name, _, _ in ARGUMENTS}
    if value["sim"] != "loopback":
        raise RuntimeError(
            f"sim:={value['sim']}: the planners of Gazebo robots start with "
            "launch/gazebo_sim.launch.py, those of real robots with "
            "launch/robot_bringup.launch.py on each robot (one planner per robot); "
            "maze.launch.py runs the loopback fleet only")
    fleet = FleetDescription.load(value["fleet"], robots=value["robots"] or None,
                       model=value["model"] or None, map_path=value["map"] or None,
                       prefix=value["namespace_prefix"],
                       goals=value["goals"])
    return [Node(package=spec.package, executable=spec.executable, name=spec.name,
                 namespace=spec.namespace or None, parameters=[spec.parameters],
                 arguments=["--ros-args", "--log-level", value["log_level"]],
                 output="screen")
            for spec in fleet.nodes(value["sim"])]


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription(
        [DeclareLaunchArgument(name, default_value=default, description=text)
         for name, default, text in ARGUMENTS]
        + [OpaqueFunction(function=nodes)])
