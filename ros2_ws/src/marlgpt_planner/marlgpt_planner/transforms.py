"""A small TF buffer: the latest transform of every frame, chained into a robot's map pose.

Real robots give their pose through TF: AMCL (or SLAM Toolbox) publishes ``map -> odom``, the
base driver ``odom -> base_footprint``, and robot_state_publisher the static links. tf2's own
buffer is C++ and not among ROS 2's Python wheels, so the planner keeps this one, fed from
``tf2_msgs/TFMessage`` on ``tf`` and ``tf_static``: it keeps the newest transform per child
frame (a TF tree gives each frame one parent) and chains them between any two frames of one
tree. Ages are measured from when a transform was received, so clocks that disagree between
machines do not matter; static transforms never age. Pure Python, Python >= 3.8.
"""
import math
from typing import Dict, List, NamedTuple, Optional, Tuple

Vector = Tuple[float, float, float]
Quaternion = Tuple[float, float, float, float]  # x, y, z, w


class Link(NamedTuple):
    parent: str
    translation: Vector
    rotation: Quaternion
    received: float  # time.monotonic() when it arrived
    static: bool


class Pose2D(NamedTuple):
    x: float
    y: float
    yaw: float
    age: float  # seconds since the oldest moving link of the chain arrived (0: all static)


def multiply(a: Quaternion, b: Quaternion) -> Quaternion:
    """The rotation ``a`` after ``b`` (Hamilton product)."""
    ax, ay, az, aw = a
    bx, by, bz, bw = b
    return (aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
            aw * bw - ax * bx - ay * by - az * bz)


def rotate(q: Quaternion, v: Vector) -> Vector:
    """``v`` rotated by the unit quaternion ``q``."""
    x, y, z, w = q
    # v + 2 w (u x v) + 2 u x (u x v), u = (x, y, z)
    cx, cy, cz = y * v[2] - z * v[1], z * v[0] - x * v[2], x * v[1] - y * v[0]
    return (v[0] + 2 * (w * cx + y * cz - z * cy),
            v[1] + 2 * (w * cy + z * cx - x * cz),
            v[2] + 2 * (w * cz + x * cy - y * cx))


def invert(translation: Vector, rotation: Quaternion) -> Tuple[Vector, Quaternion]:
    conjugate = (-rotation[0], -rotation[1], -rotation[2], rotation[3])
    t = rotate(conjugate, translation)
    return (-t[0], -t[1], -t[2]), conjugate


def compose(a: Tuple[Vector, Quaternion], b: Tuple[Vector, Quaternion]
            ) -> Tuple[Vector, Quaternion]:
    """Transform ``a`` (parent <- middle) followed by ``b`` (middle <- child)."""
    moved = rotate(a[1], b[0])
    return ((a[0][0] + moved[0], a[0][1] + moved[1], a[0][2] + moved[2]),
            multiply(a[1], b[1]))


def yaw_of(q: Quaternion) -> float:
    x, y, z, w = q
    return math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))


def _frame(name: str) -> str:
    return name.lstrip("/")  # tf2 ignores a leading slash (ROS 1 style ids)


class TransformBuffer:
    """The newest transform per child frame; :meth:`lookup` chains them."""

    def __init__(self) -> None:
        self.links: Dict[str, Link] = {}

    def set(self, parent: str, child: str, translation: Vector, rotation: Quaternion,
            received: float, static: bool = False) -> bool:
        """Store ``parent -> child``; returns False (and stores nothing) for a transform
        with non-finite numbers, a zero quaternion or a frame as its own parent."""
        parent, child = _frame(parent), _frame(child)
        values = tuple(translation) + tuple(rotation)
        if not parent or not child or parent == child or \
                not all(math.isfinite(v) for v in values):
            return False
        norm = math.sqrt(sum(v * v for v in rotation))
        if norm < 1e-9:
            return False
        rotation = tuple(v / norm for v in rotation)
        self.links[child] = Link(parent, tuple(float(v) for v in translation), rotation,
                                 received, static)
        return True

    def _to_root(self, frame: str) -> List[str]:
        chain = [frame]
        while chain[-1] in self.links and len(chain) <= len(self.links):
            chain.append(self.links[chain[-1]].parent)
        return chain

    def lookup(self, target: str, source: str, now: float) -> Optional[Pose2D]:
        """The pose of frame ``source`` in frame ``target`` (e.g. base_footprint in map),
        or None while the two are not connected."""
        target, source = _frame(target), _frame(source)
        up_source, up_target = self._to_root(source), self._to_root(target)
        common = next((f for f in up_source if f in up_target), None)
        if common is None:
            return None
        identity = ((0.0, 0.0, 0.0), (0.0, 0.0, 0.0, 1.0))
        ages = []

        def chain_from(frames: List[str]) -> Tuple[Vector, Quaternion]:
            """common <- frames[0], from the links on the way up."""
            transform = identity
            for frame in frames[:frames.index(common)]:
                link = self.links[frame]
                transform = compose((link.translation, link.rotation), transform)
                if not link.static:
                    ages.append(now - link.received)
            return transform

        common_source = chain_from(up_source)
        common_target = chain_from(up_target)
        translation, rotation = compose(invert(*common_target), common_source)
        return Pose2D(translation[0], translation[1], yaw_of(rotation),
                      max(ages) if ages else 0.0)

    def why_not(self, target: str, source: str) -> str:
        """Why :meth:`lookup` finds no chain, in words for a log."""
        target, source = _frame(target), _frame(source)
        known = sorted(set(self.links) | {link.parent for link in self.links.values()})
        if not known:
            return "no transforms received yet"
        missing = [f for f in (target, source) if f not in known]
        if missing:
            return (f"no transform mentions {' or '.join(missing)} (frames known: "
                    f"{', '.join(known)})")
        return (f"{target} and {source} are in different trees ({source}'s chain: "
                f"{' -> '.join(reversed(self._to_root(source)))})")


def planar_covariance(sigma_xy: float, sigma_yaw: float) -> List[float]:
    """The 6x6 row-major covariance (x, y, z, roll, pitch, yaw) of a pose on the floor known to
    within ``sigma_xy`` metres and ``sigma_yaw`` radians (one standard deviation each); what
    geometry_msgs' PoseWithCovariance and TwistWithCovariance carry. z, roll and pitch are
    fixed by the floor (0). Both sigmas must be > 0: AMCL spreads its particles by this
    covariance, and a zero one starts every particle on one pose."""
    if not (sigma_xy > 0 and sigma_yaw > 0 and math.isfinite(sigma_xy + sigma_yaw)):
        raise ValueError(f"pose sigmas must be finite and > 0, got xy {sigma_xy!r}, "
                         f"yaw {sigma_yaw!r}")
    covariance = [0.0] * 36
    covariance[0] = covariance[7] = sigma_xy * sigma_xy
    covariance[35] = sigma_yaw * sigma_yaw
    return covariance
