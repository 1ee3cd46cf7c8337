"""The fleet computer's coordinator, for a fleet under the central resolution.

    ros2 launch /ws/launch/fleet_coordinator.launch.py fleet:=/ws/fleet.yaml

Starts marlgpt_planner's coordinator with the parameters the fleet description gives it (the
robots, the maze as a static grid, the fleet protocol's topics and time limits, the expert's
settings under the description's ``coordinator:`` key): the same node specification the
robots' planners are made beside (marlgpt_planner.fleet_config), so coordinator and planners
agree on the fleet and the map. The description must say ``fleet_protocol.resolution:
central`` under ``planner:``; the robots then lead their rankings with its plans and go on by
their models when it stops answering (docs/planner.md, "The central resolution"). With
ROS_SECURITY_ENABLE=true the node runs in the enclave /marlgpt/coordinator (docs/security.md).
"""
import os

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction, SetEnvironmentVariable
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from marlgpt_planner.fleet_config import DEFAULT_FLEET, FleetDescription
from marlgpt_planner.security_policy import COORDINATOR_ENCLAVE

ARGUMENTS = (
    ("fleet", str(DEFAULT_FLEET), "fleet description (YAML) with "
     "fleet_protocol.resolution: central among its planner parameters"),
    ("log_level", "info", "ROS log level of the coordinator"),
)


def security() -> list:
    """With ROS_SECURITY_ENABLE=true: the coordinator's enclave, which must be in the
    keystore (a clear error before anything starts otherwise)."""
    if os.environ.get("ROS_SECURITY_ENABLE") != "true":
        return []
    keystore = os.environ.get("ROS_SECURITY_KEYSTORE", "")
    preset = os.environ.get("ROS_SECURITY_ENCLAVE_OVERRIDE")
    if preset and preset != COORDINATOR_ENCLAVE:
        raise RuntimeError(f"ROS_SECURITY_ENCLAVE_OVERRIDE={preset} on the fleet computer, "
                           f"whose coordinator's enclave is {COORDINATOR_ENCLAVE}")
    folder = os.path.join(keystore, "enclaves", COORDINATOR_ENCLAVE.strip("/"))
    if not keystore or not os.path.isfile(os.path.join(folder, "permissions.p7s")):
        raise RuntimeError(
            f"ROS_SECURITY_ENABLE=true, but the enclave {COORDINATOR_ENCLAVE} is not in the "
            f"keystore ROS_SECURITY_KEYSTORE={keystore!r} (no {folder}/permissions.p7s): make "
            "the fleet's keystore with the central resolution in its description "
            "(docs/security.md)")
    return [SetEnvironmentVariable("ROS_SECURITY_ENCLAVE_OVERRIDE", COORDINATOR_ENCLAVE)]


def coordinator(context) -> list:
    value = {name: LaunchConfiguration(name).perform(context) for name, _, _ in ARGUMENTS}
    fleet = FleetDescription.load(value["fleet"], goals="generator")
    if not fleet.central:
        raise RuntimeError(f"{value['fleet']}: the planners do not follow a coordinator: set "
                           "fleet_protocol.resolution: central under planner: (every robot's "
                           "planner reads the same description)")
    (spec,) = [s for s in fleet.nodes("none") if s.executable == "coordinator"]
    return security() + [Node(
        package=spec.package, executable=spec.executable, name=spec.name,
        parameters=[spec.parameters], output="screen",
        arguments=["--ros-args", "--log-level", value["log_level"]])]


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription(
        [DeclareLaunchArgument(name, default_value=default, description=text)
         for name, default, text in ARGUMENTS]
        + [OpaqueFunction(function=coordinator)])
