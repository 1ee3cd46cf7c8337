"""The JetBot ROS AI Kit's base driver: ``cmd_vel`` to the motor board, the board's odometry to
``odom`` and TF ``odom -> base_footprint``, in the robot's namespace.

    ros2 run marlgpt_planner jetbot_base --ros-args -r __ns:=/robot1 -r /tf:=tf \\
        -p port:=/dev/ttyACM0

The board (marlgpt_planner.motor_board has its protocol) integrates its wheel encoders into a
pose; this node publishes that pose, and the motion of its frames over the time they took as
the twist. It repeats the last command at ``rate`` Hz and sends zeros when no ``cmd_vel``
arrived for ``cmd_timeout`` s (Nav2 stops publishing when it is done). A board that stops
sending, or whose frames fail their checksum, for ``board_timeout`` s is an error: the node
logs it, reports ERROR on /diagnostics, publishes no odometry and commands zero speed until
good frames come back. A port that cannot be opened stops the node at start (exit status 2).
"""
import math
import time
from typing import List, Optional

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import TransformStamped, Twist
from nav_msgs.msg import Odometry
from rclpy.node import Node
from tf2_msgs.msg import TFMessage

from marlgpt_planner import motor_board
from marlgpt_planner.ros.process import run_node
from marlgpt_planner.ros.qos import TF_QOS
from marlgpt_planner.serial_port import SerialError, SerialPort
from marlgpt_planner.transforms import planar_covariance

PARAMETERS = (
    ("port", "/dev/ttyACM0"), ("baud", 115200), ("rate", 50.0), ("cmd_timeout", 0.5),
    ("board_timeout", 0.5), ("max_linear", 0.3), ("max_angular", 2.0),
    ("linear_correction", 1.0), ("angular_correction", 1.0),
    ("pid", list(motor_board.DEFAULT_PID)), ("odom_frame", "odom"),
    ("base_frame", "base_footprint"), ("publish_tf", True),
)
#: Odometry's uncertainty as reported to its readers (AMCL reads the TF, not these).
POSE_COVARIANCE = planar_covariance(0.01, 0.02)
TWIST_COVARIANCE = planar_covariance(0.01, 0.05)


def check(values: dict) -> List[str]:
    """Every invalid parameter, one line each."""
    problems = []
    for name in ("rate", "cmd_timeout", "board_timeout", "max_linear", "max_angular",
                 "linear_correction", "angular_correction"):
        if not (isinstance(values[name], (int, float)) and math.isfinite(values[name])
                and values[name] > 0):
            problems.append(f"{name}: got {values[name]!r}, must be a finite number > 0")
    if len(values["pid"]) != 3 or not all(0 <= g <= 32767 for g in values["pid"]):
        problems.append(f"pid: got {list(values['pid'])!r}, must be 3 gains in 0..32767")
    return problems


class JetBotBase(Node):
    def __init__(self) -> None:
        super().__init__("jetbot_base")
        self.p = {name: self.declare_parameter(name, default).value
                  for name, default in PARAMETERS}
        problems = check(self.p)
        if problems:
            raise ValueError(f"{len(problems)} invalid parameter(s):\n  " + "\n  ".join(problems))
        self.port = SerialPort(self.p["port"], int(self.p["baud"]))
        self.reader = motor_board.FrameReader()
        self.port.write(motor_board.corrections_frame(self.p["linear_correction"],
                                                      self.p["angular_correction"]))
        self.port.write(motor_board.pid_frame(*(int(g) for g in self.p["pid"])))
        self.odom_pub = self.create_publisher(Odometry, "odom", 10)
        self.tf_pub = self.create_publisher(TFMessage, "tf", TF_QOS)
        self.diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_subscription(Twist, "cmd_vel", self._on_cmd_vel, 10)
        self.command = (0.0, 0.0)
        self.command_time = -math.inf
        self.started = time.monotonic()
        self.last_frame: Optional[float] = None  # when the last good telemetry arrived
        self.last_rejected = 0
        self.problem: Optional[str] = None  # why the robot is stopped
        self.create_timer(1.0 / self.p["rate"], self._tick)
        self.create_timer(1.0, self._diagnose)
        self.get_logger().info(f"motor board on {self.p['port']} at {self.p['baud']} baud")

    def _on_cmd_vel(self, msg: Twist) -> None:
        clamp = lambda v, limit: max(-limit, min(limit, v))  # noqa: E731
        self.command = (clamp(msg.linear.x, self.p["max_linear"]),
                        clamp(msg.angular.z, self.p["max_angular"]))
        self.command_time = time.monotonic()

    def _tick(self) -> None:
        now = time.monotonic()
        frames = motor_board.telemetry(self.reader.feed(self.port.read()))
        if frames:
            self._publish(frames, now)
            self.last_frame = now
        self._health(now)
        fresh = now - self.command_time <= self.p["cmd_timeout"]
        linear, angular = self.command if fresh and self.problem is None else (0.0, 0.0)
        self.port.write(motor_board.velocity_frame(linear, angular))

    def _health(self, now: float) -> None:
        since = now - (self.last_frame if self.last_frame is not None else self.started)
        problem = None
        if since > self.p["board_timeout"]:
            garbled = self.reader.rejected - self.last_rejected
            problem = (f"{garbled} frames from {self.p['port']} failed their checksum and none "
                       f"was good for {since:.1f} s: wrong baud rate ({self.p['baud']}), or not "
                       "a JetBot motor board on this port" if garbled else
                       f"no telemetry from the motor board on {self.p['port']} for {since:.1f} "
                       "s: check its cable, power and port")
        else:
            self.last_rejected = self.reader.rejected
        if problem is not None and self.problem is None:
            self.get_logger().error(problem + "; the robot is stopped")
        elif problem is None and self.problem is not None:
            self.get_logger().info(f"motor board on {self.p['port']} answering")
        self.problem = problem

    def _publish(self, frames: List[motor_board.Telemetry], now: float) -> None:
        last = frames[-1]
        dt = now - self.last_frame if self.last_frame is not None else 0.0
        stamp = self.get_clock().now().to_msg()
        odom = Odometry()
        odom.header.stamp, odom.header.frame_id = stamp, self.p["odom_frame"]
        odom.child_frame_id = self.p["base_frame"]
        odom.pose.pose.position.x, odom.pose.pose.position.y = last.x, last.y
        odom.pose.pose.orientation.z = math.sin(last.yaw / 2)
        odom.pose.pose.orientation.w = math.cos(last.yaw / 2)
        odom.pose.covariance = POSE_COVARIANCE
        if dt > 0:
            odom.twist.twist.linear.x = sum(f.dx for f in frames) / dt
            odom.twist.twist.linear.y = sum(f.dy for f in frames) / dt
            odom.twist.twist.angular.z = sum(f.dyaw for f in frames) / dt
        odom.twist.covariance = TWIST_COVARIANCE
        self.odom_pub.publish(odom)
        if self.p["publish_tf"]:
            transform = TransformStamped()
            transform.header = odom.header
            transform.child_frame_id = odom.child_frame_id
            transform.transform.translation.x = last.x
            transform.transform.translation.y = last.y
            transform.transform.rotation = odom.pose.pose.orientation
            self.tf_pub.publish(TFMessage(transforms=[transform]))

    def _diagnose(self) -> None:
        status = DiagnosticStatus(name=f"{self.get_namespace().strip('/')} jetbot_base",
                                  hardware_id=self.p["port"])
        status.level = DiagnosticStatus.OK if self.problem is None else DiagnosticStatus.ERROR
        status.message = self.problem or "driving"
        status.values = [KeyValue(key="frames", value=str(self.reader.accepted)),
                         KeyValue(key="rejected", value=str(self.reader.rejected))]
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self.diag_pub.publish(array)

    def stop(self) -> None:
        """Zero speed, then close the port (on the way out)."""
        if getattr(self, "port", None) is not None:
            self.port.write(motor_board.velocity_frame(0.0, 0.0))
            self.port.close()


def main(args=None) -> None:
    run_node(JetBotBase, "jetbot_base", errors=(ValueError, SerialError), args=args,
             on_exit=lambda node: node.stop())


if __name__ == "__main__":
    main()
