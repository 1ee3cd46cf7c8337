"""Next-cell waypoints to one robot's Nav2, through its ``navigate_to_pose`` action only.

A small state machine around an rclpy ``ActionClient`` (no blocking call anywhere: every
answer comes back through a future's callback):

    IDLE --go()--> SENDING --accepted--> ACTIVE --result SUCCEEDED / pose within tolerance--> DONE
                      |                     |
                      +--rejected / aborted / server missing--> retry (up to `retries`) --> FAILED

Each ``go()`` replaces the previous waypoint. Nav2 then preempts the running goal and aborts
its handle; results of replaced or cancelled goals are recognised by their token and ignored,
never read as failures. A goal cancelled while the server has not yet answered its request
is cancelled on the server as soon as it is accepted. Only the goal fields common to Humble
and later (``pose``, ``behavior_tree``) are set and only the result's status is read (the
result message differs between distributions).
"""
import math
import time
from typing import Callable, Optional, Tuple

from action_msgs.msg import GoalStatus
from geometry_msgs.msg import PoseStamped
from rclpy.action import ActionClient

from marlgpt_planner.lattice import yaw_to_quaternion

IDLE, SENDING, ACTIVE, DONE, FAILED = "idle", "sending", "active", "done", "failed"
#: The handle while a goal request awaits the server's answer.
PENDING = "pending"

#: on_done(success, reason)
DoneCallback = Callable[[bool, str], None]


class NavigationClient:
    def __init__(self, node, action_name: str, frame: str = "map", behavior_tree: str = "",
                 retries: int = 2, server_timeout: float = 10.0, tolerance: float = 0.05,
                 retry_delay: float = 0.2) -> None:
        from nav2_msgs.action import NavigateToPose

        self._goal_type = NavigateToPose.Goal
        self.node = node
        self.client = ActionClient(node, NavigateToPose, action_name)
        self.action_name = action_name
        self.frame = frame
        self.behavior_tree = behavior_tree
        self.retries = retries
        self.server_timeout = server_timeout
        self.tolerance = tolerance
        self.retry_delay = retry_delay
        self.state = IDLE
        self.target: Optional[Tuple[float, float, float]] = None
        self.attempts = 0
        self.last_error = ""
        self._token = 0
        self._handle = None
        self._on_done: Optional[DoneCallback] = None
        self._send_at = 0.0
        self._since = 0.0

    # --- commands -----------------------------------------------------------------------------
    def go(self, x: float, y: float, yaw: float, now: float, on_done: DoneCallback) -> None:
        """Head for (x, y) facing ``yaw``; ``on_done`` is called once, on arrival or failure.
        Times (``now``) are ``time.monotonic()`` seconds."""
        self._token += 1
        self.target = (x, y, yaw)
        self.attempts = 0
        self.state = SENDING
        self._on_done = on_done
        self._since = now
        self._send_at = now
        self._handle = None
        self.tick(now)

    def cancel(self) -> None:
        """Stop following the current waypoint (its goal is cancelled on the server)."""
        self._token += 1
        if self._handle is not None and self._handle is not PENDING:
            self._handle.cancel_goal_async()
        self._handle = None  # a pending request is cancelled when accepted (_on_response)
        self.state = IDLE
        self._on_done = None

    # --- events -------------------------------------------------------------------------------
    def tick(self, now: float) -> None:
        """Send a pending goal once the server is there (timers call this; never blocks)."""
        if self.state != SENDING or self._handle is not None or now < self._send_at:
            return
        if not self.client.server_is_ready():
            if now - self._since > self.server_timeout:
                self._failed(f"no {self.action_name} server for {self.server_timeout:.0f} s", now)
            return
        goal = self._goal_type()
        goal.pose = PoseStamped()
        goal.pose.header.frame_id = self.frame
        goal.pose.header.stamp = self.node.get_clock().now().to_msg()
        x, y, yaw = self.target
        goal.pose.pose.position.x, goal.pose.pose.position.y = x, y
        q = goal.pose.pose.orientation
        q.x, q.y, q.z, q.w = yaw_to_quaternion(yaw)
        goal.behavior_tree = self.behavior_tree
        token = self._token
        self._handle = PENDING
        future = self.client.send_goal_async(goal)
        future.add_done_callback(lambda f: self._on_response(f, token))

    def pose(self, x: float, y: float, now: float) -> None:
        """A pose update: within ``tolerance`` of the waypoint counts as arrival."""
        if self.state in (SENDING, ACTIVE) and self.target is not None and \
                math.hypot(x - self.target[0], y - self.target[1]) <= self.tolerance:
            self._finish(True, "pose within tolerance")

    def _on_response(self, future, token: int) -> None:
        handle = future.result()
        if token != self._token:
            if self.state == IDLE and handle is not None and handle.accepted:
                handle.cancel_goal_async()  # cancelled while its request was on the way
            return
        if handle is None or not handle.accepted:
            self._handle = None
            self._retry("goal rejected")
            return
        self._handle = handle
        if self.state == SENDING:
            self.state = ACTIVE
        handle.get_result_async().add_done_callback(lambda f: self._on_result(f, token))

    def _on_result(self, future, token: int) -> None:
        if token != self._token:
            return  # a replaced or cancelled goal: its abort is not a failure
        result = future.result()
        status = result.status if result is not None else GoalStatus.STATUS_UNKNOWN
        self._handle = None
        if status == GoalStatus.STATUS_SUCCEEDED:
            self._finish(True, "succeeded")
        elif self.state in (SENDING, ACTIVE):
            names = {GoalStatus.STATUS_ABORTED: "aborted", GoalStatus.STATUS_CANCELED: "canceled"}
            self._retry(f"goal {names.get(status, f'ended with status {status}')}")

    # --- outcomes -----------------------------------------------------------------------------
    def _retry(self, reason: str) -> None:
        self.last_error = reason
        if self.state not in (SENDING, ACTIVE):
            return
        self.attempts += 1
        now = time.monotonic()
        if self.attempts > self.retries:
            self._failed(f"{reason}; gave up after {self.retries} retries", now)
            return
        self.node.get_logger().warning(
            f"{self.action_name}: {reason}, retry {self.attempts}/{self.retries}")
        self._token += 1  # results of the failed attempt are no longer ours
        self.state = SENDING
        self._handle = None
        self._send_at = now + self.retry_delay

    def _failed(self, reason: str, now: float) -> None:
        self.last_error = reason
        self._finish(False, reason)

    def _finish(self, success: bool, reason: str) -> None:
        self.state = DONE if success else FAILED
        callback, self._on_done = self._on_done, None
        if callback is not None:
            callback(success, reason)
