"""The JetBot base driver against a simulated motor board on a pseudo-terminal, over real DDS:
driven through a 30 cm square by its own odometry, it reports the board's pose (and the
square closes); a silent or garbled board is a clear error and a stopped robot; a missing
port stops the driver at start."""
import math
import subprocess
import sys
import time
from typing import Callable, Iterator, List

import pytest
import rclpy
from geometry_msgs.msg import Twist
from nav_msgs.msg import Odometry
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from tf2_msgs.msg import TFMessage

from marlgpt_planner.ros.qos import TF_QOS
from marlgpt_planner.transforms import yaw_of
from marlgpt_sim.jetbot_board import SimulatedBoard
from tests.conftest import stop

#: How far the driver's odometry may be from the board's pose: the board's resolution (1 mm,
#: 1 mrad) plus the motion during one telemetry period at the test's speeds.
POSE_TOLERANCE = 0.01
YAW_TOLERANCE = 0.03


class Probe(Node):
    def __init__(self, context: Context) -> None:
        super().__init__("probe", namespace="/robot1", context=context)
        self.odom: List[Odometry] = []
        self.tf: List[TFMessage] = []
        self.create_subscription(Odometry, "odom", self.odom.append, 10)
        self.create_subscription(TFMessage, "tf", self.tf.append, TF_QOS)
        self.cmd = self.create_publisher(Twist, "cmd_vel", 10)
        self.executor_ = SingleThreadedExecutor(context=context)
        self.executor_.add_node(self)

    def until(self, done: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            self.executor_.spin_once(timeout_sec=0.02)

    def spin(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.executor_.spin_once(timeout_sec=0.02)

    def pose(self):
        pose = self.odom[-1].pose.pose
        return (pose.position.x, pose.position.y,
                yaw_of((pose.orientation.x, pose.orientation.y, pose.orientation.z,
                        pose.orientation.w)))

    def forward(self, distance: float, speed: float = 0.2) -> None:
        """Drive straight on until odometry says ``distance`` m are done."""
        x0, y0, _ = self.pose()
        self.until(lambda: math.hypot(self.pose()[0] - x0, self.pose()[1] - y0)
                   >= distance - 0.005 or self.drive(speed, 0.0), "a side")

    def turn_left(self) -> None:
        """Turn on the spot until odometry says a quarter turn is done."""
        target = angle(self.pose()[2] + math.pi / 2)
        error = lambda: angle(target - self.pose()[2])  # noqa: E731
        self.until(lambda: abs(error()) < 0.02
                   or self.drive(0.0, max(0.15, min(1.0, 2.0 * error()))), "a turn")

    def drive(self, linear: float, angular: float) -> None:
        msg = Twist()
        msg.linear.x, msg.angular.z = linear, angular
        self.cmd.publish(msg)


@pytest.fixture
def probe(ros_domain_id: int) -> Iterator[Probe]:
    context = Context()
    rclpy.init(context=context, domain_id=ros_domain_id)
    node = Probe(context)
    try:
        yield node
    finally:
        node.destroy_node()
        context.try_shutdown()


def start_driver(ros_env, port: str, *parameters: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "marlgpt_planner.ros.jetbot_base", "--ros-args",
               "-r", "__ns:=/robot1", "-p", f"port:={port}"]
    for parameter in parameters:
        command += ["-p", parameter]
    return subprocess.Popen(command, env=ros_env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def angle(a: float) -> float:
    return math.atan2(math.sin(a), math.cos(a))


def test_a_square_driven_by_odometry_closes_and_odometry_is_the_boards_pose(ros_env,
                                                                           probe) -> None:
    with SimulatedBoard() as board:
        driver = start_driver(ros_env, board.path)
        try:
            probe.until(lambda: probe.odom, "odometry")
            assert board.other_frames  # corrections and PID gains were sent at start
            for _ in range(4):
                probe.forward(0.3)
                probe.turn_left()
            probe.drive(0.0, 0.0)
            probe.until(lambda: abs(board.speed[0]) + abs(board.speed[1]) < 1e-3, "a stop")
            count = len(probe.odom)
            probe.until(lambda: len(probe.odom) > count + 3, "odometry at rest")
            x, y, yaw = probe.pose()
            true_x, true_y, true_yaw = board.pose
            assert math.hypot(x - true_x, y - true_y) < POSE_TOLERANCE
            assert abs(angle(yaw - true_yaw)) < YAW_TOLERANCE
            # The square closes: back at the start, facing the start heading.
            assert math.hypot(true_x, true_y) < 0.05 and abs(angle(true_yaw)) < 0.08
            transform = probe.tf[-1].transforms[0]
            assert (transform.header.frame_id, transform.child_frame_id) == (
                "odom", "base_footprint")
            assert transform.transform.translation.x == pytest.approx(x, abs=POSE_TOLERANCE)
        finally:
            stop(driver)
        assert board.command() == (0.0, 0.0)  # the driver's last word: stop


@pytest.mark.parametrize("fault, message", [
    ("silent", "no telemetry from the motor board"),
    ("garble", "failed their checksum"),
])
def test_a_silent_or_garbled_board_is_an_error_and_a_stopped_robot(ros_env, probe, fault,
                                                                   message) -> None:
    with SimulatedBoard() as board:
        driver = start_driver(ros_env, board.path, "board_timeout:=0.3")
        try:
            probe.until(lambda: probe.odom, "odometry")
            probe.until(lambda: probe.drive(0.1, 0.0) or board.command()[0] > 0.09,
                        "the robot moving")
            setattr(board, fault, True)
            # cmd_vel keeps asking it to move; the driver stops it all the same ...
            probe.until(lambda: probe.drive(0.1, 0.0) or board.command() == (0.0, 0.0),
                        "the robot stopped")
            # ... keeps it stopped, and publishes no odometry from a board it cannot read.
            count = len(probe.odom)
            for _ in range(10):
                probe.drive(0.1, 0.0)
                probe.spin(0.05)
            assert board.command() == (0.0, 0.0) and len(probe.odom) == count
            setattr(board, fault, False)  # the board comes back: driving resumes
            probe.until(lambda: probe.drive(0.1, 0.0) or board.command()[0] > 0.09,
                        "driving again")
        finally:
            stop(driver)
        log = driver.stdout.read()
        assert message in log and "the robot is stopped" in log, log
        assert "motor board on" in log and "answering" in log, log


def test_a_port_that_does_not_exist_stops_the_driver_at_start(ros_env) -> None:
    run = subprocess.run([sys.executable, "-m", "marlgpt_planner.ros.jetbot_base", "--ros-args",
                          "-p", "port:=/dev/ttyNOPE"], env=ros_env, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 2, run.stderr
    assert "cannot open serial port /dev/ttyNOPE" in run.stderr and "--device" in run.stderr
    assert "Traceback" not in run.stderr


def test_bad_parameters_stop_the_driver_at_start(ros_env) -> None:
    run = subprocess.run([sys.executable, "-m", "marlgpt_planner.ros.jetbot_base", "--ros-args",
                          "-p", "port:=/dev/null", "-p", "max_linear:=0.0"], env=ros_env,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "max_linear: got 0.0" in run.stderr, run.stderr
