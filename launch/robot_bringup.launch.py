"""One robot's stack: its drivers, Nav2 (with SLAM Toolbox or AMCL) in its namespace, then
its planner.

    ros2 launch /ws/launch/robot_bringup.launch.py robot:=robot1 slam:=False \
        map:=/ws/maps/maze.yaml fleet:=/ws/fleet.yaml

Follows the Nav2 multi-robot convention: everything in the robot's namespace, /tf and
/tf_static remapped into it, unprefixed frames. The drivers: the lidar (rplidar_ros, scans
stamped "laser", the URDF's lidar link), odometry (odometry:=wheel, the JetBot ROS AI Kit's
motor board through marlgpt_planner's jetbot_base; odometry:=laser, rf2o_laser_odometry from
the scans, for JetBots without encoders, whose motors another node drives) and the robot's
frames (robot_state_publisher). Nav2 gets the footprint of robot_type. The planner starts only
once this robot's Nav2 is active and AMCL has its initial pose (marlgpt_planner's
wait_for_nav2, in its own process). The planner drives only this robot; the fleet description
lists the whole fleet, so every robot's planner agrees.
"""
import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import (
    DeclareLaunchArgument,
    GroupAction,
    IncludeLaunchDescription,
    LogInfo,
    OpaqueFunction,
    RegisterEventHandler,
    SetEnvironmentVariable,
    TimerAction,
)
from launch.event_handlers import OnProcessExit
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node, PushRosNamespace
from nav2_common.launch import ReplaceString, RewrittenYaml

from marlgpt_planner.fleet_config import DEFAULT_FLEET, FleetDescription
from marlgpt_planner.robot_types import nav2_footprint, robot_type
from marlgpt_planner.security_policy import robot_enclave

#: The lidar's frame: the URDF's lidar link, and the frame_id its driver is given.
LASER_FRAME = "laser"
#: s after the robot's other nodes start before rf2o does (see drivers()).
RF2O_DELAY_S = 5.0
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
    ("robot_type", "jetbot", "jetbot or burger: the footprint Nav2 plans with "
     "(marlgpt_planner/robot_types.py), or custom: params_file's own"),
    ("description", "", "robot_state_publisher with marlgpt_planner's urdf/NAME.urdf "
     "(base_footprint -> base_link -> laser), or none when something else publishes it "
     "(Gazebo); default: the robot type's"),
    ("odometry", "wheel", "wheel: jetbot_base on motor_port (JetBot ROS AI Kit, encoders); "
     "laser: rf2o_laser_odometry from the scans (a JetBot without encoders); external: "
     "something else publishes odom and odom -> base_footprint (Gazebo)"),
    ("motor_port", "/dev/ttyACM0", "the motor board's serial port (odometry:=wheel)"),
    ("lidar", "rplidar", "rplidar: start rplidar_ros on lidar_port; external: something else "
     "publishes scan, stamped laser"),
    ("lidar_port", "/dev/ttyUSB0", "the lidar's serial port"),
    ("lidar_baud", "115200", "the lidar's baud rate (RPLIDAR A1 and A2M8: 115200; A3, S1: 256000)"),
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


def drivers(robot: str, value: dict, use_sim_time: bool) -> list:
    """The lidar and odometry nodes the launch arguments ask for."""
    tf = [("/tf", "tf"), ("/tf_static", "tf_static")]
    nodes = []
    if value["lidar"] == "rplidar":
        nodes.append(Node(package="rplidar_ros", executable="rplidar_node", name="rplidar_node",
                          namespace=robot, output="screen",
                          parameters=[{"serial_port": value["lidar_port"],
                                       "serial_baudrate": int(value["lidar_baud"]),
                                       "frame_id": LASER_FRAME, "angle_compensate": True,
                                       "use_sim_time": use_sim_time}]))
    if value["odometry"] == "wheel":
        nodes.append(Node(package="marlgpt_planner", executable="jetbot_base",
                          name="jetbot_base", namespace=robot, output="screen",
                          parameters=[{"port": value["motor_port"]}], remappings=tf))
    elif value["odometry"] == "laser":
        # rf2o's defaults are absolute topics (/scan, /odom_rf2o) and wait for a ground-truth
        # pose on /base_pose_ground_truth before publishing anything: all set here. It reads
        # the lidar's mount (base_footprint <- laser) once, at its first scan, and runs on
        # with an identity if that fails: start it once robot_state_publisher's static
        # transforms have had time to arrive. 10 Hz: the RPLIDAR A1's scan rate at most.
        nodes.append(TimerAction(period=RF2O_DELAY_S, actions=[Node(
            package="rf2o_laser_odometry", executable="rf2o_laser_odometry_node",
            name="rf2o_laser_odometry", namespace=robot, output="screen",
            parameters=[{"laser_scan_topic": "scan", "odom_topic": "odom",
                         "publish_tf": True, "base_frame_id": "base_footprint",
                         "odom_frame_id": "odom", "init_pose_from_topic": "",
                         "freq": 10.0, "use_sim_time": use_sim_time}],
            remappings=tf)]))
    return nodes


def security(robot: str) -> list:
    """With ROS_SECURITY_ENABLE=true (docs/security.md): every node of this launch in the
    robot's enclave, which must be in the keystore; a clear error before anything starts
    otherwise (rcl's own is one per node, later)."""
    if os.environ.get("ROS_SECURITY_ENABLE") != "true":
        return []
    keystore = os.environ.get("ROS_SECURITY_KEYSTORE", "")
    enclave = os.environ.get("ROS_SECURITY_ENCLAVE_OVERRIDE") or robot_enclave(robot)
    folder = os.path.join(keystore, "enclaves", enclave.strip("/"))
    if enclave != robot_enclave(robot):
        raise RuntimeError(f"ROS_SECURITY_ENCLAVE_OVERRIDE={enclave} on {robot}, whose enclave "
                           f"is {robot_enclave(robot)}")
    if not keystore or not os.path.isfile(os.path.join(folder, "permissions.p7s")):
        raise RuntimeError(
            f"ROS_SECURITY_ENABLE=true, but the enclave {enclave} is not in the keystore "
            f"ROS_SECURITY_KEYSTORE={keystore!r} (no {folder}/permissions.p7s): make the fleet's "
            "keystore and unpack this robot's bundle there (docs/security.md)")
    return [SetEnvironmentVariable("ROS_SECURITY_ENCLAVE_OVERRIDE", enclave)]


def nav2_parameters(value: dict):
    """The Nav2 parameter file, with the robot type's footprint in both costmaps."""
    source = value["params_file"] or os.path.join(
        get_package_share_directory("marlgpt_planner"), "config", "nav2_maze.yaml")
    if value["robot_type"] == "custom":
        return source
    if isinstance(source, str):  # a file of the user's: the rewrite needs its footprint keys
        with open(source) as handle:
            text = handle.read()
        if text.count("footprint:") < 2:
            raise RuntimeError(
                f"params_file {source} has no footprint in both costmaps, so robot_type:="
                f"{value['robot_type']} cannot set it: add footprint: \"[]\" to each costmap, or "
                "pass robot_type:=custom to keep the file's robot_radius")
    footprint = nav2_footprint(robot_type(value["robot_type"]).footprint)
    return RewrittenYaml(source_file=source, param_rewrites={"footprint": footprint},
                         convert_types=True)


def robot_stack(context):
    value = {name: LaunchConfiguration(name).perform(context) for name, _, _ in ARGUMENTS}
    robot = value["robot"]
    for name, allowed in (("odometry", ("wheel", "laser", "external")),
                          ("lidar", ("rplidar", "external"))):
        if value[name] not in allowed:
            raise RuntimeError(f"{name}:={value[name]} is not one of {', '.join(allowed)}")
    description = value["description"] or (
        "jetbot" if value["robot_type"] == "custom"
        else robot_type(value["robot_type"]).description or "none")
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
    if not slam and not value["map"]:
        raise RuntimeError("slam:=False localizes with AMCL on a saved map: pass map:=MAP.yaml "
                           "(section 4 of docs/deploy-jetbot.md), or slam:=True to map")
    bringup = get_package_share_directory("nav2_bringup")
    nav2_arguments = {"namespace": robot, "use_namespace": "True",
                      "use_sim_time": value["use_sim_time"], "autostart": "True",
                      "use_composition": "False", "params_file": nav2_parameters(value)}
    stack = security(robot) + drivers(robot, value, value["use_sim_time"] == "True")
    if description != "none":
        urdf_path = os.path.join(get_package_share_directory("marlgpt_planner"), "urdf",
                                 description + ".urdf")
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
    # AMCL's initial pose, with a covariance, then Nav2 active: only then the planner.
    wait = Node(package="marlgpt_planner", executable="wait_for_nav2", output="screen",
                arguments=["--namespace", robot, "--localizer",
                           "slam_toolbox" if slam else "amcl", "--x", x, "--y", y,
                           "--yaw", value["yaw"]])
    if slam:  # one robot mapping: the planner reads its SLAM map (the pose stays TF's)
        parameters.update({"map.source": "topic", "map.topic": "map"})
    planner = Node(package="marlgpt_planner", executable=spec.executable, name=spec.name,
                   namespace=robot, parameters=[parameters], output="screen",
                   remappings=[("/tf", "tf"), ("/tf_static", "tf_static")])
    if value["planner"] != "True":  # mapping: Nav2 and SLAM only, the robot driven by hand
        return stack
    # The planner starts only if wait_for_nav2 succeeded (Nav2 active in time).
    start_planner = RegisterEventHandler(OnProcessExit(
        target_action=wait,
        on_exit=lambda event, context: [planner] if event.returncode == 0 else [LogInfo(
            msg=f"{robot}: Nav2 did not become active (wait_for_nav2 exit "
                f"{event.returncode}); the planner is not started")]))
    return stack + [start_planner, wait]  # the handler first, then the process it watches


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription(
        [DeclareLaunchArgument(name, default_value=default, description=text)
         for name, default, text in ARGUMENTS]
        + [OpaqueFunction(function=robot_stack)])
