"""The marlgpt planner node: map + poses + the fleet's states -> Nav2 waypoints.

One node per robot (or one for several robots, batched into one policy call). This module
is wiring: parameters (:mod:`~marlgpt_planner.parameters`, checked before anything starts),
subscriptions, the fleet topics, Nav2 clients, goals, markers and diagnostics. What each
robot does in a step is :mod:`~marlgpt_planner.robot`; what the fleet does,
:mod:`~marlgpt_planner.lockstep`. Nothing here blocks: one timer and the callbacks advance
the protocol, and an exception in a callback is logged and reported on /diagnostics instead
of ending the node (:func:`~marlgpt_planner.ros_main.run_node`).
"""
import json
import math
import time
import traceback
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import PoseStamped, PoseWithCovarianceStamped
from nav_msgs.msg import OccupancyGrid
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node
from tf2_msgs.msg import TFMessage
from visualization_msgs.msg import MarkerArray

from marlgpt_msgs.msg import Cell as CellMsg
from marlgpt_msgs.msg import FleetStep, Goal, RobotState
from marlgpt_msgs.srv import SetGoal
from marlgpt_planner import lockstep, markers
from marlgpt_planner.actions import WAIT
from marlgpt_planner.encoder import Encoder, GridState
from marlgpt_planner.goals import Goals, goal_problem
from marlgpt_planner.grid import neighbour_distances, parse_grid
from marlgpt_planner.lattice import Lattice, MapError, coarsen, quaternion_to_yaw
from marlgpt_planner.nav_client import NavigationClient
from marlgpt_planner.parameters import PARAMETERS, ParameterError, validate
from marlgpt_planner.policy import ModelError, Policy, encoder_expectation
from marlgpt_planner.qos import (
    AMCL_POSE_QOS,
    FLEET_QOS,
    GOAL_QOS,
    LATCHED,
    POSE_QOS,
    TF_QOS,
    TF_STATIC_QOS,
)
from marlgpt_planner.robot import Cancel, Go, Log, Publish, Robot
from marlgpt_planner.ros_main import run_node
from marlgpt_planner.transforms import TransformBuffer

#: The pose topic of each topic source, when pose.topic is empty.
POSE_TOPICS = {"amcl": "amcl_pose", "slam": "pose", "topic": "pose"}
#: Seconds an exception keeps the diagnostics at ERROR.
FAULT_SHOWN = 30.0


def robot_topic(robot: str, name: str) -> str:
    """``name`` in the robot's namespace, unless it is absolute."""
    return name if name.startswith("/") else f"/{robot}/{name}"


class Driver:
    """The ROS side of one robot: its protocol state, Nav2 client, TF and last messages."""

    def __init__(self, robot: Robot, index: int, nav: NavigationClient) -> None:
        self.robot, self.index, self.nav = robot, index, nav
        self.tf = TransformBuffer()
        self.recent: Dict[tuple, RobotState] = {}  # (step, status) -> this and last step's
        self.published_at = 0.0


class PlannerNode(Node):
    def __init__(self) -> None:
        super().__init__("marlgpt_planner")
        any_type = ParameterDescriptor(dynamic_typing=True)  # types are checked by validate()
        for name, default in PARAMETERS:
            self.declare_parameter(name, default, any_type)
        self.params = p = validate({name: self.get_parameter(name).value
                                    for name, _ in PARAMETERS})
        ns = self.get_namespace().strip("/")
        robots = p["robots"] or ([ns] if ns else [])
        fleet = p["fleet"] or robots
        if not robots or any(r not in fleet for r in robots):
            raise ParameterError([f"robots: got {robots}; must be non-empty (or the node "
                                  f"namespaced) and every robot in fleet {fleet}"])
        self.lattice = Lattice(p["lattice.origin"][0], p["lattice.origin"][1],
                               p["lattice.cell_size"], p["lattice.rows"], p["lattice.cols"],
                               p["lattice.yaw"])
        self.fleet = lockstep.Fleet(fleet, lost_after=p["fleet_protocol.lost_after"],
                                    startup_timeout=p["fleet_protocol.startup_timeout"],
                                    resolution=p["fleet_protocol.resolution"])
        self.policy = Policy(p["model.path"], backend=p["model.backend"],
                             threads=p["model.threads"], sample=p["model.sample"],
                             seed=p["model.seed"])
        meta = self.policy.metadata  # the model must read what this encoder writes
        self.policy.check(encoder_expectation(Encoder(
            np.zeros((self.lattice.rows, self.lattice.cols), bool), int(meta["radius"]),
            int(meta["history"]), int(meta["neighbours"]))))
        self.obstacles: Optional[np.ndarray] = None
        self.encoder: Optional[Encoder] = None
        self._encoder_obstacles: Optional[np.ndarray] = None
        self._lost_seen: Tuple[str, ...] = ()
        self.stats: Dict[str, List[float]] = {"decision_ms": [], "pipeline_ms": []}
        self._step_ready_at: Optional[float] = None
        self._last_diagnostics = 0.0
        self._warned: Dict[str, float] = {}
        self.fault: Optional[Tuple[str, float]] = None  # the last error and when

        state_topic, step_topic = p["fleet_protocol.state_topic"], p["fleet_protocol.step_topic"]
        self.state_pub = self.create_publisher(RobotState, state_topic, FLEET_QOS)
        self.step_pub = self.create_publisher(FleetStep, step_topic, FLEET_QOS)
        self.create_subscription(RobotState, state_topic, self._on_state, FLEET_QOS)
        self.create_subscription(FleetStep, step_topic, self._on_fleet_step, FLEET_QOS)
        self.marker_pub = self.create_publisher(MarkerArray, p["markers_topic"], 10)
        self.diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)

        self.drivers: Dict[str, Driver] = {}
        for robot_id in robots:
            self._add_driver(robot_id, fleet.index(robot_id))
        if p["map.source"] == "static":
            self._set_obstacles(parse_grid(p["map.static"]), "static map")
        else:
            self.create_subscription(OccupancyGrid, p["map.topic"], self._on_map, LATCHED)
        self.fleet.start_waiting(fleet, time.monotonic())
        self.create_timer(1.0 / p["tick_rate"], self._tick)
        self.get_logger().info(
            f"driving {', '.join(robots)} in a fleet of {len(fleet)}; lattice "
            f"{self.lattice.rows}x{self.lattice.cols} cells of {self.lattice.cell_size} m at "
            f"{math.degrees(self.lattice.yaw):.1f} deg; pose from {p['pose.source']}; "
            f"model {meta['run_id']}")

    def _add_driver(self, robot_id: str, index: int) -> None:
        p = self.params
        source = p["pose.source"]
        goals = Goals("generator" if p["goals.source"] == "generator" else "external",
                      seed=p["goals.seed"] * 1000 + index,
                      check=lambda cell, r=robot_id: self._goal_problem(r, cell),
                      refused=lambda cell, why, r=robot_id: self._refused(r, cell, why))
        robot = Robot(robot_id, self.lattice, goals, p["pose.hysteresis"],
                      p["pose.timeout"] if source in ("tf", "topic") else math.inf,
                      p["nav.step_timeout"])
        nav = NavigationClient(self, robot_topic(robot_id, p["nav.action"]), p["nav.frame"],
                               p["nav.behavior_tree"], p["nav.retries"],
                               p["nav.server_timeout"], p["nav.tolerance"])
        driver = self.drivers[robot_id] = Driver(robot, index, nav)
        if source in ("tf", "slam"):  # SLAM Toolbox's pose topic is silent until it moved;
            # its map -> odom arrives at 50 Hz, so the newer of the two is the pose
            for topic, qos, static in ((p["pose.tf_topic"], TF_QOS, False),
                                       (p["pose.tf_static_topic"], TF_STATIC_QOS, True)):
                self.create_subscription(
                    TFMessage, robot_topic(robot_id, topic),
                    lambda msg, d=driver, s=static: self._on_tf(d, msg, s), qos)
        if source != "tf":
            pose_type = PoseStamped if source == "topic" and p["pose.type"] == "PoseStamped" \
                else PoseWithCovarianceStamped
            self.create_subscription(
                pose_type, robot_topic(robot_id, p["pose.topic"] or POSE_TOPICS[source]),
                lambda msg, d=driver: self._on_pose(d, msg),
                AMCL_POSE_QOS if source == "amcl" else POSE_QOS)
        self.create_subscription(Goal, robot_topic(robot_id, "marlgpt/goal"),
                                 lambda msg, d=driver: self._on_goal(d, msg), GOAL_QOS)
        self.create_subscription(PoseStamped, robot_topic(robot_id, "marlgpt/goal_pose"),
                                 lambda msg, d=driver: self._on_goal_pose(d, msg), GOAL_QOS)
        self.create_service(SetGoal, robot_topic(robot_id, "set_goal"),
                            lambda req, res, d=driver: self._on_set_goal(d, req, res))

    def _warn(self, key: str, text: str, every: float = 5.0) -> None:
        now = time.monotonic()
        if now - self._warned.get(key, -math.inf) >= every:
            self._warned[key] = now
            self.get_logger().warning(text)

    def on_error(self, exc: BaseException) -> None:
        """An exception escaped a callback: log it, show ERROR, keep going."""
        text = f"{type(exc).__name__}: {exc}"
        self.fault = (text, time.monotonic())
        self.get_logger().error(f"error in a callback (the planner keeps running): {text}\n"
                                + "".join(traceback.format_exception(type(exc), exc,
                                                                     exc.__traceback__)))

    # --- the map and goals --------------------------------------------------------------------
    def _set_obstacles(self, obstacles: np.ndarray, source: str) -> None:
        if obstacles.shape != (self.lattice.rows, self.lattice.cols):
            raise MapError(f"{source} is {obstacles.shape[0]}x{obstacles.shape[1]} cells, the "
                           f"lattice {self.lattice.rows}x{self.lattice.cols}")
        if self.obstacles is not None and np.array_equal(obstacles, self.obstacles):
            return
        self.get_logger().info(f"coarse grid from {source}: {int(obstacles.sum())} of "
                               f"{obstacles.size} cells blocked")
        self.obstacles = obstacles
        self._map_changed()

    def _map_changed(self) -> None:
        blocked = sorted(self.fleet.lost_cells)
        for driver in self.drivers.values():
            self._apply(driver, driver.robot.set_map(self.obstacles, blocked))

    def _goal_problem(self, robot_id: str, cell) -> Optional[str]:
        obstacles = self.obstacles if self.obstacles is not None else \
            np.zeros((self.lattice.rows, self.lattice.cols), bool)
        start = self.drivers[robot_id].robot.cell() if robot_id in self.drivers else None
        if start is not None and not self.lattice.contains(start):
            start = None
        return goal_problem(cell, obstacles, start, self.fleet.lost_cells)

    def _refused(self, robot_id: str, cell, why: str) -> None:
        current = self.drivers[robot_id].robot.goals.current if robot_id in self.drivers \
            else None
        self.get_logger().warning(f"{robot_id}: goal {cell} refused: {why}; keeping goal "
                                  f"{current}")

    # --- inputs -------------------------------------------------------------------------------
    def _on_map(self, msg: OccupancyGrid) -> None:
        info = msg.info
        q = info.origin.orientation
        try:
            obstacles = coarsen(msg.data, info.width, info.height, info.resolution,
                                info.origin.position.x, info.origin.position.y,
                                quaternion_to_yaw(q.x, q.y, q.z, q.w), self.lattice,
                                **{k: self.params["map." + k] for k in (
                                    "occupied_threshold", "occupied_fraction",
                                    "unknown_fraction", "unknown_policy")})
            self._set_obstacles(obstacles, f"map {info.width}x{info.height} @ "
                                           f"{info.resolution:.3f} m")
        except MapError as exc:
            self._warn(f"map: {exc}", f"map ignored: {exc}")
        self._advance()

    def _on_tf(self, driver: Driver, msg, static: bool) -> None:
        now = time.monotonic()
        for t in msg.transforms:
            tr, rot = t.transform.translation, t.transform.rotation
            driver.tf.set(t.header.frame_id, t.child_frame_id, (tr.x, tr.y, tr.z),
                          (rot.x, rot.y, rot.z, rot.w), now, static)
        pose = driver.tf.lookup(self.params["pose.map_frame"], self.params["pose.base_frame"],
                                now)
        if pose is not None:
            self._take_pose(driver, pose.x, pose.y, pose.yaw, now - pose.age)

    def _on_pose(self, driver: Driver, msg) -> None:
        pose = msg.pose.pose if isinstance(msg, PoseWithCovarianceStamped) else msg.pose
        q = pose.orientation
        self._take_pose(driver, pose.position.x, pose.position.y,
                        quaternion_to_yaw(q.x, q.y, q.z, q.w), time.monotonic())

    def _take_pose(self, driver: Driver, x: float, y: float, yaw: float, taken: float) -> None:
        for effect in driver.robot.set_pose(x, y, yaw, taken):
            self._warn(effect.text, effect.text)
        driver.nav.pose(x, y, time.monotonic())  # may report an arrival (advances the step)
        if not driver.robot.ready:
            self._advance()

    def _on_goal(self, driver: Driver, msg: Goal) -> None:
        if msg.robot_id and msg.robot_id != driver.robot.id:
            return
        driver.robot.goals.offer(msg.sequence, (msg.cell.row, msg.cell.col))
        self._advance()

    def _on_goal_pose(self, driver: Driver, msg: PoseStamped) -> None:
        """A goal in metres (e.g. RViz's 2D Goal Pose): the cell holding it."""
        x, y = msg.pose.position.x, msg.pose.position.y
        if not (math.isfinite(x) and math.isfinite(y)):
            driver.robot.goals.refused((x, y), "the goal pose is not finite")
            return
        driver.robot.goals.replace(self.lattice.cell_at(x, y))
        self._advance()

    def _on_set_goal(self, driver: Driver, request, response):
        if request.robot_id and request.robot_id != driver.robot.id:
            response.accepted, response.message = False, f"this is {driver.robot.id}'s service"
            return response
        reason = driver.robot.goals.replace((request.goal.row, request.goal.col))
        response.accepted, response.message = reason is None, reason or ""
        return response

    def _on_state(self, msg: RobotState) -> None:
        now = time.monotonic()
        self.fleet.heard(msg.robot_id, now)
        if msg.robot_id in self.drivers:
            return  # our own robots' states go to the fleet directly
        self.fleet.receive(_report(msg), now)
        self._advance()

    def _on_fleet_step(self, msg: FleetStep) -> None:
        for robot_id in msg.lost_robot_ids:
            self.fleet.mark_lost(robot_id)
        self._check_lost_robots()

    def _check_lost_robots(self) -> None:
        if tuple(self.fleet.lost) == self._lost_seen:
            return
        self._lost_seen = tuple(self.fleet.lost)
        for robot_id in self.fleet.lost:
            driver = self.drivers.get(robot_id)
            if driver is not None and not driver.robot.lost:
                driver.robot.lost = True
                self._apply(driver, driver.robot.hold("the fleet lost this robot"))
                self.get_logger().error(f"{robot_id}: the fleet treats this robot as lost; it "
                                        "holds until the fleet is restarted")
        if self.obstacles is not None:
            self._map_changed()  # lost robots' cells are no goal for anyone

    # --- the protocol ---------------------------------------------------------------------------
    def _tick(self) -> None:
        now = time.monotonic()
        for driver in self.drivers.values():
            driver.nav.tick(now)
            self._apply(driver, driver.robot.tick(now))
            if driver.robot.goals.waiting and driver.robot.goals.poll():
                self._advance()
        self._advance()
        for driver in self.drivers.values():
            if now - driver.published_at >= self.params["fleet_protocol.heartbeat"]:
                driver.published_at = now  # a quiet robot repeats its states, so that a
                for msg in driver.recent.values():  # missed message is never fatal
                    self.state_pub.publish(msg)
            if self.params["pose.source"] == "tf" and driver.robot.pose is None:
                self._warn("tf-" + driver.robot.id, f"{driver.robot.id}: no pose from TF yet: "
                           + driver.tf.why_not(self.params["pose.map_frame"],
                                               self.params["pose.base_frame"]))
        if now - self._last_diagnostics >= 1.0:
            self._last_diagnostics = now
            self._publish_diagnostics(now)

    def _advance(self) -> None:
        now = time.monotonic()
        for driver in self.drivers.values():
            robot = driver.robot
            if robot.moving is not None and robot.leader is not None:
                self._apply(driver, robot.follow(self._leader_end(robot), now))
        for robot_id in self.fleet.check_lost(now):
            self.get_logger().error(f"{robot_id} stopped answering: treated as an obstacle "
                                    f"from step {self.fleet.step} on")
        self._check_lost_robots()
        for driver in self.drivers.values():
            self._apply(driver, driver.robot.announce_ready(now))
        if self.fleet.can_start():
            if self._step_ready_at is None:
                self._step_ready_at = now
            self._propose()
        if self.fleet.can_resolve():
            self._execute(self.fleet.resolve(), now)

    def _leader_end(self, robot: Robot) -> Optional[tuple]:
        if robot.leader in self.fleet.lost:
            return robot.moving[2]  # a lost leader never leaves: stay
        return self.fleet.end_cell(robot.leader, robot.moving[0])

    def _propose(self) -> None:
        starts = self.fleet.start()
        ours = [d for d in self.drivers.values() if d.robot.id in starts and not d.robot.lost]
        if not ours:
            return
        started = time.perf_counter()
        try:
            rankings = self._decide(ours)
        except Exception as exc:  # noqa: BLE001  (any failure: our robots wait this step)
            self.on_error(exc)
            rankings = [[WAIT]] * len(ours)
        self.stats["decision_ms"].append((time.perf_counter() - started) * 1e3)
        now = time.monotonic()
        shield = self.fleet.resolution == "shield"
        for driver, ranking in zip(ours, rankings):
            cell, goal = starts[driver.robot.id]
            self._apply(driver, driver.robot.propose(self.fleet.step, cell, goal, ranking, now,
                                                     shield))

    def _decide(self, ours: List[Driver]) -> List[List[int]]:
        """One batched policy call for our robots, on the whole fleet's state: each robot's
        ranking of its actions (under the soft rule, just the chosen action)."""
        positions, goals, history = self.fleet.grid_state()
        encoder = self._encoder()
        # A goal this planner's map cannot hold (another robot's, on a cell the map has just
        # closed) is encoded as that robot's own cell rather than failing the whole fleet.
        for i, goal in enumerate(goals):
            if goal_problem(goal, encoder.fields.obstacles) is not None:
                goals[i] = positions[i]
        order = {robot: i for i, robot in enumerate(self.fleet.live)}
        rows = [order[d.robot.id] for d in ours]
        observation = encoder.encode(GridState(positions, goals, history))
        values, mask = observation.values[rows], observation.action_mask[rows]
        if self.fleet.resolution == "shield":
            weight = self.params["model.path_weight"]
            path_left = neighbour_distances(encoder.fields, positions[rows], goals[rows]) \
                if weight else None
            return self.policy.rank(values, mask, path_left=path_left, path_weight=weight)
        return [[int(a)] for a in self.policy.act(values, mask)]

    def _encoder(self) -> Encoder:
        obstacles = self.obstacles.copy()
        for cell in self.fleet.lost_cells:
            if self.lattice.contains(cell):
                obstacles[cell] = True
        for robot_id in self.fleet.live:
            obstacles[self.fleet.positions[robot_id]] = False
        if self.encoder is None or not np.array_equal(obstacles, self._encoder_obstacles):
            meta = self.policy.metadata
            self.encoder = Encoder(obstacles, int(meta["radius"]), int(meta["history"]),
                                   int(meta["neighbours"]))
            self._encoder_obstacles = obstacles
        return self.encoder

    def _execute(self, outcome: lockstep.Outcome, now: float) -> None:
        if outcome.robot_ids and outcome.robot_ids[0] in self.drivers:
            self.step_pub.publish(_fleet_step_msg(outcome, self.get_clock().now().to_msg()))
        for robot_id, src, dst in zip(outcome.robot_ids, outcome.from_cells, outcome.to_cells):
            driver = self.drivers.get(robot_id)
            if driver is not None:
                leader = lockstep.followed(outcome, robot_id) if src != dst else None
                self._apply(driver, driver.robot.execute(outcome.step, src, dst, leader, now))
                if driver.robot.leader is not None:
                    self._apply(driver, driver.robot.follow(self._leader_end(driver.robot),
                                                            now))
        if self._step_ready_at is not None and outcome.step > 1:  # step 1 includes start-up
            self.stats["pipeline_ms"].append((time.monotonic() - self._step_ready_at) * 1e3)
        self._step_ready_at = None
        self._publish_markers(outcome)
        if outcome.step % 50 == 0:
            self._write_stats()

    def _apply(self, driver: Driver, effects) -> None:
        """Carry out what the robot's protocol logic asked for, in order."""
        for effect in effects:
            if isinstance(effect, Publish):
                self._publish(driver, effect)
            elif isinstance(effect, Go):
                x, y = self.lattice.centre(effect.dst)
                driver.nav.go(x, y, self.lattice.heading(effect.src, effect.dst),
                              time.monotonic(),
                              lambda ok, why, d=driver, s=effect.step: self._nav_done(d, s, ok,
                                                                                      why))
            elif isinstance(effect, Cancel):
                driver.nav.cancel()
            elif isinstance(effect, Log):
                getattr(self.get_logger(), effect.level)(effect.text)

    def _nav_done(self, driver: Driver, step: int, ok: bool, why: str) -> None:
        self._apply(driver, driver.robot.nav_done(step, ok, why, time.monotonic()))
        self._advance()

    def _publish(self, driver: Driver, effect: Publish) -> None:
        msg = RobotState()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.header.frame_id = self.params["nav.frame"]
        msg.robot_id, msg.step, msg.status = driver.robot.id, effect.step, effect.status
        msg.action, msg.ranking = effect.action, list(effect.ranking)
        msg.current_cell, msg.intended_cell = _cell(effect.current), _cell(effect.intended)
        msg.goal_cell = _cell(effect.goal)
        msg.goals_reached = driver.robot.goals.reached
        if driver.robot.pose is not None:
            msg.pose.position.x, msg.pose.position.y = driver.robot.pose[:2]
        driver.recent[effect.step, effect.status] = msg
        driver.published_at = time.monotonic()
        for key in [k for k in driver.recent if k[0] < effect.step - 1]:
            del driver.recent[key]
        self.state_pub.publish(msg)
        self.fleet.receive(_report(msg), time.monotonic())

    # --- outputs for people ---------------------------------------------------------------------
    def _publish_markers(self, outcome: lockstep.Outcome) -> None:
        ours = [r for r in outcome.robot_ids if r in self.drivers]
        goals = {r: self.fleet.goals.get(r) for r in ours}
        self.marker_pub.publish(markers.fleet_markers(
            self.lattice, outcome, ours, goals, self.params["nav.frame"],
            self.get_clock().now().to_msg()))

    def _publish_diagnostics(self, now: float) -> None:
        array = DiagnosticArray()
        array.header.stamp = self.get_clock().now().to_msg()
        fault = self.fault if self.fault and now - self.fault[1] < FAULT_SHOWN else None
        for driver in self.drivers.values():
            robot = driver.robot
            status = DiagnosticStatus(name=f"marlgpt_planner: {robot.id}", hardware_id=robot.id)
            status.level, status.message = DiagnosticStatus.OK, robot.message
            if robot.lost or self.obstacles is None or fault:
                status.level = DiagnosticStatus.ERROR
                if fault:
                    status.message = f"{robot.message}; error: {fault[0]}"
            elif robot.status in (lockstep.HOLDING, lockstep.TIMED_OUT) or \
                    not robot.pose_fresh(now):
                status.level = DiagnosticStatus.WARN
            values = {"step": self.fleet.step, "cell": robot.tracker.cell,
                      "goal": robot.goals.current, "goals_reached": robot.goals.reached,
                      "pose_age_s": round(min(robot.pose_age(now), 1e9), 3),
                      "lost_robots": ",".join(self.fleet.lost),
                      "decision_ms_last": round(self.stats["decision_ms"][-1], 3)
                      if self.stats["decision_ms"] else ""}
            status.values = [KeyValue(key=k, value=str(v)) for k, v in values.items()]
            array.status.append(status)
        self.diag_pub.publish(array)

    def _write_stats(self) -> None:
        if not self.params["stats_file"]:
            return
        data = {"robots": list(self.drivers), "steps": self.fleet.step - 1,
                "goals_reached": {d.robot.id: d.robot.goals.reached
                                  for d in self.drivers.values()},
                "lost": list(self.fleet.lost), "errors": self.fault[0] if self.fault else "",
                **self.stats}
        path = Path(self.params["stats_file"])
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
             on_exit=lambda node: node._write_stats(), args=args,
             on_error=lambda node, exc: node.on_error(exc))


if __name__ == "__main__":
    main()
