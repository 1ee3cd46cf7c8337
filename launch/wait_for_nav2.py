#!/usr/bin/env python3
"""Wait until one robot's Nav2 is active (and give AMCL its initial pose); then exit 0.

Exits 1 if Nav2 is not active within --timeout seconds (default 120), so the launch file
does not start a planner for a robot whose navigation never came up.

Run by robot_bringup.launch.py and gazebo_sim.launch.py before the robot's planner starts,
as its own process: nav2_simple_commander's BasicNavigator spins itself, so it never runs
inside the planner's callbacks. With SLAM Toolbox (Humble: no lifecycle state) it waits on a
Nav2 lifecycle node instead of the localizer.

    wait_for_nav2.py --namespace robot1 --localizer amcl --x 0.45 --y 1.05 --yaw 0
"""
import argparse
import math
import os
import sys
import threading

import rclpy
from geometry_msgs.msg import PoseStamped
from nav2_simple_commander.robot_navigator import BasicNavigator


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--namespace", required=True, help="the robot's namespace")
    parser.add_argument("--localizer", choices=("amcl", "slam_toolbox"), default="amcl")
    parser.add_argument("--x", type=float, default=None, help="initial pose (map frame, m)")
    parser.add_argument("--y", type=float, default=None)
    parser.add_argument("--yaw", type=float, default=0.0)
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="seconds to wait for Nav2 before giving up (exit 1)")
    args, _ = parser.parse_known_args()
    # The namespace by remapping: BasicNavigator(namespace=...) exists only from Humble's
    # nav2_simple_commander 1.1.10 on; its relative names resolve in the pushed namespace.
    rclpy.init(args=["--ros-args", "-r", f"__ns:=/{args.namespace}"])
    navigator = BasicNavigator(node_name="wait_for_nav2")
    if args.localizer == "amcl" and args.x is not None:
        pose = PoseStamped()
        pose.header.frame_id = "map"
        pose.header.stamp = navigator.get_clock().now().to_msg()
        pose.pose.position.x, pose.pose.position.y = args.x, args.y
        pose.pose.orientation.z = math.sin(args.yaw / 2)
        pose.pose.orientation.w = math.cos(args.yaw / 2)
        navigator.setInitialPose(pose)
    # slam_toolbox has no lifecycle in Humble: wait on the controller server instead.
    localizer = "amcl" if args.localizer == "amcl" else "controller_server"
    # BasicNavigator.waitUntilNav2Active blocks without a time limit: run it in a daemon
    # thread and give up after --timeout.
    done = threading.Event()
    waiter = threading.Thread(target=lambda: (navigator.waitUntilNav2Active(
        navigator="bt_navigator", localizer=localizer), done.set()), daemon=True)
    waiter.start()
    if not done.wait(args.timeout):
        navigator.get_logger().error(f"{args.namespace}: Nav2 not active after "
                                     f"{args.timeout:.0f} s; the planner is not started")
        # The waiting thread may be inside rcl_wait: a normal interpreter exit can abort
        # under it, so leave at once.
        os._exit(1)
    navigator.get_logger().info(f"{args.namespace}: Nav2 is active")
    navigator.destroy_node()
    rclpy.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
