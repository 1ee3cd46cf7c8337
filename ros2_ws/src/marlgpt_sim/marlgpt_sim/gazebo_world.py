"""A POGEMA maze as a Gazebo world: 30 cm tiles, walls, and the robots' spawn poses.

    python3 -m marlgpt_sim.gazebo_world --fleet FLEET.yaml --out DIR [--robots 3]

writes ``DIR/maze.world`` (SDF 1.6 for Gazebo Classic 11, which ROS 2 Humble's
gazebo_ros uses: a ground plane, the sun, and one static model whose box links are the walls,
consecutive wall tiles of a row merged into one box), ``DIR/maze.pgm`` + ``DIR/maze.yaml``
(the same maze as a Nav2 map_server map at 5 cm, in the fleet's map frame) and
``DIR/spawn.yaml`` (each robot's spawn pose: its start cell's centre). The world frame is the
fleet's map frame, so cell (r, c) is at ``lattice.centre((r, c))`` in both.
"""
import argparse
import re
import sys
from pathlib import Path
from typing import Dict, List, Optional, Tuple
from xml.sax.saxutils import escape

import numpy as np
import yaml

from marlgpt_planner.lattice import Lattice, render_occupancy

WALL_HEIGHT = 0.20  # m
Box = Tuple[int, int, int]  # row, first col, number of tiles


def wall_runs(obstacles: np.ndarray) -> List[Box]:
    """Walls as horizontal runs of consecutive obstacle tiles: (row, col, length)."""
    runs = []
    for row in range(obstacles.shape[0]):
        col = 0
        while col < obstacles.shape[1]:
            if obstacles[row, col]:
                start = col
                while col < obstacles.shape[1] and obstacles[row, col]:
                    col += 1
                runs.append((row, start, col - start))
            else:
                col += 1
    return runs


def world_sdf(obstacles: np.ndarray, lattice: Lattice, name: str = "marlgpt_maze",
              wall_height: float = WALL_HEIGHT) -> str:
    """The SDF text of the maze world (see the module doc)."""
    size = lattice.cell_size
    links = []
    for index, (row, col, length) in enumerate(wall_runs(obstacles)):
        x, y = lattice.centre((row, col + (length - 1) / 2))  # the run's middle
        box = f"<box><size>{length * size:.4f} {size:.4f} {wall_height:.4f}</size></box>"
        links.append(
            f'      <link name="wall_{index}">\n'
            f"        <pose>{x:.4f} {y:.4f} {wall_height / 2:.4f} 0 0 {lattice.yaw:.6f}</pose>\n"
            f'        <collision name="collision"><geometry>{box}</geometry></collision>\n'
            f'        <visual name="visual"><geometry>{box}</geometry>\n'
            "          <material><ambient>0.3 0.3 0.3 1</ambient>"
            "<diffuse>0.4 0.4 0.4 1</diffuse></material></visual>\n"
            "      </link>")
    body = "\n".join(links)
    return f"""<?xml version="1.0"?>
<sdf version="1.6">
  <world name="{escape(name)}">
    <!-- Ground and light written out, not included from model://: runs offline, with no
         GAZEBO_MODEL_PATH. -->
    <light type="directional" name="sun">
      <cast_shadows>false</cast_shadows>
      <pose>0 0 10 0 0 0</pose>
      <diffuse>0.8 0.8 0.8 1</diffuse>
      <specular>0.2 0.2 0.2 1</specular>
      <direction>-0.5 0.1 -0.9</direction>
    </light>
    <model name="ground_plane">
      <static>true</static>
      <link name="link">
        <collision name="collision">
          <geometry><plane><normal>0 0 1</normal><size>100 100</size></plane></geometry>
        </collision>
        <visual name="visual">
          <geometry><plane><normal>0 0 1</normal><size>100 100</size></plane></geometry>
          <material><ambient>0.8 0.8 0.8 1</ambient><diffuse>0.8 0.8 0.8 1</diffuse></material>
        </visual>
      </link>
    </model>
    <!-- Ground truth for tests: every model's pose on /gazebo/model_states. -->
    <plugin name="gazebo_ros_state" filename="libgazebo_ros_state.so">
      <ros><namespace>/gazebo</namespace></ros>
      <update_rate>20.0</update_rate>
    </plugin>
    <physics type="ode">
      <max_step_size>0.001</max_step_size>
      <real_time_update_rate>1000</real_time_update_rate>
    </physics>
    <model name="maze">
      <static>true</static>
{body}
    </model>
  </world>
</sdf>
"""


def namespaced_tf(model_sdf: str) -> str:
    """A robot model whose gazebo_ros plugins publish ``tf`` in the robot's namespace: they
    publish on the global ``/tf`` otherwise, where every robot's odom frames would mix."""
    remap = "<remapping>/tf:=tf</remapping>"
    out, rest = [], model_sdf
    pattern = re.compile(r"(<plugin[^>]*filename=\"libgazebo_ros_diff_drive\.so\"[^>]*>.*?)"
                         r"(<ros>)", re.S)
    match = pattern.search(rest)
    if match is None:
        raise ValueError("the robot model has no gazebo_ros diff drive plugin with a <ros> block")
    if remap in rest[match.end():rest.find("</ros>", match.end())]:
        return model_sdf
    out.append(rest[:match.end()] + remap)
    out.append(rest[match.end():])
    return "".join(out)


def write_nav2_map(obstacles: np.ndarray, lattice: Lattice, out: Path,
                   resolution: float = 0.05) -> Path:
    """``out/maze.pgm`` + ``out/maze.yaml`` for Nav2's map_server (free 254, occupied 0)."""
    data, origin_x, origin_y = render_occupancy(obstacles, lattice, resolution)
    image = np.where(data[::-1] >= 50, 0, 254).astype(np.uint8)  # PGM row 0 is the top
    height, width = image.shape
    (out / "maze.pgm").write_bytes(f"P5\n{width} {height}\n255\n".encode() + image.tobytes())
    spec = {"image": "maze.pgm", "mode": "trinary", "resolution": resolution,
            "origin": [float(origin_x), float(origin_y), 0.0], "negate": 0,
            "occupied_thresh": 0.65, "free_thresh": 0.25}
    path = out / "maze.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def spawn_poses(lattice: Lattice, starts: Dict[str, Tuple[int, int]]) -> Dict[str, dict]:
    return {robot: {"x": round(lattice.centre(cell)[0], 4), "y": round(lattice.centre(cell)[1], 4),
                    "yaw": round(lattice.yaw, 6), "cell": list(cell)}
            for robot, cell in starts.items()}


def generate(fleet_path: str, out: Path, robots: Optional[str] = None) -> Dict[str, Path]:
    """Write the world, the Nav2 map and the spawn poses for a fleet description."""
    from marlgpt_planner.fleet_config import FleetDescription

    fleet = FleetDescription.load(fleet_path, robots=robots, goals="generator")
    lattice = fleet.lattice()
    out.mkdir(parents=True, exist_ok=True)
    world = out / "maze.world"
    world.write_text(world_sdf(fleet.obstacles, lattice))
    nav_map = write_nav2_map(fleet.obstacles, lattice, out)
    spawn = out / "spawn.yaml"
    spawn.write_text(yaml.safe_dump(spawn_poses(lattice, {r.id: r.start for r in fleet.robots}),
                                    sort_keys=False))
    return {"world": world, "map": nav_map, "spawn": spawn}


def main(argv: Optional[List[str]] = None) -> int:
    from marlgpt_planner.fleet_config import DEFAULT_FLEET, FleetError

    parser = argparse.ArgumentParser(prog="python3 -m marlgpt_sim.gazebo_world",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--fleet", default=str(DEFAULT_FLEET), help="fleet description")
    parser.add_argument("--robots", default=None, help="robot count or ids (default: the "
                        "description's)")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    args = parser.parse_args(argv)
    try:
        files = generate(args.fleet, args.out, args.robots)
    except FleetError as exc:
        print(f"gazebo_world: {exc}", file=sys.stderr)
        return 2
    for kind, path in files.items():
        print(f"{kind}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
