"""One robot's stack: Nav2 (with SLAM Toolbox or AMCL) in its namespace, then its planner.

    ros2 launch /ws/launch/robot_bringup.launch.py robot:=robot1 slam:=False \
        map:=/ws/maps/maze.yaml fleet:=/ws/fleet.yaml

Follows the Nav2 multi-robot convention: everything in the robot's namespace, /tf and
/tf_static remapped into it, unprefixed frames. The planner starts only once this robot's Nav2
is active (wait_for_nav2.py, nav2_simple_commander in its own process). The planner drives only
this robot; the fleet description lists the whole fleet, so every robot's planner agrees.
"""
import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import (
    DeclareLaunchArgument,
    ExecuteProcess,
    GroupAction,
    IncludeLaunchDescription,
    LogInfo,
    OpaqueFunction,
    RegisterEventHandler,
)
from launch.event_handlers import OnProcessExit
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node, PushRosNamespace
from nav2_common.launch import ReplaceString, RewrittenYaml

from marlgpt_planner.fleet_config import DEFAULT_FLEET, FleetDescription

HERE = os.path.dirname(os.path.abspath(__file__))
ARGUMENTS = (
    ("robot", "robot1", "this robot's id and namespace"),
    ("fleet", str(DEFAULT_FLEET), "fleet description (YAML), the same on every robot"),
    ("model", "", "exported model: .onnx, or a TensorRT .engine (default: the description's)"),
    ("backend", "auto", "policy backend: auto, cpu, cuda, ort-tensorrt, tensorrt"),
    ("slam", "False", "True: SLAM Toolbox maps while driving; False: AMCL on map"),
    ("map", "", "Nav2 map YAML for AMCL (slam:=False)"),
    ("params_file", "", "Nav2 parameters (default: marlgpt_planner's config/nav2_maze.yaml, "
     "30 cm corridors)"),
    ("planner", "True", "False: Nav2 (and SLAM) only, no planner: for mapping with teleop"),
    ("description", "jetbot", "robot_state_publisher with marlgpt_planner's urdf/NAME.urdf "
     "(base_footprint -> base_link -> laser), or none when something else publishes it "
     "(Gazebo)"),
    ("use_sim_time", "False", "use the /clock of a simulator"),
    ("x", "", "initial pose x for AMCL (m, map frame; default: the robot's start cell)"),
    ("y", "", "initial pose y"),
    ("yaw", "0.0", "initial heading (rad)"),
)


def plain_urdf(path: str) -> str:
    """The file's text if it is plain URDF; a clear error for xacro (the robot image has no
    xacro: expand it on a development machine first)."""
    with open(path) as handle:
        text = handle.read()
    if "xacro:" in text.replace('xmlns:xacro="http://ros.org/wiki/xacro"', "") or "${" in text:
        raise RuntimeError(f"{path} is xacro, not plain URDF: expand it with `xacro {path} > "
                           "robot.urdf` and pass that file")
    return text


def robot_stack(context):
    value = {name: LaunchConfiguration(name).perform(context) for name, _, _ in ARGUMENTS}
    robot = value["robot"]
    fleet = FleetDescription.load(value["fleet"], model=value["model"] or None, goals="generator")
    if robot not in fleet.ids:
        raise RuntimeError(f"robot {robot!r} is not in the fleet {fleet.ids}")
    (spec,) = [s for s in fleet.nodes("none") if s.namespace == robot]
    parameters = dict(spec.parameters, **{"model.backend": value["backend"],
                                          "use_sim_time": value["use_sim_time"] == "True"})
    start = dict(zip(fleet.ids, [r.start for r in fleet.robots]))[robot]
    lattice = fleet.lattice()
    x = value["x"] or str(lattice.centre(start)[0])
    y = value["y"] or str(lattice.centre(start)[1])
    slam = value["slam"] == "True"
    bringup = get_package_share_directory("nav2_bringup")
    nav2_arguments = {"namespace": robot, "use_namespace": "True",
                      "use_sim_time": value["use_sim_time"], "autostart": "True",
                      "use_composition": "False",
                      "params_file": value["params_file"] or os.path.join(
                          get_package_share_directory("marlgpt_planner"), "config",
                          "nav2_maze.yaml")}
    stack = []
    if value["description"] != "none":
        urdf_path = os.path.join(get_package_share_directory("marlgpt_planner"), "urdf",
                                 value["description"] + ".urdf")
        description = plain_urdf(urdf_path)
        stack.append(Node(package="robot_state_publisher", executable="robot_state_publisher",
                          namespace=robot, output="screen",
                          parameters=[{"robot_description": description,
                                       "use_sim_time": value["use_sim_time"] == "True"}],
                          remappings=[("/tf", "tf"), ("/tf_static", "tf_static")]))
    if slam:
        # Navigation only, plus SLAM Toolbox started here: it publishes an absolute /map,
        # which must be remapped into the robot's namespace for a fleet to share a domain.
        # navigation_launch.py does not namespace its nodes itself (bringup_launch.py does),
        # nor does it replace <robot_namespace> in the costmaps' scan topics: do both here.
        nav2_arguments["params_file"] = ReplaceString(
            source_file=nav2_arguments["params_file"],
            replacements={"<robot_namespace>": "/" + robot})
        stack.append(GroupAction([PushRosNamespace(robot), IncludeLaunchDescription(
            PythonLaunchDescriptionSource(os.path.join(bringup, "launch",
                                                       "navigation_launch.py")),
            launch_arguments=nav2_arguments.items())]))
        # The config's top key is "slam_toolbox"; the namespaced node needs it under the robot.
        slam_params = RewrittenYaml(
            source_file=os.path.join(get_package_share_directory("slam_toolbox"), "config",
                                     "mapper_params_online_async.yaml"),
            root_key=robot, param_rewrites={}, convert_types=True)
        stack.append(Node(package="slam_toolbox", executable="async_slam_toolbox_node",
                          name="slam_toolbox", namespace=robot, output="screen",
                          parameters=[slam_params,
                                      {"use_sim_time": value["use_sim_time"] == "True"}],
                          remappings=[("/map", "map"), ("/map_metadata", "map_metadata"),
                                      ("/tf", "tf"), ("/tf_static", "tf_static"),
                                      ("/scan", "scan")]))
    else:
        nav2_arguments.update({"slam": "False", "map": value["map"]})
        stack.append(IncludeLaunchDescription(
            PythonLaunchDescriptionSource(os.path.join(bringup, "launch", "bringup_launch.py")),
            launch_arguments=nav2_arguments.items()))
    wait = ExecuteProcess(
        cmd=["python3", os.path.join(HERE, "wait_for_nav2.py"), "--namespace", robot,
             "--localizer", "slam_toolbox" if slam else "amcl", "--x", x, "--y", y,
             "--yaw", value["yaw"]],
        output="screen")
    if slam:  # one robot mapping: the planner reads its SLAM map (the pose stays TF's)
        parameters.update({"map.source": "topic", "map.topic": "map"})
    planner = Node(package="marlgpt_planner", executable=spec.executable, name=spec.name,
                   namespace=robot, parameters=[parameters], output="screen",
                   remappings=[("/tf", "tf"), ("/tf_static", "tf_static")])
    if value["planner"] != "True":  # mapping: Nav2 and SLAM only, the robot driven by hand
        return stack
    # The planner starts only if wait_for_nav2.py succeeded (Nav2 active in time).
    start_planner = RegisterEventHandler(OnProcessExit(
        target_action=wait,
        on_exit=lambda event, context: [planner] if event.returncode == 0 else [LogInfo(
            msg=f"{robot}: Nav2 did not become active (wait_for_nav2.py exit "
                f"{event.returncode}); the planner is not started")]))
    return stack + [start_planner, wait]  # the handler first, then the process it watches


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription(
        [DeclareLaunchArgument(name, default_value=default, description=text)
         for name, default, text in ARGUMENTS]
        + [OpaqueFunction(function=robot_stack)])
