"""RViz markers of a resolved step: each robot's cell, goal and move (visualization_msgs)."""
from typing import Dict, List, Optional, Tuple

from geometry_msgs.msg import Point
from visualization_msgs.msg import Marker, MarkerArray

from marlgpt_planner.lattice import Lattice, yaw_to_quaternion
from marlgpt_planner.lockstep import Outcome

Cell = Tuple[int, int]
ROBOT_COLOUR = (0.1, 0.4, 0.9)
GOAL_COLOUR = (0.1, 0.8, 0.2)
BLOCKED_COLOUR = (0.9, 0.2, 0.1)


def _marker(kind: int, ns: str, marker_id: int, frame: str, stamp,
            colour: Tuple[float, float, float]) -> Marker:
    marker = Marker()
    marker.header.frame_id, marker.header.stamp = frame, stamp
    marker.ns, marker.id, marker.type, marker.action = ns, marker_id, kind, Marker.ADD
    marker.color.r, marker.color.g, marker.color.b = colour
    marker.color.a = 0.8
    marker.pose.orientation.w = 1.0
    return marker


def _point(lattice: Lattice, cell: Cell, z: float = 0.05) -> Point:
    x, y = lattice.centre(cell)
    return Point(x=float(x), y=float(y), z=z)


def fleet_markers(lattice: Lattice, outcome: Outcome, robots: List[str],
                  goals: Dict[str, Optional[Cell]], frame: str, stamp) -> MarkerArray:
    """Per robot in ``robots``: a cube on the cell it moves to, a sphere on its goal and an
    arrow for its intended move (red where the soft rule cancelled it)."""
    array = MarkerArray()
    size = lattice.cell_size
    for robot, src, dst, moved in zip(outcome.robot_ids, outcome.from_cells,
                                      outcome.to_cells, outcome.moved):
        if robot not in robots:
            continue
        cube = _marker(Marker.CUBE, robot, 0, frame, stamp, ROBOT_COLOUR)
        cube.pose.position = _point(lattice, dst)
        _, _, cube.pose.orientation.z, cube.pose.orientation.w = yaw_to_quaternion(lattice.yaw)
        cube.scale.x = cube.scale.y = 0.8 * size
        cube.scale.z = 0.05
        array.markers.append(cube)
        goal = goals.get(robot)
        if goal is not None:
            sphere = _marker(Marker.SPHERE, robot, 1, frame, stamp, GOAL_COLOUR)
            sphere.pose.position = _point(lattice, goal)
            sphere.scale.x = sphere.scale.y = sphere.scale.z = 0.4 * size
            array.markers.append(sphere)
        arrow = _marker(Marker.ARROW, robot, 2, frame, stamp,
                        ROBOT_COLOUR if moved or src == dst else BLOCKED_COLOUR)
        arrow.points = [_point(lattice, src, 0.1), _point(lattice, dst, 0.1)]
        arrow.scale.x, arrow.scale.y, arrow.scale.z = 0.05, 0.1, 0.1
        if src == dst:
            arrow.action = Marker.DELETE
        array.markers.append(arrow)
    return array
