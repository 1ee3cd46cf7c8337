"""The marlgpt planner node: SLAM map + poses + the fleet's states -> Nav2 waypoints.

One node per robot (or one for several robots, batched into one policy call). Everything
decided here follows :mod:`marlgpt_planner.lockstep`; this module is the ROS plumbing
around it: subscriptions, the fleet topics, Nav2 clients, goals, markers, diagnostics.
Parameters are documented in docs/planner.md and config/planner.yaml. Nothing here blocks:
one timer and the subscriptions' callbacks advance the protocol.
"""
import json
import math
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import PoseStamped, PoseWithCovarianceStamped
from nav_msgs.msg import OccupancyGrid
from rclpy.node import Node
from visualization_msgs.msg import MarkerArray

from marlgpt_msgs.msg import Cell as CellMsg
from marlgpt_msgs.msg import FleetStep, Goal, RobotState
from marlgpt_msgs.srv import SetGoal
from marlgpt_planner import lockstep, markers
from marlgpt_planner.actions import DELTAS, WAIT
from marlgpt_planner.encoder import Encoder, GridState
from marlgpt_planner.goals import Goals
from marlgpt_planner.grid import neighbour_distances, parse_grid
from marlgpt_planner.lattice import (
    CellTracker,
    Lattice,
    MapError,
    coarsen,
    heading,
    quaternion_to_yaw,
)
from marlgpt_planner.nav_client import NavigationClient
from marlgpt_planner.policy import ModelError, Policy, encoder_expectation
from marlgpt_planner.qos import FLEET_QOS, GOAL_QOS, LATCHED
from marlgpt_planner.ros_main import run_node

#: (name, default) of every parameter; see config/planner.yaml for their meaning.
PARAMETERS = (
    ("robots", [""]), ("fleet", [""]),
    ("lattice.origin", [0.0, 0.0]), ("lattice.cell_size", 0.30),
    ("lattice.rows", 0), ("lattice.cols", 0),
    ("map.source", "topic"), ("map.topic", "/map"), ("map.static", ""),
    ("map.occupied_threshold", 65), ("map.occupied_fraction", 0.2),
    ("map.unknown_fraction", 0.5), ("map.unknown_policy", "obstacle"),
    ("pose.topic", "pose"), ("pose.type", "PoseWithCovarianceStamped"),
    ("pose.timeout", 1.0), ("pose.hysteresis", 0.2),
    ("model.path", ""), ("model.backend", "cpu"), ("model.threads", 1),
    ("model.sample", False), ("model.seed", 0), ("model.path_weight", 0.0),
    ("goals.source", "generator"), ("goals.seed", 0), ("goals.wait", 2.0),
    ("nav.action", "navigate_to_pose"), ("nav.frame", "map"), ("nav.behavior_tree", ""),
    ("nav.tolerance", 0.05), ("nav.retries", 2), ("nav.server_timeout", 10.0),
    ("nav.step_timeout", 20.0),
    ("fleet_protocol.lost_after", 5.0), ("fleet_protocol.startup_timeout", 60.0),
    ("fleet_protocol.heartbeat", 0.5), ("fleet_protocol.resolution", "shield"),
    ("fleet_protocol.state_topic", "/fleet/state"), ("fleet_protocol.step_topic", "/fleet/step"),
    ("markers_topic", "/marlgpt/markers"), ("stats_file", ""), ("tick_rate", 20.0),
)


def robot_topic(robot: str, name: str) -> str:
    """``name`` in the robot's namespace, unless it is absolute."""
    return name if name.startswith("/") else f"/{robot}/{name}"


class RobotDriver:
    """What the node tracks for one robot it drives."""

    def __init__(self, robot_id: str, index: int, tracker: CellTracker, goals: Goals,
                 nav: NavigationClient) -> None:
        self.id = robot_id
        self.index = index
        self.tracker = tracker
        self.goals = goals
        self.nav = nav
        self.pose: Optional[tuple] = None  # (x, y, yaw, monotonic time received)
        self.ready = False
        self.status = lockstep.HOLDING
        self.message = "waiting for map and pose"
        self.report: Optional[RobotState] = None
        self.recent: Dict[tuple, RobotState] = {}  # (step, status) -> this and last step's
        self.published_at = 0.0
        self.lost = False
        # The step being moved: (step, from cell, to cell, deadline) or None.
        self.moving: Optional[tuple] = None
        self.leader: Optional[str] = None  # the robot this one follows this step
        self.goal_wait_until = 0.0

    def pose_age(self, now: float) -> float:
        return math.inf if self.pose is None else now - self.pose[3]


class PlannerNode(Node):
    def __init__(self) -> None:
        super().__init__("marlgpt_planner")
        for name, default in PARAMETERS:
            self.declare_parameter(name, default)
        p = self.get_parameter
        ns = self.get_namespace().strip("/")
        robots = [r for r in p("robots").value if r] or ([ns] if ns else [])
        fleet = [r for r in p("fleet").value if r] or robots
        if not robots or any(r not in fleet for r in robots):
            raise ValueError(f"robots {robots} must be non-empty and all in fleet {fleet}")
        origin = list(p("lattice.origin").value)
        self.lattice = Lattice(float(origin[0]), float(origin[1]),
                               float(p("lattice.cell_size").value),
                               int(p("lattice.rows").value), int(p("lattice.cols").value))
        self.map_settings = {k: p("map." + k).value for k in (
            "occupied_threshold", "occupied_fraction", "unknown_fraction", "unknown_policy")}
        self.obstacles: Optional[np.ndarray] = None
        self.fleet = lockstep.Fleet(fleet, lost_after=float(p("fleet_protocol.lost_after").value),
                                    startup_timeout=float(p("fleet_protocol.startup_timeout").value),
                                    resolution=str(p("fleet_protocol.resolution").value))
        self.policy = self._load_policy()
        self.path_weight = float(p("model.path_weight").value)
        if not (math.isfinite(self.path_weight) and self.path_weight >= 0):
            raise ValueError(f"model.path_weight must be a finite number >= 0, got "
                             f"{self.path_weight}")
        self.encoder: Optional[Encoder] = None
        self._encoder_obstacles: Optional[np.ndarray] = None
        self.step_timeout = float(p("nav.step_timeout").value)
        self.goal_wait = float(p("goals.wait").value)
        self.pose_timeout = float(p("pose.timeout").value)
        self.heartbeat = float(p("fleet_protocol.heartbeat").value)
        self.stats_file = p("stats_file").value
        self.stats: Dict[str, List[float]] = {"decision_ms": [], "pipeline_ms": []}
        self.goals_source = p("goals.source").value
        if self.goals_source not in ("generator", "topic"):
            raise ValueError(f"goals.source must be generator or topic, got {self.goals_source!r}")
        self._step_ready_at: Optional[float] = None
        self._last_diagnostics = 0.0
        self._warned: Dict[str, float] = {}
        self.halted = False

        self.state_pub = self.create_publisher(RobotState, p("fleet_protocol.state_topic").value,
                                               FLEET_QOS)
        self.step_pub = self.create_publisher(FleetStep, p("fleet_protocol.step_topic").value,
                                              FLEET_QOS)
        self.create_subscription(RobotState, p("fleet_protocol.state_topic").value,
                                 self._on_state, FLEET_QOS)
        self.create_subscription(FleetStep, p("fleet_protocol.step_topic").value,
                                 self._on_fleet_step, FLEET_QOS)
        self.marker_pub = self.create_publisher(MarkerArray, p("markers_topic").value, 10)
        self.diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)

        if p("map.source").value == "static":
            self._set_obstacles(parse_grid(p("map.static").value), "static map")
        else:
            self.create_subscription(OccupancyGrid, p("map.topic").value, self._on_map, LATCHED)

        pose_type = p("pose.type").value
        if pose_type not in ("PoseWithCovarianceStamped", "PoseStamped"):
            raise ValueError(f"pose.type must be PoseWithCovarianceStamped or PoseStamped, "
                             f"got {pose_type!r}")
        self.drivers: Dict[str, RobotDriver] = {}
        for robot in robots:
            index = fleet.index(robot)
            nav = NavigationClient(
                self, robot_topic(robot, p("nav.action").value), p("nav.frame").value,
                p("nav.behavior_tree").value, int(p("nav.retries").value),
                float(p("nav.server_timeout").value), float(p("nav.tolerance").value))
            driver = RobotDriver(robot, index, CellTracker(self.lattice,
                                                           float(p("pose.hysteresis").value)),
                                 Goals(self.goals_source if self.goals_source == "generator"
                                       else "external", seed=int(p("goals.seed").value) * 1000
                                       + index), nav)
            self.drivers[robot] = driver
            msg_type = PoseWithCovarianceStamped if pose_type.startswith("PoseWith") \
                else PoseStamped
            self.create_subscription(msg_type, robot_topic(robot, p("pose.topic").value),
                                     lambda msg, d=driver: self._on_pose(d, msg), 10)
            self.create_subscription(Goal, robot_topic(robot, "marlgpt/goal"),
                                     lambda msg, d=driver: self._on_goal(d, msg), GOAL_QOS)
            self.create_service(SetGoal, robot_topic(robot, "set_goal"),
                                lambda req, res, d=driver: self._on_set_goal(d, req, res))
        self.fleet.start_waiting(fleet, time.monotonic())
        self.create_timer(1.0 / float(p("tick_rate").value), self._tick)
        self.get_logger().info(
            f"driving {', '.join(robots)} in a fleet of {len(fleet)}; lattice "
            f"{self.lattice.rows}x{self.lattice.cols} cells of {self.lattice.cell_size} m; "
            f"model {self.policy.metadata['run_id'] if self.policy else 'none'}")

    # --- set-up -------------------------------------------------------------------------------
    def _load_policy(self) -> Optional[Policy]:
        path = self.get_parameter("model.path").value
        if not path:
            raise ModelError("model.path is not set: the planner needs an exported model")
        return Policy(path, backend=self.get_parameter("model.backend").value,
                      threads=int(self.get_parameter("model.threads").value),
                      sample=bool(self.get_parameter("model.sample").value),
                      seed=int(self.get_parameter("model.seed").value))

    def _set_obstacles(self, obstacles: np.ndarray, source: str) -> None:
        if obstacles.shape != (self.lattice.rows, self.lattice.cols):
            raise MapError(f"{source} is {obstacles.shape[0]}x{obstacles.shape[1]} cells, the "
                           f"lattice {self.lattice.rows}x{self.lattice.cols}")
        if self.obstacles is None or not np.array_equal(obstacles, self.obstacles):
            self.get_logger().info(f"coarse grid from {source}: {int(obstacles.sum())} of "
                                   f"{obstacles.size} cells blocked")
        self.obstacles = obstacles

    def _warn(self, key: str, text: str, every: float = 5.0) -> None:
        now = time.monotonic()
        if now - self._warned.get(key, -math.inf) >= every:
            self._warned[key] = now
            self.get_logger().warning(text)

    # --- inputs -------------------------------------------------------------------------------
    def _on_map(self, msg: OccupancyGrid) -> None:
        info = msg.info
        q = info.origin.orientation
        try:
            obstacles = coarsen(msg.data, info.width, info.height, info.resolution,
                                info.origin.position.x, info.origin.position.y,
                                quaternion_to_yaw(q.x, q.y, q.z, q.w), self.lattice,
                                **self.map_settings)
            self._set_obstacles(obstacles, f"map {info.width}x{info.height} @ "
                                           f"{info.resolution:.3f} m")
        except MapError as exc:
            self._warn(f"map: {exc}", f"map ignored: {exc}")
        self._advance()

    def _on_pose(self, driver: RobotDriver, msg) -> None:
        pose = msg.pose.pose if isinstance(msg, PoseWithCovarianceStamped) else msg.pose
        x, y = pose.position.x, pose.position.y
        q = pose.orientation
        now = time.monotonic()
        try:
            cell = driver.tracker.update(x, y)
        except ValueError:
            self._warn("pose-" + driver.id, f"{driver.id}: pose ignored: not finite "
                       f"({x}, {y})")
            return
        driver.pose = (x, y, quaternion_to_yaw(q.x, q.y, q.z, q.w), now)
        if cell is not None and not self.lattice.contains(cell):
            self._warn("off-" + driver.id, f"{driver.id}: pose ({x:.2f}, {y:.2f}) is outside "
                       "the lattice")
        driver.nav.pose(x, y, now)  # may report an arrival, which advances the protocol
        if not driver.ready:
            self._advance()

    def _on_goal(self, driver: RobotDriver, msg: Goal) -> None:
        if msg.robot_id and msg.robot_id != driver.id:
            return
        driver.goals.offer(msg.sequence, (msg.cell.row, msg.cell.col))
        self._advance()

    def _on_set_goal(self, driver: RobotDriver, request, response):
        cell = (request.goal.row, request.goal.col)
        if request.robot_id and request.robot_id != driver.id:
            response.accepted, response.message = False, f"this is {driver.id}'s service"
        elif not self.lattice.contains(cell):
            response.accepted, response.message = False, f"cell {cell} is outside the grid"
        elif self.obstacles is not None and self.obstacles[cell]:
            response.accepted, response.message = False, f"cell {cell} is an obstacle"
        else:
            driver.goals.replace(cell)
            response.accepted, response.message = True, ""
        return response

    def _on_state(self, msg: RobotState) -> None:
        now = time.monotonic()
        self.fleet.heard(msg.robot_id, now)
        if msg.robot_id in self.drivers:
            return  # our own robots' states go to the fleet directly
        self.fleet.receive(_report(msg), now)
        self._advance()

    def _on_fleet_step(self, msg: FleetStep) -> None:
        for robot in msg.lost_robot_ids:
            if robot in self.drivers and not self.drivers[robot].lost:
                driver = self.drivers[robot]
                driver.lost = True
                driver.nav.cancel()
                driver.status, driver.message = lockstep.HOLDING, "the fleet lost this robot"
                self.get_logger().error(f"{robot}: the fleet treats this robot as lost; it "
                                        "holds until the fleet is restarted")
            if robot not in self.fleet.lost:
                self.fleet.mark_lost(robot)

    # --- the protocol ---------------------------------------------------------------------------
    def _tick(self) -> None:
        now = time.monotonic()
        for driver in self.drivers.values():
            driver.nav.tick(now)
            if driver.moving is not None and now > driver.moving[3]:
                self._timed_out(driver, f"not at {driver.moving[2]} after "
                                        f"{self.step_timeout:.0f} s")
            if driver.goals.waiting and driver.goals.poll():
                self._advance()
        self._advance()
        for driver in self.drivers.values():
            if now - driver.published_at >= self.heartbeat:  # quiet robot: repeat its states
                driver.published_at = now
                for msg in driver.recent.values():  # so a missed message is never fatal
                    self.state_pub.publish(msg)
        if now - self._last_diagnostics >= 1.0:
            self._last_diagnostics = now
            self._publish_diagnostics(now)

    def _advance(self) -> None:
        now = time.monotonic()
        for driver in self.drivers.values():
            if driver.moving is not None and driver.leader is not None:
                self._follow(driver, now)
        for robot in self.fleet.check_lost(now):
            self.get_logger().error(f"{robot} stopped answering: treated as an obstacle from "
                                    f"step {self.fleet.step} on")
        self._announce_ready(now)
        if self.fleet.can_start():
            if self._step_ready_at is None:
                self._step_ready_at = now
            self._propose()
        if self.fleet.can_resolve():
            self._execute(self.fleet.resolve(), now)

    def _announce_ready(self, now: float) -> None:
        """Step 0: a robot is ready once map, pose (a cell) and a goal are known."""
        if self.obstacles is None:
            for driver in self.drivers.values():
                driver.message = "waiting for the map"
            return
        for driver in self.drivers.values():
            if driver.ready or driver.lost:
                continue
            cell = driver.tracker.cell
            if cell is None or driver.pose_age(now) > self.pose_timeout:
                driver.message = "waiting for a pose"
                continue
            if not self.lattice.contains(cell):
                driver.message = f"pose cell {cell} is outside the lattice"
                continue
            goal = driver.goals.ensure(self.obstacles, cell)
            if goal is None:
                driver.message = "waiting for a goal"
                continue
            driver.ready = True
            driver.status, driver.message = lockstep.ARRIVED, "ready"
            self._publish(driver, 0, lockstep.ARRIVED, cell, cell, goal)

    def _propose(self) -> None:
        starts = self.fleet.start()
        ours = [d for d in self.drivers.values() if d.id in starts and not d.lost]
        if not ours:
            return
        started = time.perf_counter()
        rankings = self._decide(ours)
        self.stats["decision_ms"].append((time.perf_counter() - started) * 1e3)
        now = time.monotonic()
        for driver, ranking in zip(ours, rankings):
            cell, goal = starts[driver.id]
            if driver.pose_age(now) > self.pose_timeout:
                ranking = [WAIT]  # stale or absent pose: hold in place
                driver.status = lockstep.HOLDING
                driver.message = f"pose is {driver.pose_age(now):.1f} s old: holding"
                self._warn("stale-" + driver.id, f"{driver.id}: {driver.message}")
            action = ranking[0]
            intended = (cell[0] + int(DELTAS[action][0]), cell[1] + int(DELTAS[action][1]))
            self._publish(driver, self.fleet.step, lockstep.PROPOSING, cell, intended, goal,
                          action, ranking if self.fleet.resolution == "shield" else ())

    def _decide(self, ours: List[RobotDriver]) -> List[List[int]]:
        """One batched policy call for our robots, on the whole fleet's state: each robot's
        ranking of its actions (under the soft rule, just the chosen action)."""
        positions, goals, history = self.fleet.grid_state()
        encoder = self._encoder()
        order = {robot: i for i, robot in enumerate(self.fleet.live)}
        rows = [order[d.id] for d in ours]
        observation = encoder.encode(GridState(positions, goals, history))
        values, mask = observation.values[rows], observation.action_mask[rows]
        if self.fleet.resolution == "shield":
            path_left = None
            if self.path_weight:
                path_left = neighbour_distances(encoder.fields, positions[rows], goals[rows])
            return self.policy.rank(values, mask, path_left=path_left,
                                    path_weight=self.path_weight)
        return [[int(a)] for a in self.policy.act(values, mask)]

    def _encoder(self) -> Encoder:
        obstacles = self.obstacles.copy()
        for cell in self.fleet.lost_cells:
            if self.lattice.contains(cell):
                obstacles[cell] = True
        for robot in self.fleet.live:
            obstacles[self.fleet.positions[robot]] = False
        if self.encoder is None or not np.array_equal(obstacles, self._encoder_obstacles):
            meta = self.policy.metadata
            self.encoder = Encoder(obstacles, int(meta["radius"]), int(meta["history"]),
                                   int(meta["neighbours"]))
            self.policy.check(encoder_expectation(self.encoder))
            self._encoder_obstacles = obstacles
        return self.encoder

    def _execute(self, outcome: lockstep.Outcome, now: float) -> None:
        if outcome.robot_ids and outcome.robot_ids[0] in self.drivers:
            self.step_pub.publish(_fleet_step_msg(outcome, self.get_clock().now().to_msg()))
        for robot, src, dst in zip(outcome.robot_ids, outcome.from_cells, outcome.to_cells):
            driver = self.drivers.get(robot)
            if driver is None or driver.lost:
                continue
            report = driver.report
            goal = (report.goal_cell.row, report.goal_cell.col)
            if src == dst:
                self._arrived(driver, outcome.step, dst, now)
                continue
            driver.moving = (outcome.step, src, dst, now + self.step_timeout)
            driver.status, driver.message = lockstep.MOVING, f"moving {src} -> {dst}"
            # The ranking rides along, so a planner that missed the proposal resolves the same.
            self._publish(driver, outcome.step, lockstep.MOVING, src, dst, goal,
                          report.action, report.ranking)
            driver.leader = lockstep.followed(outcome, robot)
            if driver.leader is None:
                self._go(driver, now)
            else:
                driver.message = f"moving {src} -> {dst} once {driver.leader} has left it"
                self._follow(driver, now)
        if self._step_ready_at is not None and outcome.step > 1:  # step 1 includes start-up
            self.stats["pipeline_ms"].append((time.monotonic() - self._step_ready_at) * 1e3)
        self._step_ready_at = None
        self._publish_markers(outcome)
        if outcome.step % 50 == 0:
            self._write_stats()

    def _go(self, driver: RobotDriver, now: float) -> None:
        step, src, dst, _ = driver.moving
        x, y = self.lattice.centre(dst)
        driver.nav.go(x, y, heading(src, dst), now,
                      lambda ok, why, d=driver, s=step: self._nav_done(d, s, ok, why))

    def _follow(self, driver: RobotDriver, now: float) -> None:
        """A follower starts once the robot it follows has left its target cell; if that
        robot is lost or ended the step still there, the follower stays where it is."""
        step, src, dst, _ = driver.moving
        leader = driver.leader
        if leader in self.fleet.lost:
            ended = dst
        else:
            ended = self.fleet.end_cell(leader, step)
        if ended is None:
            return
        driver.leader = None
        if ended == dst:
            self.get_logger().warning(f"{driver.id}: {leader} did not leave {dst}: staying at "
                                      f"{src} this step")
            self._arrived(driver, step, src, now)
        else:
            self._go(driver, now)

    def _nav_done(self, driver: RobotDriver, step: int, ok: bool, why: str) -> None:
        if driver.moving is None or driver.moving[0] != step:
            return
        if ok:
            self._arrived(driver, step, driver.moving[2], time.monotonic())
        else:
            self._timed_out(driver, why)
        self._advance()

    def _arrived(self, driver: RobotDriver, step: int, cell: tuple, now: float) -> None:
        driver.moving = None
        driver.goals.arrived(self.obstacles, cell)
        if driver.pose_age(now) <= self.pose_timeout:
            driver.status, driver.message = lockstep.ARRIVED, f"at {cell}"
        self._publish(driver, step, lockstep.ARRIVED, cell, cell, driver.goals.current or cell)

    def _timed_out(self, driver: RobotDriver, why: str) -> None:
        step, src, dst, _ = driver.moving
        driver.moving = None
        driver.leader = None
        driver.nav.cancel()
        cell = driver.tracker.cell if driver.tracker.cell in (src, dst) else src
        driver.status, driver.message = lockstep.TIMED_OUT, f"step {step}: {why}; at {cell}"
        self.get_logger().warning(f"{driver.id}: {driver.message}")
        driver.goals.arrived(self.obstacles, cell)
        self._publish(driver, step, lockstep.TIMED_OUT, cell, cell, driver.goals.current or cell)

    def _publish(self, driver: RobotDriver, step: int, status: int, current, intended, goal,
                 action: int = 0, ranking: Sequence[int] = ()) -> None:
        msg = RobotState()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.header.frame_id = self.get_parameter("nav.frame").value
        msg.robot_id, msg.step, msg.status, msg.action = driver.id, step, status, int(action)
        msg.ranking = [int(a) for a in ranking]
        msg.current_cell = _cell(current)
        msg.intended_cell = _cell(intended)
        msg.goal_cell = _cell(goal)
        msg.goals_reached = driver.goals.reached
        if driver.pose is not None:
            msg.pose.position.x, msg.pose.position.y = driver.pose[0], driver.pose[1]
        driver.report = msg
        driver.recent[step, status] = msg
        driver.published_at = time.monotonic()
        for key in [k for k in driver.recent if k[0] < step - 1]:
            del driver.recent[key]
        self.state_pub.publish(msg)
        self.fleet.receive(_report(msg), time.monotonic())

    # --- outputs for people ---------------------------------------------------------------------
    def _publish_markers(self, outcome: lockstep.Outcome) -> None:
        ours = [r for r in outcome.robot_ids if r in self.drivers]
        goals = {r: self.fleet.goals.get(r) for r in ours}
        self.marker_pub.publish(markers.fleet_markers(
            self.lattice, outcome, ours, goals, self.get_parameter("nav.frame").value,
            self.get_clock().now().to_msg()))

    def _publish_diagnostics(self, now: float) -> None:
        array = DiagnosticArray()
        array.header.stamp = self.get_clock().now().to_msg()
        for driver in self.drivers.values():
            status = DiagnosticStatus()
            status.name = f"marlgpt_planner: {driver.id}"
            status.hardware_id = driver.id
            level = DiagnosticStatus.OK
            if driver.lost or self.obstacles is None:
                level = DiagnosticStatus.ERROR
            elif driver.status in (lockstep.HOLDING, lockstep.TIMED_OUT) or \
                    driver.pose_age(now) > self.pose_timeout:
                level = DiagnosticStatus.WARN
            status.level = level
            status.message = driver.message
            values = {"step": self.fleet.step, "cell": driver.tracker.cell,
                      "goal": driver.goals.current, "goals_reached": driver.goals.reached,
                      "pose_age_s": round(min(driver.pose_age(now), 1e9), 3),
                      "lost_robots": ",".join(self.fleet.lost),
                      "decision_ms_last": round(self.stats["decision_ms"][-1], 3)
                      if self.stats["decision_ms"] else ""}
            status.values = [KeyValue(key=k, value=str(v)) for k, v in values.items()]
            array.status.append(status)
        self.diag_pub.publish(array)

    def _write_stats(self) -> None:
        if not self.stats_file:
            return
        data = {"robots": list(self.drivers), "steps": self.fleet.step - 1,
                "goals_reached": {d.id: d.goals.reached for d in self.drivers.values()},
                "lost": list(self.fleet.lost), **self.stats}
        path = Path(self.stats_file)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        partial.write_text(json.dumps(data))
        partial.replace(path)


def _cell(cell) -> CellMsg:
    return CellMsg(row=int(cell[0]), col=int(cell[1]))


def _report(msg: RobotState) -> lockstep.Report:
    return lockstep.Report(msg.robot_id, msg.step, msg.status,
                           (msg.current_cell.row, msg.current_cell.col),
                           (msg.intended_cell.row, msg.intended_cell.col),
                           (msg.goal_cell.row, msg.goal_cell.col), msg.goals_reached,
                           tuple(int(a) for a in msg.ranking))


def _fleet_step_msg(outcome: lockstep.Outcome, stamp) -> FleetStep:
    msg = FleetStep()
    msg.header.stamp = stamp
    msg.header.frame_id = "grid"
    msg.step = outcome.step
    order = sorted(range(len(outcome.robot_ids)), key=lambda i: outcome.robot_ids[i])
    msg.robot_ids = [outcome.robot_ids[i] for i in order]
    msg.from_cells = [_cell(outcome.from_cells[i]) for i in order]
    msg.to_cells = [_cell(outcome.to_cells[i]) for i in order]
    msg.moved = [outcome.moved[i] for i in order]
    msg.lost_robot_ids = list(outcome.lost)
    return msg


def main(args=None) -> None:
    run_node(PlannerNode, "marlgpt_planner", errors=(ModelError, MapError, ValueError),
             on_exit=lambda node: node._write_stats(), args=args)


if __name__ == "__main__":
    main()
