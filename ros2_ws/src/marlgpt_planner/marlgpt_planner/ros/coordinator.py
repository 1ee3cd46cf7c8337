"""The fleet coordinator node: every robot's states -> the expert's plan of each fleet step.

Runs on a fleet computer beside planners under ``fleet_protocol.resolution: central``
(``ros2 run marlgpt_planner coordinator``; ``maze.launch.py`` and the fleet runner start it
for such a fleet). Wiring only: parameters (:data:`~marlgpt_planner.parameters.
COORDINATOR_PARAMETERS`, checked before anything starts), the robots' state topics, the step
topic (robots reported lost), the map, and the plan topic; what it plans is
:class:`~marlgpt_planner.coordinator.Coordinator`. The expert's library is built before the
node joins the fleet, so the first plan is not late.
"""
import time
import traceback

from nav_msgs.msg import OccupancyGrid
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node

from marlgpt_msgs.msg import FleetPlan, FleetStep, RobotState
from marlgpt_planner.coordinator import Coordinator
from marlgpt_planner.endpoints import state_topic
from marlgpt_planner.expert import native
from marlgpt_planner.grid import grid_digest, parse_grid
from marlgpt_planner.lattice import Lattice, MapError
from marlgpt_planner.parameters import (
    COORDINATOR_PARAMETERS,
    ParameterError,
    expert_settings,
    validate,
)
from marlgpt_planner.ros import messages
from marlgpt_planner.ros.process import run_node, write_json
from marlgpt_planner.ros.qos import FLEET_QOS, LATCHED


class CoordinatorNode(Node):
    def __init__(self) -> None:
        super().__init__("marlgpt_coordinator")
        any_type = ParameterDescriptor(dynamic_typing=True)  # types are checked by validate()
        for name, default in COORDINATOR_PARAMETERS:
            self.declare_parameter(name, default, any_type)
        self.params = p = validate({name: self.get_parameter(name).value
                                    for name, _ in COORDINATOR_PARAMETERS},
                                   COORDINATOR_PARAMETERS)
        if not p["fleet"]:
            raise ParameterError(["fleet: got []; the coordinator needs the fleet's robot ids"])
        self.lattice = Lattice(p["lattice.origin"][0], p["lattice.origin"][1],
                               p["lattice.cell_size"], p["lattice.rows"], p["lattice.cols"],
                               p["lattice.yaw"])
        native.load()  # compile the expert now (once per source version), not at step 1
        self.coordinator = Coordinator(p["fleet"], p["fleet_protocol.lost_after"],
                                       p["fleet_protocol.startup_timeout"], **expert_settings(p))
        self.coordinator.fleet.start_waiting(p["fleet"], time.monotonic())
        for robot_id in p["fleet"]:
            self.create_subscription(RobotState, state_topic(p, robot_id),
                                     lambda msg, r=robot_id: self._on_state(msg, r), FLEET_QOS)
        self.create_subscription(FleetStep, p["fleet_protocol.step_topic"], self._on_step,
                                 FLEET_QOS)
        self.plan_pub = self.create_publisher(FleetPlan, p["fleet_protocol.plan_topic"],
                                              FLEET_QOS)
        if p["map.source"] == "static":
            self._set_map(parse_grid(p["map.static"]))
        else:
            self.create_subscription(OccupancyGrid, p["map.topic"], self._on_map, LATCHED)
        self.create_timer(1.0 / p["tick_rate"], self._poll)
        self.get_logger().info(
            f"planning a fleet of {len(p['fleet'])} with the expert "
            f"({', '.join(f'{k} {v}' for k, v in expert_settings(p).items())}); plans on "
            f"{p['fleet_protocol.plan_topic']}")

    def _set_map(self, obstacles) -> None:
        if obstacles.shape != (self.lattice.rows, self.lattice.cols):
            raise MapError(f"the map is {obstacles.shape[0]}x{obstacles.shape[1]} cells, the "
                           f"lattice {self.lattice.rows}x{self.lattice.cols}")
        self.coordinator.set_map(obstacles, grid_digest(obstacles))

    def _on_map(self, msg: OccupancyGrid) -> None:
        try:
            self._set_map(messages.obstacles(msg, self.lattice, self.params))
        except MapError as exc:
            self.get_logger().warning(f"map ignored: {exc}")
        self._poll()

    def _on_state(self, msg: RobotState, topic_robot: str) -> None:
        if msg.robot_id != topic_robot:
            return  # only the robot's own states belong on its topic
        self.coordinator.receive(messages.report(msg), time.monotonic())
        self._poll()

    def _on_step(self, msg: FleetStep) -> None:
        self.coordinator.mark_lost(msg.lost_robot_ids)

    def _poll(self) -> None:
        try:
            plans = self.coordinator.poll(time.monotonic())
        except ValueError as exc:  # the expert refused the fleet's state: no plan this step
            self.get_logger().error(f"no plan for step {self.coordinator.fleet.step}: {exc}\n"
                                    + traceback.format_exc(limit=3))
            return
        for plan in plans:
            self.plan_pub.publish(messages.fleet_plan(plan, self.get_clock().now().to_msg()))
            if plan.step % 50 == 0:
                self.write_stats()

    def write_stats(self) -> None:
        if not self.params["stats_file"]:
            return
        write_json(self.params["stats_file"], self.coordinator.stats())


def main(args=None) -> None:
    run_node(CoordinatorNode, "marlgpt_coordinator", errors=(MapError, ValueError),
             on_exit=lambda node: node.write_stats(), args=args)


if __name__ == "__main__":
    main()
