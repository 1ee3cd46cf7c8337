"""Wait until one robot's Nav2 is active, giving AMCL its initial pose on the way; exit 0.

    wait_for_nav2 --namespace robot1 --localizer amcl --x 0.45 --y 1.05 --yaw 0

Run by robot_bringup.launch.py before the robot's planner starts (the planner starts only if
this exits 0); exits 1 if Nav2 is not active within ``--timeout`` seconds. It reads Nav2's
lifecycle states through each node's ``get_state`` service and publishes AMCL's initial pose
itself, on ``initialpose`` with a covariance (``--sigma-xy``, ``--sigma-yaw``): AMCL spreads
its particles by that covariance, so a robot placed a few centimetres or degrees off its
start tile still converges. (nav2_simple_commander's setInitialPose sends a zero covariance,
which starts every particle on one pose.) AMCL ignores an initial pose until it is active, so
the pose is sent once AMCL is, and again every second until AMCL answers on ``amcl_pose``.
With SLAM Toolbox (no lifecycle in Humble, no initial pose) it waits for the controller
server instead. Needs only rclpy, lifecycle_msgs and geometry_msgs (no Nav2 Python package).
"""
import argparse
import math
import sys
import time
from typing import List, Optional

import rclpy
from geometry_msgs.msg import PoseWithCovarianceStamped
from lifecycle_msgs.msg import State
from lifecycle_msgs.srv import GetState
from rclpy.node import Node

from marlgpt_planner.ros.qos import AMCL_POSE_QOS
from marlgpt_planner.transforms import planar_covariance

#: What a robot placed by hand on its start tile is off by: a sixth of a 30 cm tile and about
#: 15 degrees, one standard deviation each.
SIGMA_XY = 0.05
SIGMA_YAW = 0.25


def arguments(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="wait_for_nav2", description=__doc__.split("\n\n")[0])
    parser.add_argument("--namespace", required=True, help="the robot's namespace")
    parser.add_argument("--localizer", choices=("amcl", "slam_toolbox"), default="amcl")
    parser.add_argument("--x", type=float, default=None,
                        help="initial pose x (map frame, m); none: AMCL keeps its own")
    parser.add_argument("--y", type=float, default=None, help="initial pose y (m)")
    parser.add_argument("--yaw", type=float, default=0.0, help="initial heading (rad)")
    parser.add_argument("--sigma-xy", type=float, default=SIGMA_XY,
                        help="initial pose's standard deviation in x and y (m, > 0)")
    parser.add_argument("--sigma-yaw", type=float, default=SIGMA_YAW,
                        help="initial pose's standard deviation in heading (rad, > 0)")
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="seconds to wait for Nav2 before giving up (exit 1)")
    args, _ = parser.parse_known_args(argv)  # launch appends --ros-args
    if (args.x is None) != (args.y is None):
        parser.error("--x and --y go together")
    try:
        planar_covariance(args.sigma_xy, args.sigma_yaw)
    except ValueError as exc:
        parser.error(str(exc))
    return args


def initial_pose(args: argparse.Namespace) -> PoseWithCovarianceStamped:
    """The start pose with its covariance. Stamp 0: AMCL then places it with the newest
    odometry, whatever clock (wall or simulated) the robot runs on."""
    msg = PoseWithCovarianceStamped()
    msg.header.frame_id = "map"
    msg.pose.pose.position.x, msg.pose.pose.position.y = args.x, args.y
    msg.pose.pose.orientation.z = math.sin(args.yaw / 2)
    msg.pose.pose.orientation.w = math.cos(args.yaw / 2)
    msg.pose.covariance = planar_covariance(args.sigma_xy, args.sigma_yaw)
    return msg


class Nav2Waiter(Node):
    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__("wait_for_nav2")
        self.args = args
        self.localized = args.localizer != "amcl" or args.x is None
        self.pose_pub = self.create_publisher(PoseWithCovarianceStamped, "initialpose", 10)
        self.create_subscription(PoseWithCovarianceStamped, "amcl_pose", self._on_amcl_pose,
                                 AMCL_POSE_QOS)
        self.clients_ = {}

    def _on_amcl_pose(self, _msg: PoseWithCovarianceStamped) -> None:
        self.localized = True

    def active(self, name: str) -> bool:
        """Whether lifecycle node ``name`` (in this namespace) reports active; waits at most
        a second for the answer."""
        client = self.clients_.get(name) or self.clients_.setdefault(
            name, self.create_client(GetState, f"{name}/get_state"))
        if not client.service_is_ready():
            return False
        future = client.call_async(GetState.Request())
        rclpy.spin_until_future_complete(self, future, timeout_sec=1.0)
        result = future.result() if future.done() else None
        return result is not None and result.current_state.id == State.PRIMARY_STATE_ACTIVE

    def wait(self, deadline: float) -> Optional[str]:
        """None once Nav2 is active (and AMCL localized); else what it still waits for."""
        stages = (["amcl", "bt_navigator"] if self.args.localizer == "amcl"
                  else ["controller_server", "bt_navigator"])
        for stage in stages:
            while not self.active(stage):
                if time.monotonic() > deadline:
                    return f"{stage} not active"
                rclpy.spin_once(self, timeout_sec=0.5)
            while stage == "amcl" and not self.localized:
                if time.monotonic() > deadline:
                    return ("no amcl_pose after the initial pose: are scans arriving, with "
                            "odom -> base_footprint on TF?")
                self.pose_pub.publish(initial_pose(self.args))
                end = time.monotonic() + 1.0
                while not self.localized and time.monotonic() < end:
                    rclpy.spin_once(self, timeout_sec=0.1)
        return None


def main(argv: Optional[List[str]] = None) -> int:
    args = arguments(argv)
    rclpy.init(args=["--ros-args", "-r", f"__ns:=/{args.namespace.strip('/')}"])
    node = Nav2Waiter(args)
    try:
        missing = node.wait(time.monotonic() + args.timeout)
        if missing is not None:
            node.get_logger().error(f"{args.namespace}: Nav2 not ready after "
                                    f"{args.timeout:.0f} s ({missing}); the planner is not "
                                    "started")
            return 1
        node.get_logger().info(f"{args.namespace}: Nav2 is active")
        return 0
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    sys.exit(main())
