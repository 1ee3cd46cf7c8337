"""The marlgpt fleet in a maze: ros2 launch marlgpt_planner maze.launch.py [robots:=4] ...

Reads the same fleet description as the fleet runner (marlgpt_planner.fleet_config) and
starts the same nodes with the same parameters: with sim:=loopback the loopback simulator
and one planner per robot (what `make demo` runs, without ros2 launch); with sim:=gazebo or
sim:=none only the planners, for robots simulated in Gazebo (launch/gazebo_sim.launch.py
starts its own planners through robot_bringup.launch.py) or real ones (each running
launch/robot_bringup.launch.py).

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
    ("sim", "loopback", "loopback, gazebo or none (real robots)"),
    ("goals", "generator", "generator (each planner's own, seeded) or pogema (loopback only: "
     "POGEMA's goals in lock-step; needs pogema installed)"),
    ("log_level", "info", "ROS log level of the nodes"),
)


def nodes(context):
    value = {name: LaunchConfiguration(name).perform(context) for name, _, _ in ARGUMENTS}
    fleet = FleetDescription.load(value["fleet"], robots=value["robots"] or None,
                       model=value["model"] or None, map_path=value["map"] or None,
                       prefix=value["namespace_prefix"],
                       goals=value["goals"] if value["sim"] == "loopback" else "generator")
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
