"""Bad goals for a running fleet: what an operator or a buggy tool might send.

``fleet_runner --inject-bad-goals N`` (and the fleet tests) send N goals that every planner
must refuse while the fleet keeps running, through every way a goal arrives: the
``ROBOT/marlgpt/goal`` topic, the ``ROBOT/set_goal`` service and the ``ROBOT/marlgpt/goal_pose``
topic (metres, as RViz's 2D Goal Pose sends). They cycle through cells outside the lattice,
walls, cells a lost robot holds (once a robot is lost) and a NaN pose.
"""
import math
import time
from typing import Dict, List, NamedTuple, Optional, Tuple

import numpy as np

Cell = Tuple[int, int]
#: Far beyond any goal sequence a simulator sends, so a goal that were taken would stay queued.
SEQUENCE = 2 ** 31


class BadGoal(NamedTuple):
    robot: str
    kind: str  # off-map, wall, lost-robot, nan
    via: str  # topic, service, pose
    cell: Optional[Cell]


def bad_goal(index: int, robots: List[str], obstacles: np.ndarray, lost_cells: List[Cell],
             rng: np.random.Generator) -> BadGoal:
    """Bad goal number ``index``: robots, kinds and ways taken in turn."""
    rows, cols = obstacles.shape
    kinds = ["off-map", "wall", "nan"] + (["lost-robot"] if lost_cells else [])
    kind = kinds[index % len(kinds)]
    via = "pose" if kind == "nan" else ("topic", "service")[(index // len(kinds)) % 2]
    if kind == "off-map":
        cell = [(-1, int(rng.integers(cols))), (rows + 2, 0), (0, -3),
                (int(rng.integers(rows)), cols)][index % 4]
    elif kind == "wall":
        walls = np.argwhere(obstacles)
        cell = tuple(int(v) for v in walls[int(rng.integers(len(walls)))])
    elif kind == "lost-robot":
        cell = lost_cells[index % len(lost_cells)]
    else:
        cell = None
    return BadGoal(robots[index % len(robots)], kind, via, cell)


class Injector:
    """Sends bad goals from an rclpy ``node``, one per call of :meth:`send_next`."""

    def __init__(self, node, robots: List[str], obstacles: np.ndarray, count: int) -> None:
        from geometry_msgs.msg import PoseStamped

        from marlgpt_msgs.msg import Goal
        from marlgpt_msgs.srv import SetGoal
        from marlgpt_planner.ros.qos import GOAL_QOS

        self.node, self.robots, self.obstacles, self.count = node, robots, obstacles, count
        self._types = (Goal, PoseStamped, SetGoal)
        self.goal_pubs = {r: node.create_publisher(Goal, f"/{r}/marlgpt/goal", GOAL_QOS)
                          for r in robots}
        self.pose_pubs = {r: node.create_publisher(PoseStamped, f"/{r}/marlgpt/goal_pose",
                                                   GOAL_QOS) for r in robots}
        self.clients = {r: node.create_client(SetGoal, f"/{r}/set_goal") for r in robots}
        self.sent: List[BadGoal] = []
        self.answers: Dict[int, Tuple[bool, str]] = {}  # index in sent -> service reply
        self.sent_at = -math.inf  # time.monotonic() of the last one
        self.rng = np.random.default_rng(0)
        self._futures = []
        self._finished = 0  # service calls whose answer (or failure) has come back

    @property
    def done(self) -> bool:
        return len(self.sent) >= self.count

    def settled(self, logs: Dict[str, str]) -> bool:
        """All sent, every set_goal call answered, and as many refusals in the planners'
        ``logs`` (robot -> log text) as goals sent: the planners have dealt with every bad
        goal, however long that took (wait for this, not for a fixed time)."""
        return (self.done and self._finished == len(self._futures)
                and refusals(logs) >= len(self.sent))

    def ready(self, goal: BadGoal) -> bool:
        """Whether the robot's planner can hear ``goal`` yet: its service found, or its goal
        topic matched (a request sent before discovery is lost, not refused)."""
        if goal.via == "service":
            return self.clients[goal.robot].service_is_ready()
        publisher = (self.goal_pubs if goal.via == "topic" else self.pose_pubs)[goal.robot]
        return publisher.get_subscription_count() > 0

    def send_next(self, live: List[str], lost_cells: List[Cell]) -> Optional[BadGoal]:
        """Send the next bad goal to one of the ``live`` robots (None: nothing sent, all sent
        or its planner not discovered yet; call again)."""
        if self.done or not live:
            return None
        goal = bad_goal(len(self.sent), live, self.obstacles, lost_cells, self.rng)
        if not self.ready(goal):
            return None
        Goal, PoseStamped, SetGoal = self._types
        if goal.via == "topic":
            msg = Goal(robot_id=goal.robot, sequence=SEQUENCE)
            msg.cell.row, msg.cell.col = goal.cell
            self.goal_pubs[goal.robot].publish(msg)
        elif goal.via == "service":
            request = SetGoal.Request(robot_id=goal.robot)
            request.goal.row, request.goal.col = goal.cell
            index = len(self.sent)
            future = self.clients[goal.robot].call_async(request)
            future.add_done_callback(lambda f, i=index: self._answered(i, f))
            self._futures.append(future)
        else:
            msg = PoseStamped()
            msg.header.frame_id = "map"
            msg.pose.position.x, msg.pose.position.y = math.nan, 1.0
            msg.pose.orientation.w = 1.0
            self.pose_pubs[goal.robot].publish(msg)
        self.sent.append(goal)
        self.sent_at = time.monotonic()
        return goal

    def _answered(self, index: int, future) -> None:
        self._finished += 1
        result = future.result()
        if result is not None:
            self.answers[index] = (bool(result.accepted), result.message)

    def summary(self, logs: Dict[str, str]) -> dict:
        """What was sent, what the services answered and the planners' refusal log lines."""
        refused_lines = refusals(logs)
        return {"sent": len(self.sent),
                "by_kind": {k: sum(g.kind == k for g in self.sent)
                            for k in sorted({g.kind for g in self.sent})},
                "by_way": {w: sum(g.via == w for g in self.sent)
                           for w in sorted({g.via for g in self.sent})},
                "service_answers": len(self.answers),
                "service_accepted": sum(ok for ok, _ in self.answers.values()),
                "refusals_logged": refused_lines}


def refusals(logs: Dict[str, str]) -> int:
    """The goal refusal lines in the planners' ``logs`` (robot -> log text)."""
    return sum(text.count("refused:") for text in logs.values())
