"""A simulated JetBot ROS AI Kit motor board on a pseudo-terminal: the base driver
(marlgpt_planner.ros.jetbot_base) talks to it as to the real board, without a robot.

    python -m marlgpt_sim.jetbot_board        # prints the port, e.g. /dev/pts/7
    ros2 run marlgpt_planner jetbot_base --ros-args -p port:=/dev/pts/7

It speaks marlgpt_planner.motor_board's protocol: it takes velocity frames, drives a
differential robot whose wheel speeds follow the command with a first-order lag
(``lag`` s) and a speed limit, integrates its pose as the real board does from its encoders,
and sends telemetry at ``rate`` Hz. ``silent`` stops its telemetry; ``garble`` corrupts every
frame's checksum (a board at the wrong baud rate looks like this): the faults a driver must
survive.
"""
import math
import os
import threading
import time
from typing import List, Tuple

from marlgpt_planner import motor_board


class SimulatedBoard:
    def __init__(self, rate: float = 50.0, lag: float = 0.05, max_linear: float = 0.5,
                 max_angular: float = 3.0) -> None:
        self.master, slave = os.openpty()
        self.path = os.ttyname(slave)
        self._slave = slave  # held open so the pty lives while the driver reopens it
        os.set_blocking(self.master, False)
        self.rate, self.lag = rate, lag
        self.limits = (max_linear, max_angular)
        self.pose = (0.0, 0.0, 0.0)  # x, y, yaw: the robot's true pose
        self.speed = (0.0, 0.0)  # linear, angular, after the lag
        self.commands: List[Tuple[float, float, float]] = []  # (time, linear, angular)
        self.other_frames: List[bytes] = []  # PID and correction frames
        self.silent = False
        self.garble = False
        self._reader = motor_board.FrameReader()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "SimulatedBoard":
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self.close()

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        for fd in (self.master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass

    def command(self) -> Tuple[float, float]:
        """The last commanded (linear, angular) speed."""
        with self._lock:
            return self.commands[-1][1:] if self.commands else (0.0, 0.0)

    def _receive(self) -> None:
        try:
            data = os.read(self.master, 4096)
        except (BlockingIOError, OSError):
            return
        for frame in self._reader.feed(data):
            if frame[3] == motor_board.VELOCITY:
                linear, _, angular = motor_board.frame_values(frame, 3)
                with self._lock:
                    self.commands.append((time.monotonic(), linear / 1000.0, angular / 1000.0))
            else:
                self.other_frames.append(frame)

    def _move(self, dt: float) -> Tuple[float, float, float]:
        """Advance the robot by ``dt`` s; its motion in its own frame (dx, dy, dyaw)."""
        target = self.command()
        target = tuple(max(-m, min(m, v)) for v, m in zip(target, self.limits))
        blend = 1.0 - math.exp(-dt / self.lag)
        linear, angular = (s + (t - s) * blend for s, t in zip(self.speed, target))
        self.speed = (linear, angular)
        x, y, yaw = self.pose
        dyaw = angular * dt
        # exact arc: the chord at the mean heading
        chord = linear * dt * (math.sin(dyaw / 2) / (dyaw / 2) if abs(dyaw) > 1e-9 else 1.0)
        heading = yaw + dyaw / 2
        self.pose = (x + chord * math.cos(heading), y + chord * math.sin(heading),
                     math.atan2(math.sin(yaw + dyaw), math.cos(yaw + dyaw)))
        return chord * math.cos(dyaw / 2), chord * math.sin(dyaw / 2), dyaw

    def _run(self) -> None:
        period = 1.0 / self.rate
        last = time.monotonic()
        while not self._stop.is_set():
            time.sleep(period)
            now = time.monotonic()
            self._receive()
            dx, dy, dyaw = self._move(now - last)
            last = now
            if self.silent:
                continue
            x, y, yaw = self.pose
            frame = motor_board.telemetry_frame(motor_board.Telemetry(
                gyro=(0.0, 0.0, self.speed[1]), accel=(0.0, 0.0, 9.8), yaw_imu=yaw,
                x=x, y=y, yaw=yaw, dx=dx, dy=dy, dyaw=dyaw, wheel_speeds=(0, 0),
                wheel_setpoints=(0, 0)))
            if self.garble:
                frame = frame[:-1] + bytes([(frame[-1] + 1) & 0xFF])
            try:
                os.write(self.master, frame)
            except OSError:
                pass


def main() -> None:
    with SimulatedBoard() as board:
        print(board.path, flush=True)
        try:
            while True:
                time.sleep(1.0)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
