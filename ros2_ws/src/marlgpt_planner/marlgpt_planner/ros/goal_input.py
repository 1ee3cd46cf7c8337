"""One robot's goals from outside: the ``marlgpt/goal`` and ``marlgpt/goal_pose`` topics and
the ``set_goal`` service, in the robot's namespace (docs/planner.md, "Goals").

``marlgpt/goal`` (``marlgpt_msgs/Goal``): the next cell of the robot's series, numbered;
``marlgpt/goal_pose`` (``geometry_msgs/PoseStamped``, e.g. RViz's 2D Goal Pose): the cell
holding that point becomes the goal now; ``set_goal`` (``marlgpt_msgs/SetGoal``): a cell
becomes the goal now, and the answer says whether it was taken. Every goal passes the robot's
:class:`~marlgpt_planner.goals.Goals` check; a refused one is logged and the robot keeps its
goal. ``on_goal()`` runs after a goal arrived on a topic (the step may go on).
"""
import math
from typing import Callable

from geometry_msgs.msg import PoseStamped

from marlgpt_msgs.msg import Goal
from marlgpt_msgs.srv import SetGoal
from marlgpt_planner.endpoints import GOAL_POSE_TOPIC, GOAL_TOPIC, SET_GOAL_SERVICE, robot_topic
from marlgpt_planner.robot import Robot
from marlgpt_planner.ros.qos import GOAL_QOS


class GoalInput:
    """The subscriptions and the service taking one robot's goals (see the module doc); it
    logs, with ``node``'s logger, every goal the robot's goals refuse."""

    def __init__(self, node, robot: Robot, on_goal: Callable[[], None]) -> None:
        self.robot, self.on_goal = robot, on_goal
        self.logger = node.get_logger()
        robot.goals.refused = self.refused
        node.create_subscription(Goal, robot_topic(robot.id, GOAL_TOPIC), self._on_goal,
                                 GOAL_QOS)
        node.create_subscription(PoseStamped, robot_topic(robot.id, GOAL_POSE_TOPIC),
                                 self._on_goal_pose, GOAL_QOS)
        node.create_service(SetGoal, robot_topic(robot.id, SET_GOAL_SERVICE), self._on_set_goal)

    def refused(self, cell, why: str) -> None:
        self.logger.warning(f"{self.robot.id}: goal {cell} refused: {why}; keeping goal "
                            f"{self.robot.goals.current}")

    def _on_goal(self, msg: Goal) -> None:
        if msg.robot_id and msg.robot_id != self.robot.id:
            return
        self.robot.goals.offer(msg.sequence, (msg.cell.row, msg.cell.col))
        self.on_goal()

    def _on_goal_pose(self, msg: PoseStamped) -> None:
        """A goal in metres (e.g. RViz's 2D Goal Pose): the cell holding it."""
        x, y = msg.pose.position.x, msg.pose.position.y
        if not (math.isfinite(x) and math.isfinite(y)):
            self.robot.goals.refused((x, y), "the goal pose is not finite")
            return
        self.robot.goals.replace(self.robot.lattice.cell_at(x, y))
        self.on_goal()

    def _on_set_goal(self, request, response):
        if request.robot_id and request.robot_id != self.robot.id:
            response.accepted, response.message = False, f"this is {self.robot.id}'s service"
            return response
        reason = self.robot.goals.replace((request.goal.row, request.goal.col))
        response.accepted, response.message = reason is None, reason or ""
        return response
