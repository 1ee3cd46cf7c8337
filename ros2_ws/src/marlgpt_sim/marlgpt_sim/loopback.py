"""The loopback simulator: the world the planners see in the demo and in CI.

Like Nav2's loopback simulator, it stands in for robots, SLAM and Nav2 at once:

* publishes a SLAM-like ``nav_msgs/OccupancyGrid`` of the maze on ``/map`` (5 cm pixels,
  reliable + transient_local; optionally speckled with noise and growing from the robots'
  start area, its origin moving as it grows, like SLAM Toolbox's: ``map.grow`` reveals one
  more cell all round every ``map.grow_period`` s once the fleet has taken its first step,
  as the robots explore, so every planner sees the map grow however slowly it started);
* delivers each robot's pose the way ``pose.mode`` says a real localizer does
  (:mod:`marlgpt_sim.pose_feed`): ``tf`` (``/ROBOT/tf``: map -> odom -> base_footprint at
  30 Hz, the odometry drifting and map -> odom correcting it; ``/ROBOT/tf_static``),
  ``amcl`` (TF plus a transient-local ``/ROBOT/amcl_pose`` on start and after 0.25 m or
  0.2 rad), ``slam`` (TF plus ``/ROBOT/pose`` on start and after 0.5 m or 0.5 rad) or
  ``stream`` (``/ROBOT/pose`` at ``pose.rate``, no TF);
* serves ``nav2_msgs/action/NavigateToPose`` on ``/ROBOT/navigate_to_pose``: the robot glides
  to the goal in ``motion.time`` seconds per cell (+- ``motion.jitter``), a new goal preempts
  (aborts) the running one as in Nav2;
* counts collisions itself (:class:`marlgpt_sim.world.World`), independently of the
  planners;
* with ``pogema.seed >= 0``, steps a POGEMA lifelong environment on the same map in lock-step
  with the fleet: robots start where POGEMA puts its agents, get POGEMA's goals (on
  ``/ROBOT/marlgpt/goal``), and every resolved ``/fleet/step`` is checked against POGEMA's
  own step, so the fleet's throughput is POGEMA's; a move starts only once POGEMA has taken
  the step it belongs to, so a robot that reaches its goal has its next one before it
  arrives, however late ``/fleet/step`` comes in (a slow machine takes the same steps);
* on shutdown writes a summary JSON and an animated SVG of the run.

Faults for tests: ``faults.abort`` ("robot:n" aborts that robot's n-th goal) and
``faults.pose_gap`` ("robot:start:seconds" stops its pose ``start`` s after the first step).
"""
import json
import math
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np
from action_msgs.msg import GoalStatus  # noqa: F401  (documents the statuses used)
from geometry_msgs.msg import PoseWithCovarianceStamped, TransformStamped
from nav_msgs.msg import OccupancyGrid
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.node import Node
from rclpy.task import Future
from tf2_msgs.msg import TFMessage

from marlgpt_msgs.msg import FleetStep, Goal
from marlgpt_planner.grid import parse_grid
from marlgpt_planner.lattice import Lattice, quaternion_to_yaw, render_occupancy
from marlgpt_planner.ros.process import run_node
from marlgpt_planner.ros.qos import (
    AMCL_POSE_QOS,
    FLEET_QOS,
    GOAL_QOS,
    LATCHED,
    TF_QOS,
    TF_STATIC_QOS,
)
from marlgpt_sim.animation import write_svg
from marlgpt_sim.pose_feed import GATES, MODES, DriftingOdometry, PublishGate
from marlgpt_sim.world import World

PARAMETERS = (
    ("robots", [""]), ("starts", [-1]), ("map.grid", ""),
    ("lattice.origin", [0.0, 0.0]), ("lattice.cell_size", 0.30), ("lattice.yaw", 0.0),
    ("map.resolution", 0.05), ("map.noise", 0.0), ("map.pad", 0.3), ("map.period", 2.0),
    ("map.grow", False), ("map.grow_period", 1.0),
    ("motion.time", 0.5), ("motion.jitter", 0.2), ("pose.mode", "stream"),
    ("pose.rate", 30.0), ("seed", 0),
    ("pogema.seed", -1), ("pogema.obs_radius", 5),
    ("faults.abort", [""]), ("faults.pose_gap", [""]),
    ("summary_file", ""), ("animation_file", ""), ("fleet_protocol.step_topic", "/fleet/step"),
)


class LoopbackSim(Node):
    def __init__(self) -> None:
        super().__init__("loopback_sim")
        for name, default in PARAMETERS:
            self.declare_parameter(name, default)
        p = self.get_parameter
        self.robots = [r for r in p("robots").value if r]
        if not self.robots:
            raise ValueError("robots is empty")
        self.obstacles = parse_grid(p("map.grid").value)
        rows, cols = self.obstacles.shape
        origin = list(p("lattice.origin").value)
        self.lattice = Lattice(float(origin[0]), float(origin[1]),
                               float(p("lattice.cell_size").value), rows, cols,
                               float(p("lattice.yaw").value))
        self.rng = np.random.default_rng(int(p("seed").value))
        self.motion_time = float(p("motion.time").value)
        self.jitter = float(p("motion.jitter").value)
        self.env = None
        self.goal_sequence = {r: 0 for r in self.robots}
        self.goals: Dict[str, Optional[Tuple[int, int]]] = {r: None for r in self.robots}
        self.pogema_checked = 0
        self.pogema_mismatches: List[dict] = []
        self.pogema_goals = 0
        self.pogema_goals_per_step: List[int] = []
        if int(p("pogema.seed").value) >= 0:
            starts = self._start_pogema(int(p("pogema.seed").value),
                                        int(p("pogema.obs_radius").value))
        else:
            flat = [int(v) for v in p("starts").value]
            if len(flat) != 2 * len(self.robots) or min(flat) < 0:
                raise ValueError("starts must hold row, col per robot (or set pogema.seed)")
            starts = [(flat[2 * i], flat[2 * i + 1]) for i in range(len(self.robots))]
        for cell in starts:
            if not self.lattice.contains(cell) or self.obstacles[cell]:
                raise ValueError(f"start cell {cell} is outside the map or an obstacle")
        self.world = World(self.lattice, self.robots, starts)
        self.faults_abort = _parse_faults(p("faults.abort").value, 2)
        self.faults_gap = _parse_faults(p("faults.pose_gap").value, 3)
        self.goal_counts = {r: 0 for r in self.robots}
        self.handles: Dict[str, Optional[tuple]] = {r: None for r in self.robots}
        self.first_step_at: Optional[float] = None
        self.steps_seen = set()
        self._pending: Dict[int, FleetStep] = {}
        self._next_step = 1
        self._last_to: Dict[str, Tuple[int, int]] = {}  # each robot's cell after POGEMA's step
        self._held: Dict[str, tuple] = {}  # moves waiting for POGEMA to take their step
        self.frames: List[tuple] = []
        self.started = time.monotonic()

        self.map_pub = self.create_publisher(OccupancyGrid, "/map", LATCHED)
        self._start_pose_feed(str(p("pose.mode").value))
        self.goal_pubs = {r: self.create_publisher(Goal, f"/{r}/marlgpt/goal", GOAL_QOS)
                          for r in self.robots}
        from nav2_msgs.action import NavigateToPose

        self._result_type = NavigateToPose.Result
        self._feedback_type = NavigateToPose.Feedback
        self.servers = [
            ActionServer(self, NavigateToPose, f"/{r}/navigate_to_pose",
                         execute_callback=self._executor(r),
                         goal_callback=lambda g: GoalResponse.ACCEPT,
                         cancel_callback=lambda h: CancelResponse.ACCEPT,
                         handle_accepted_callback=lambda h, r=r: self._accepted(r, h))
            for r in self.robots]
        self.create_subscription(FleetStep, p("fleet_protocol.step_topic").value,
                                 self._on_step, FLEET_QOS)
        self.reveal = self._initial_reveal(starts) if p("map.grow").value else None
        self._publish_map()
        self._publish_goals()
        self.create_timer(float(p("map.period").value), self._publish_map)
        if self.reveal is not None:
            self.create_timer(float(p("map.grow_period").value), self._grow)
        self.create_timer(1.0 / float(p("pose.rate").value), self._tick)
        self.get_logger().info(f"loopback sim: {len(self.robots)} robots on a {rows}x{cols} "
                               f"map; POGEMA lock-step {'on' if self.env else 'off'}")

    # --- POGEMA ---------------------------------------------------------------------------------
    def _start_pogema(self, seed: int, obs_radius: int) -> List[Tuple[int, int]]:
        from pogema import GridConfig, pogema_v0

        grid = "\n".join("".join("#" if v else "." for v in row) for row in self.obstacles)
        config = GridConfig(map=grid, num_agents=len(self.robots), seed=seed,
                            on_target="restart", max_episode_steps=1 << 30,
                            collision_system="soft", observation_type="POMAPF",
                            obs_radius=obs_radius)
        self.env = pogema_v0(config)
        self.env.reset()
        g = self.env.unwrapped.grid
        starts = [tuple(int(v) for v in xy) for xy in g.get_agents_xy(ignore_borders=True)]
        for robot, target in zip(self.robots, g.get_targets_xy(ignore_borders=True)):
            self._set_goal(robot, tuple(int(v) for v in target))
        return starts

    def _set_goal(self, robot: str, cell: Tuple[int, int]) -> None:
        self.goal_sequence[robot] += 1
        self.goals[robot] = cell

    def _publish_goals(self, robots: Optional[List[str]] = None) -> None:
        for robot in robots or self.robots:
            if self.goals[robot] is None:
                continue
            msg = Goal()
            msg.header.stamp = self.get_clock().now().to_msg()
            msg.robot_id, msg.sequence = robot, self.goal_sequence[robot]
            msg.cell.row, msg.cell.col = self.goals[robot]
            self.goal_pubs[robot].publish(msg)

    def _on_step(self, msg: FleetStep) -> None:
        if msg.step in self.steps_seen:
            return
        self.steps_seen.add(msg.step)
        if self.first_step_at is None:
            self.first_step_at = time.monotonic()
        self._pending[msg.step] = msg
        stepped = False
        while self._next_step in self._pending:  # POGEMA steps strictly in order
            self._step_pogema(self._pending.pop(self._next_step))
            self._next_step += 1
            stepped = True
        for robot in list(self._held) if stepped else ():  # their step has been taken
            self._start_move(robot, *self._held.pop(robot))

    def _step_pogema(self, msg: FleetStep) -> None:
        if self.env is None:
            return
        if msg.lost_robot_ids or sorted(msg.robot_ids) != sorted(self.robots):
            self.get_logger().warning("a robot was lost: POGEMA lock-step stops")
            self.env = None
            return
        from marlgpt_planner.actions import between

        to = {r: (c.row, c.col) for r, c in zip(msg.robot_ids, msg.to_cells)}
        frm = {r: (c.row, c.col) for r, c in zip(msg.robot_ids, msg.from_cells)}
        self._last_to.update(to)
        actions = [between(frm[r], to[r]) for r in self.robots]
        _, rewards, _, _, _ = self.env.step(actions)
        g = self.env.unwrapped.grid
        positions = [tuple(int(v) for v in xy) for xy in g.get_agents_xy(ignore_borders=True)]
        self.pogema_checked += 1
        for robot, cell in zip(self.robots, positions):
            if cell != to[robot]:
                self.pogema_mismatches.append({"step": msg.step, "robot": robot,
                                               "fleet": list(to[robot]), "pogema": list(cell)})
        self.pogema_goals += int(round(sum(rewards)))
        self.pogema_goals_per_step.append(int(round(sum(rewards))))
        changed = []
        for robot, target in zip(self.robots, g.get_targets_xy(ignore_borders=True)):
            target = tuple(int(v) for v in target)
            if target != self.goals[robot] or rewards[self.robots.index(robot)] > 0:
                self._set_goal(robot, target)
                changed.append(robot)
        if changed:
            self._publish_goals(changed)

    # --- Nav2 stand-in --------------------------------------------------------------------------
    def _accepted(self, robot: str, handle) -> None:
        previous = self.handles[robot]
        if previous is not None:
            previous[1].set_result("aborted")  # preempted, as Nav2 aborts the old goal
        self._held.pop(robot, None)
        self.goal_counts[robot] += 1
        done = Future()
        pose = handle.request.pose.pose
        target = (pose.position.x, pose.position.y)
        q = pose.orientation
        self.handles[robot] = (handle, done, target)
        x, y, _ = self.world.pose[robot]
        cells = max(math.hypot(target[0] - x, target[1] - y) / self.lattice.cell_size, 0.05)
        duration = self.motion_time * cells * (1.0 + self.jitter * self.rng.uniform(-1, 1))
        if self.goal_counts[robot] in self.faults_abort.get(robot, ()):
            self.get_logger().warning(f"fault: aborting {robot}'s goal "
                                      f"{self.goal_counts[robot]}")
            self.handles[robot] = None
            done.set_result("aborted")
        elif self.env is not None and self._last_to.get(robot) != self.lattice.cell_at(*target):
            # POGEMA has not taken this move's step yet (/fleet/step is late): the robot
            # starts once it has, so the goals that step replaces are out before it arrives.
            self._held[robot] = (target, quaternion_to_yaw(q.x, q.y, q.z, q.w), duration)
        else:
            self._start_move(robot, target, quaternion_to_yaw(q.x, q.y, q.z, q.w), duration)
        handle.execute()

    def _start_move(self, robot: str, target: Tuple[float, float], yaw: float,
                    duration: float) -> None:
        self.world.start(robot, target, yaw, time.monotonic(), duration)

    def _executor(self, robot: str):
        """rclpy awaits the execute callback only if inspect.iscoroutinefunction says so,
        which on Python 3.8 is false for a functools.partial: give it a real coroutine."""
        async def execute(handle):
            return await self._execute(robot, handle)
        return execute

    async def _execute(self, robot: str, handle):
        entry = self.handles[robot]
        if entry is None or entry[0] is not handle:
            done = Future()
            done.set_result("aborted")
        else:
            done = entry[1]
        outcome = await done
        if outcome == "succeeded":
            handle.succeed()
        elif outcome == "canceled":
            handle.canceled()
        else:
            handle.abort()
        return self._result_type()

    # --- the clock ------------------------------------------------------------------------------
    def _tick(self) -> None:
        now = time.monotonic()
        step = max(self.steps_seen) if self.steps_seen else 0
        for robot in self.robots:
            entry = self.handles[robot]
            if entry is not None and entry[0].is_cancel_requested:
                self.world.stop(robot)
                self._held.pop(robot, None)
                self.handles[robot] = None
                entry[1].set_result("canceled")
        for robot in self.world.advance(now, step):
            entry = self.handles[robot]
            if entry is not None:
                self.handles[robot] = None
                entry[1].set_result("succeeded")
        stamp = self.get_clock().now().to_msg()
        for robot in self.robots:
            if not self._pose_gap(robot, now):
                self._publish_pose(robot, self.world.pose[robot], now, stamp)
        if self.steps_seen:
            self.frames.append((now, {r: self.lattice.to_grid(*self.world.pose[r][:2])
                                      for r in self.robots}, dict(self.goals)))

    # --- localization ---------------------------------------------------------------------------
    def _start_pose_feed(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"pose.mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.pose_mode = mode
        self.pose_pubs, self.tf_pubs, self.gates, self.odometry = {}, {}, {}, {}
        self.static_pubs = {}
        for robot in self.robots:
            if mode != "stream":
                self.tf_pubs[robot] = self.create_publisher(TFMessage, f"/{robot}/tf", TF_QOS)
                self.odometry[robot] = DriftingOdometry(self.world.pose[robot], self.rng)
                static = self.create_publisher(TFMessage, f"/{robot}/tf_static", TF_STATIC_QOS)
                static.publish(TFMessage(transforms=[_transform(
                    "base_footprint", "base_link", (0.0, 0.0, 0.0),
                    self.get_clock().now().to_msg())]))
                self.static_pubs[robot] = static
            if mode == "amcl":
                self.pose_pubs[robot] = self.create_publisher(
                    PoseWithCovarianceStamped, f"/{robot}/amcl_pose", AMCL_POSE_QOS)
            elif mode in ("slam", "stream"):
                self.pose_pubs[robot] = self.create_publisher(PoseWithCovarianceStamped,
                                                              f"/{robot}/pose", 10)
            if mode in GATES:
                self.gates[robot] = PublishGate(GATES[mode])

    def _publish_pose(self, robot: str, pose: Tuple[float, float, float], now: float,
                      stamp) -> None:
        if robot in self.tf_pubs:
            map_odom, odom_base = self.odometry[robot].update(pose, now)
            self.tf_pubs[robot].publish(TFMessage(transforms=[
                _transform("map", "odom", map_odom, stamp),
                _transform("odom", "base_footprint", odom_base, stamp)]))
        if robot in self.pose_pubs and (robot not in self.gates or self.gates[robot].due(pose)):
            x, y, yaw = pose
            msg = PoseWithCovarianceStamped()
            msg.header.stamp, msg.header.frame_id = stamp, "map"
            msg.pose.pose.position.x, msg.pose.pose.position.y = x, y
            msg.pose.pose.orientation.z, msg.pose.pose.orientation.w = (math.sin(yaw / 2),
                                                                        math.cos(yaw / 2))
            self.pose_pubs[robot].publish(msg)

    def _pose_gap(self, robot: str, now: float) -> bool:
        if self.first_step_at is None:
            return False
        for start, seconds in self.faults_gap.get(robot, ()):
            if 0 <= now - self.first_step_at - start < seconds:
                return True
        return False

    # --- the map --------------------------------------------------------------------------------
    def _initial_reveal(self, starts) -> List[int]:
        rows = [c[0] for c in starts]
        cols = [c[1] for c in starts]
        return [max(min(rows) - 3, 0), max(min(cols) - 3, 0),
                min(max(rows) + 4, self.lattice.rows), min(max(cols) + 4, self.lattice.cols)]

    def _grow(self) -> None:
        if self.first_step_at is None:  # nobody has moved yet: nothing new explored
            return
        r0, c0, r1, c1 = self.reveal
        self.reveal = [max(r0 - 1, 0), max(c0 - 1, 0), min(r1 + 1, self.lattice.rows),
                       min(c1 + 1, self.lattice.cols)]

    def _publish_map(self) -> None:
        p = self.get_parameter
        resolution = float(p("map.resolution").value)
        obstacles, lattice = self.obstacles, self.lattice
        if self.reveal is not None:
            r0, c0, r1, c1 = self.reveal
            obstacles = self.obstacles[r0:r1, c0:c1]
            corner = lattice.centre((r0 - 0.5, c0 - 0.5))  # the outer corner of cell (r0, c0)
            lattice = lattice._replace(origin_x=corner[0], origin_y=corner[1], rows=r1 - r0,
                                       cols=c1 - c0)
        data, ox, oy = render_occupancy(obstacles, lattice, resolution,
                                        pad=float(p("map.pad").value),
                                        noise=float(p("map.noise").value), rng=self.rng)
        msg = OccupancyGrid()
        msg.header.stamp, msg.header.frame_id = self.get_clock().now().to_msg(), "map"
        msg.info.resolution = resolution
        msg.info.height, msg.info.width = data.shape
        msg.info.origin.position.x, msg.info.origin.position.y = ox, oy
        msg.info.origin.orientation.w = 1.0
        msg.data = data.reshape(-1).tolist()
        self.map_pub.publish(msg)

    # --- the end --------------------------------------------------------------------------------
    def summary(self) -> dict:
        steps = max(self.steps_seen) if self.steps_seen else 0
        return {"robots": len(self.robots), "steps": steps,
                "collisions": dict(self.world.collisions, total=sum(
                    self.world.collisions.values())),
                "collision_events": self.world.events[:50],
                "pogema": {"lockstep": self.pogema_checked > 0, "checked_steps":
                           self.pogema_checked, "mismatches": len(self.pogema_mismatches),
                           "first_mismatches": self.pogema_mismatches[:10],
                           "goals_reached": self.pogema_goals,
                           "goals_per_step": self.pogema_goals_per_step},
                "distance_m": {r: round(d, 3) for r, d in self.world.distance.items()},
                "goals_sent": self.goal_counts,
                "seconds": round(time.monotonic() - self.started, 3)}

    def write_outputs(self) -> None:
        p = self.get_parameter
        if p("summary_file").value:
            path = Path(p("summary_file").value)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(self.summary(), indent=2) + "\n")
        if p("animation_file").value:
            write_svg(Path(p("animation_file").value), self.obstacles, self.robots, self.frames)


def _transform(parent: str, child: str, pose: Tuple[float, float, float],
               stamp) -> TransformStamped:
    msg = TransformStamped()
    msg.header.stamp, msg.header.frame_id, msg.child_frame_id = stamp, parent, child
    msg.transform.translation.x, msg.transform.translation.y = pose[0], pose[1]
    msg.transform.rotation.z = math.sin(pose[2] / 2)
    msg.transform.rotation.w = math.cos(pose[2] / 2)
    return msg


def _parse_faults(entries, fields: int) -> Dict[str, list]:
    faults: Dict[str, list] = {}
    for entry in entries:
        if not entry:
            continue
        parts = entry.split(":")
        if len(parts) != fields:
            raise ValueError(f"fault {entry!r}: expected {fields} ':'-separated fields")
        values = [float(v) for v in parts[1:]]
        faults.setdefault(parts[0], []).append(int(values[0]) if fields == 2 else tuple(values))
    return faults


def main(args=None) -> None:
    run_node(LoopbackSim, "loopback_sim", on_exit=lambda node: node.write_outputs(), args=args)


if __name__ == "__main__":
    main()
