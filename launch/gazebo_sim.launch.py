"""Several robots in a Gazebo maze, each with its own Nav2 and planner, as on real robots.

    ros2 launch /ws/launch/gazebo_sim.launch.py robots:=3 headless:=True

Generates the world from the fleet's maze (marlgpt_sim.gazebo_world: walls of 30 cm
tiles, a Nav2 map of the same maze, spawn poses at the robots' start cells), starts Gazebo
Classic (gazebo_ros, ROS 2 Humble), spawns a TurtleBot3 burger per robot in its namespace (a
JetBot stand-in of similar size), and includes robot_bringup.launch.py for each: Nav2 with
AMCL on the maze map, config/nav2_maze.yaml (30 cm corridors), then its planner.
"""
import os
import tempfile
from pathlib import Path

import xacro
import yaml
from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import (
    DeclareLaunchArgument,
    ExecuteProcess,
    GroupAction,
    IncludeLaunchDescription,
    OpaqueFunction,
    SetEnvironmentVariable,
)
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from nav2_common.launch import RewrittenYaml

from marlgpt_planner.fleet_config import DEFAULT_FLEET
from marlgpt_sim.gazebo_world import generate, namespaced_tf

HERE = os.path.dirname(os.path.abspath(__file__))
ARGUMENTS = (
    ("robots", "3", "robot count, or comma-separated ids"),
    ("fleet", str(DEFAULT_FLEET), "fleet description (YAML)"),
    ("model", "", "exported .onnx model (default: the description's)"),
    ("headless", "True", "False: also open the Gazebo client"),
    ("out", os.path.join(tempfile.gettempdir(), "marlgpt_gazebo"), "where the world goes"),
)


def simulation(context):
    value = {name: LaunchConfiguration(name).perform(context) for name, _, _ in ARGUMENTS}
    files = generate(value["fleet"], Path(value["out"]), value["robots"])
    spawn = yaml.safe_load(files["spawn"].read_text())
    robots = list(spawn)
    fleet_file = os.path.join(value["out"], "fleet.yaml")
    with open(value["fleet"]) as source:
        description = yaml.safe_load(source)
    description.update({"robots": [{"id": r, "start": spawn[r]["cell"]} for r in robots],
                        "goals": "generator",
                        "map": os.path.join(os.path.dirname(os.path.abspath(value["fleet"])),
                                            description["map"]),
                        "model": value["model"] or os.path.join(
                            os.path.dirname(os.path.abspath(value["fleet"])),
                            description["model"])})
    with open(fleet_file, "w") as target:
        yaml.safe_dump(description, target)

    gazebo_ros = get_package_share_directory("gazebo_ros")
    actions = [IncludeLaunchDescription(
        PythonLaunchDescriptionSource(os.path.join(gazebo_ros, "launch", "gzserver.launch.py")),
        launch_arguments={"world": str(files["world"])}.items())]
    if value["headless"] != "True":
        actions.append(IncludeLaunchDescription(PythonLaunchDescriptionSource(
            os.path.join(gazebo_ros, "launch", "gzclient.launch.py"))))
    tb3 = get_package_share_directory("turtlebot3_gazebo")
    model_sdf = os.path.join(tb3, "models", "turtlebot3_burger", "model.sdf")
    urdf_path = os.path.join(get_package_share_directory("turtlebot3_description"), "urdf",
                             "turtlebot3_burger.urdf")
    # turtlebot3_description >= 2.2.8 ships this file as xacro (a `namespace` argument
    # prefixing every link): run it through xacro with no prefix, since each robot's TF
    # lives in its own namespace; plain URDF passes through xacro unchanged.
    urdf = xacro.process_file(urdf_path, mappings={"namespace": ""}).toxml()
    # Nav2 parameters for 30 cm corridors (config/nav2_maze.yaml), on Gazebo's clock. Its
    # costmaps read "<robot_namespace>/scan", which nav2_bringup's bringup_launch.py resolves
    # per robot (robot_bringup.launch.py with slam:=False, as here).
    params = RewrittenYaml(
        source_file=os.path.join(get_package_share_directory("marlgpt_planner"), "config",
                                 "nav2_maze.yaml"),
        param_rewrites={"use_sim_time": "True"}, convert_types=True)
    with open(model_sdf) as handle:
        model_text = handle.read()
    for robot in robots:
        pose = spawn[robot]
        # Gazebo's drive plugin publishes odom -> base on the global /tf unless remapped.
        robot_sdf = os.path.join(value["out"], f"{robot}.sdf")
        with open(robot_sdf, "w") as handle:
            handle.write(namespaced_tf(model_text))
        actions += [
            Node(package="robot_state_publisher", executable="robot_state_publisher",
                 namespace=robot, output="screen",
                 parameters=[{"use_sim_time": True, "robot_description": urdf}],
                 remappings=[("/tf", "tf"), ("/tf_static", "tf_static")]),
            ExecuteProcess(cmd=["ros2", "run", "gazebo_ros", "spawn_entity.py", "-entity", robot,
                                "-file", robot_sdf, "-robot_namespace", robot,
                                "-x", str(pose["x"]), "-y", str(pose["y"]), "-z", "0.01",
                                "-Y", str(pose["yaw"])], output="screen"),
            # Scoped: each robot's launch arguments stay its own.
            GroupAction([IncludeLaunchDescription(
                PythonLaunchDescriptionSource(os.path.join(HERE, "robot_bringup.launch.py")),
                launch_arguments={"robot": robot, "fleet": fleet_file, "slam": "False",
                                  "robot_type": "burger",  # its footprint for Nav2
                                  "description": "none",  # robot_state_publisher above
                                  # Gazebo's lidar and drive plugins: scan, odom and TF
                                  "lidar": "external", "odometry": "external",
                                  "map": str(files["map"]), "use_sim_time": "True",
                                  "params_file": params, "backend": "cpu",
                                  "x": str(pose["x"]), "y": str(pose["y"]),
                                  "yaw": str(pose["yaw"])}.items())], scoped=True),
        ]
    return actions


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription(
        [SetEnvironmentVariable("TURTLEBOT3_MODEL", "burger")]
        + [DeclareLaunchArgument(name, default_value=default, description=text)
           for name, default, text in ARGUMENTS]
        + [OpaqueFunction(function=simulation)])
