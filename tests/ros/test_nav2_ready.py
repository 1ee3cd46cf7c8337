"""wait_for_nav2 against a stand-in Nav2 over real DDS: it waits for AMCL to be active, gives
it the start pose with a covariance (not the zero one that starts every particle on one
pose), sends it again until AMCL answers, waits for bt_navigator, and gives up with exit 1."""
import subprocess
import sys
import time
from typing import Iterator, List

import pytest
import rclpy
from geometry_msgs.msg import PoseWithCovarianceStamped
from lifecycle_msgs.msg import State
from lifecycle_msgs.srv import GetState
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node

from marlgpt_planner.ros.qos import AMCL_POSE_QOS
from tests.conftest import stop


class FakeNav2(Node):
    """AMCL and bt_navigator's lifecycle states (active after ``active_after`` s; a node in
    ``absent`` never answers), AMCL's initialpose and amcl_pose as Humble's AMCL has them:
    an initial pose that arrives before AMCL is active is dropped."""

    def __init__(self, context: Context, active_after: float, absent=()) -> None:
        super().__init__("fake_nav2", namespace="/robot1", context=context)
        self.started = time.monotonic()
        self.active_after = active_after
        self.poses: List[PoseWithCovarianceStamped] = []
        self.dropped = 0
        for name in ("amcl", "bt_navigator"):
            if name not in absent:
                self.create_service(GetState, f"{name}/get_state", self._get_state)
        self.create_subscription(PoseWithCovarianceStamped, "initialpose", self._on_pose, 10)
        self.amcl_pose = self.create_publisher(PoseWithCovarianceStamped, "amcl_pose",
                                               AMCL_POSE_QOS)

    def active(self) -> bool:
        return time.monotonic() - self.started > self.active_after

    def _get_state(self, _request, response):
        response.current_state.id = (State.PRIMARY_STATE_ACTIVE if self.active()
                                     else State.PRIMARY_STATE_INACTIVE)
        return response

    def _on_pose(self, msg: PoseWithCovarianceStamped) -> None:
        if not self.active():
            self.dropped += 1
            return
        self.poses.append(msg)
        self.amcl_pose.publish(msg)


@pytest.fixture
def context(ros_domain_id: int) -> Iterator[Context]:
    context = Context()
    rclpy.init(context=context, domain_id=ros_domain_id)
    try:
        yield context
    finally:
        context.try_shutdown()


def run_waiter(ros_env, fake: FakeNav2, *extra: str, timeout: float = 20.0):
    process = subprocess.Popen(
        [sys.executable, "-m", "marlgpt_planner.ros.nav2_ready", "--namespace", "robot1",
         "--x", "0.45", "--y", "1.05", "--yaw", "0.5", "--timeout", str(timeout), *extra],
        env=ros_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    executor = SingleThreadedExecutor(context=fake.context)
    executor.add_node(fake)
    deadline = time.monotonic() + timeout + 30
    try:
        while process.poll() is None and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
    finally:
        if process.poll() is None:
            stop(process)
    return process.returncode, process.stdout.read()


def test_the_initial_pose_goes_to_an_active_amcl_with_a_covariance(ros_env, context) -> None:
    fake = FakeNav2(context, active_after=3.0)
    code, log = run_waiter(ros_env, fake)
    assert code == 0, log
    assert "Nav2 is active" in log
    assert fake.poses, log
    pose = fake.poses[0]
    assert pose.header.frame_id == "map"
    assert (pose.pose.pose.position.x, pose.pose.pose.position.y) == (0.45, 1.05)
    assert pose.pose.pose.orientation.z == pytest.approx(0.2474, abs=1e-4)  # sin(0.25)
    covariance = list(pose.pose.covariance)
    assert covariance[0] == covariance[7] == pytest.approx(0.05 ** 2)
    assert covariance[35] == pytest.approx(0.25 ** 2)
    assert sum(abs(c) for c in covariance) == pytest.approx(2 * 0.05 ** 2 + 0.25 ** 2)
    assert fake.dropped == 0  # nothing was sent before AMCL was active


def test_the_covariance_is_a_setting(ros_env, context) -> None:
    fake = FakeNav2(context, active_after=0.0)
    code, log = run_waiter(ros_env, fake, "--sigma-xy", "0.1", "--sigma-yaw", "0.5")
    assert code == 0, log
    assert fake.poses[0].pose.covariance[0] == pytest.approx(0.01)
    assert fake.poses[0].pose.covariance[35] == pytest.approx(0.25)


def test_a_zero_covariance_is_refused() -> None:
    run = subprocess.run([sys.executable, "-m", "marlgpt_planner.ros.nav2_ready",
                          "--namespace", "robot1", "--x", "0", "--y", "0", "--sigma-xy", "0"],
                         capture_output=True, text=True, timeout=30)
    assert run.returncode == 2 and "> 0" in run.stderr, run.stderr


def test_a_navigator_that_never_comes_up_gives_exit_1(ros_env, context) -> None:
    fake = FakeNav2(context, active_after=0.0, absent=("bt_navigator",))
    code, log = run_waiter(ros_env, fake, timeout=10.0)  # AMCL's part takes a second or two
    assert code == 1, log
    assert "bt_navigator not active" in log and "the planner is not started" in log
    assert fake.poses  # AMCL got its pose before the waiter gave up on the navigator
