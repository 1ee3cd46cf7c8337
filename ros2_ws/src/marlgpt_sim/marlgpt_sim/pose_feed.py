"""How real localization delivers a robot's pose, for the loopback simulator (pure Python).

* ``tf``: TF at 30 Hz: the base driver's ``odom -> base_footprint``, whose odometry drifts
  (a slow random walk in x, y and yaw), and the localizer's ``map -> odom``, re-estimated a few
  times a second so that the chain ends on the true pose (:class:`DriftingOdometry`);
* ``amcl``: AMCL's ``amcl_pose`` (reliable, transient-local, depth 1): once its initial pose
  is known, then only after the robot moved more than 0.25 m along x or y or turned more than
  0.2 rad (``update_min_d``/``update_min_a``, tested per axis as AMCL does);
* ``slam``: SLAM Toolbox's ``pose`` (reliable, volatile): on its first processed scan, then only
  after 0.5 m or 0.5 rad (Karto's ``minimum_travel_distance``/``minimum_travel_heading``, as
  the asynchronous node processes scans);
* ``stream``: a pose on ``pose`` at a fixed rate, whatever the robot does.

In ``amcl`` and ``slam`` mode TF is published too, as on a real robot (Nav2 needs it).
"""
import math
from typing import Dict, NamedTuple, Optional, Tuple

import numpy as np

Pose = Tuple[float, float, float]  # x, y, yaw
MODES = ("tf", "amcl", "slam", "stream")


class Gate(NamedTuple):
    """Publish thresholds of an event-driven localizer: past ``distance`` (per axis, strictly,
    with ``per_axis``; else as a Euclidean distance, inclusive) or ``angle``."""

    distance: float
    angle: float
    per_axis: bool = False


#: The defaults of Nav2's AMCL and of SLAM Toolbox.
GATES: Dict[str, Gate] = {"amcl": Gate(0.25, 0.2, per_axis=True), "slam": Gate(0.5, 0.5)}


def angle_between(a: float, b: float) -> float:
    return abs(math.atan2(math.sin(a - b), math.cos(a - b)))


class PublishGate:
    """True for the first pose, then only once the robot moved or turned past the gate."""

    def __init__(self, gate: Gate) -> None:
        self.gate = gate
        self.last: Optional[Pose] = None

    def due(self, pose: Pose) -> bool:
        if self.last is not None:
            dx, dy = abs(pose[0] - self.last[0]), abs(pose[1] - self.last[1])
            turned = angle_between(pose[2], self.last[2])
            if self.gate.per_axis:
                moved = dx > self.gate.distance or dy > self.gate.distance or \
                    turned > self.gate.angle
            else:
                moved = math.hypot(dx, dy) >= self.gate.distance or turned >= self.gate.angle
            if not moved:
                return False
        self.last = pose
        return True


def compose2d(a: Pose, b: Pose) -> Pose:
    c, s = math.cos(a[2]), math.sin(a[2])
    return (a[0] + c * b[0] - s * b[1], a[1] + s * b[0] + c * b[1],
            math.atan2(math.sin(a[2] + b[2]), math.cos(a[2] + b[2])))


def invert2d(a: Pose) -> Pose:
    c, s = math.cos(a[2]), math.sin(a[2])
    return (-c * a[0] - s * a[1], s * a[0] - c * a[1], -a[2])


class DriftingOdometry:
    """The two dynamic TF links of one robot: ``odom -> base_footprint`` drifts away from the
    truth; ``map -> odom`` is re-estimated every ``correct_every`` seconds so that
    ``map -> odom -> base_footprint`` returns to the true pose (in between it is off by the
    drift since the last correction, a few millimetres)."""

    def __init__(self, start: Pose, rng: np.random.Generator, drift: float = 0.02,
                 yaw_drift: float = 0.01, correct_every: float = 0.2) -> None:
        self.rng = rng
        self.drift, self.yaw_drift, self.correct_every = drift, yaw_drift, correct_every
        self.offset: Pose = (0.0, 0.0, 0.0)  # the odometry's error: map -> odom, the truth
        self.map_odom: Pose = self.offset
        self.odom_base: Pose = start
        self.corrected_at: Optional[float] = None
        self.updated_at: Optional[float] = None

    def update(self, true_pose: Pose, now: float) -> Tuple[Pose, Pose]:
        """(map -> odom, odom -> base_footprint) at time ``now`` for the robot's true pose."""
        dt = 0.0 if self.updated_at is None else max(0.0, now - self.updated_at)
        self.updated_at = now
        step = math.sqrt(dt)
        self.offset = (self.offset[0] + self.drift * step * self.rng.standard_normal(),
                       self.offset[1] + self.drift * step * self.rng.standard_normal(),
                       self.offset[2] + self.yaw_drift * step * self.rng.standard_normal())
        self.odom_base = compose2d(invert2d(self.offset), true_pose)
        if self.corrected_at is None or now - self.corrected_at >= self.correct_every:
            self.corrected_at = now
            self.map_odom = self.offset
        return self.map_odom, self.odom_base
