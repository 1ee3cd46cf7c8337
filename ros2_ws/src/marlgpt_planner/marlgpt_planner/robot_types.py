"""The robots the launch files know: each one's footprint for Nav2's costmaps and its URDF.
``robot_bringup.launch.py robot_type:=NAME`` picks one; ``custom`` keeps whatever the
Nav2 parameter file says.

Footprints are polygons in ``base_footprint`` (x forward, y left, metres) around the whole
robot as it stands on the floor; Nav2 adds ``footprint_padding`` (1 cm by default) on top.
Python >= 3.8.
"""
from typing import Dict, NamedTuple, Optional, Sequence, Tuple

Point = Tuple[float, float]


class RobotType(NamedTuple):
    footprint: Tuple[Point, ...]
    description: Optional[str]  # marlgpt_planner's urdf/NAME.urdf, or None (another node)
    about: str


def box(front: float, back: float, half_width: float) -> Tuple[Point, ...]:
    """A rectangle from ``back`` (negative) to ``front`` along x, +-``half_width`` along y."""
    return ((front, half_width), (front, -half_width), (back, -half_width),
            (back, half_width))


ROBOT_TYPES: Dict[str, RobotType] = {
    # The MARL-GPT paper's robot: a Waveshare JetBot ROS AI Kit, 17 x 17 x 22 cm. Its drive
    # axle (base_footprint) is taken as the square's centre: urdf/jetbot.urdf has the same box;
    # measure your robot and change both if yours differs.
    "jetbot": RobotType(box(0.085, -0.085, 0.085), "jetbot",
                        "Waveshare JetBot (ROS AI Kit or the I2C JetBot), 17 x 17 cm"),
    # TurtleBot3 Burger (the Gazebo stand-in), from turtlebot3_description's URDF: base
    # collision box 0.140 x 0.140 m centred 0.032 m behind the axle, wheels at y = +-0.080 m,
    # 0.018 m wide.
    "burger": RobotType(box(0.038, -0.102, 0.089), None,
                        "ROBOTIS TurtleBot3 Burger, 0.14 x 0.178 m"),
}


def nav2_footprint(points: Sequence[Point]) -> str:
    """A footprint as Nav2's ``footprint`` parameter writes it: ``"[[x, y], ...]"``."""
    return "[" + ", ".join(f"[{x:g}, {y:g}]" for x, y in points) + "]"


def robot_type(name: str) -> RobotType:
    """The robot type called ``name``, or a ValueError naming the known ones."""
    if name not in ROBOT_TYPES:
        known = "; ".join(f"{n} ({t.about})" for n, t in ROBOT_TYPES.items())
        raise ValueError(f"robot_type {name!r} is not one of {known}; or custom: the Nav2 "
                         "parameter file's own footprint")
    return ROBOT_TYPES[name]
