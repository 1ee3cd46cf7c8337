"""A ROS 2 peer process for the interface tests: answers the fleet protocol over real DDS.

It subscribes each robot's ``fleet/state/ROBOT`` (marlgpt_msgs/RobotState; --robots, default
robot1) and, for each state, publishes on ``fleet/step`` (marlgpt_msgs/FleetStep) the robot's
move from its current to its intended cell; it serves ``set_goal`` (marlgpt_msgs/SetGoal),
accepting cells inside a ROWS x COLS grid. It exits by itself after --lifetime seconds.
"""
import argparse
import time

import rclpy
from rclpy.node import Node

from marlgpt_msgs.msg import FleetStep, RobotState
from marlgpt_msgs.srv import SetGoal

ROWS, COLS = 10, 12


class FleetPeer(Node):
    def __init__(self, robots) -> None:
        super().__init__("fleet_peer")
        self._steps = self.create_publisher(FleetStep, "fleet/step", 10)
        for robot in robots:
            self.create_subscription(RobotState, f"fleet/state/{robot}", self._on_state, 10)
        self.create_service(SetGoal, "set_goal", self._on_set_goal)

    def _on_state(self, state: RobotState) -> None:
        step = FleetStep()
        step.header.stamp = self.get_clock().now().to_msg()
        step.header.frame_id = state.header.frame_id
        step.step = state.step
        step.robot_ids = [state.robot_id]
        step.from_cells = [state.current_cell]
        step.to_cells = [state.intended_cell]
        step.moved = [state.intended_cell != state.current_cell]
        self._steps.publish(step)

    def _on_set_goal(self, request: SetGoal.Request, response: SetGoal.Response):
        inside = 0 <= request.goal.row < ROWS and 0 <= request.goal.col < COLS
        response.accepted = inside
        response.message = "" if inside else (
            f"cell ({request.goal.row}, {request.goal.col}) is outside the {ROWS}x{COLS} grid")
        return response


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lifetime", type=float, default=60.0)
    parser.add_argument("--robots", default="robot1", help="comma-separated robot ids")
    args = parser.parse_args()
    rclpy.init()
    node = FleetPeer(args.robots.split(","))
    deadline = time.monotonic() + args.lifetime
    print("fleet_peer ready", flush=True)
    try:
        while rclpy.ok() and time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.1)
    except KeyboardInterrupt:
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
