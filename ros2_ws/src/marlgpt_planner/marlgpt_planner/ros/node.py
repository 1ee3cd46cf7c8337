"""The marlgpt planner node: map + poses + the fleet's states -> Nav2 waypoints.

One node per robot (or one for several robots, batched into one policy call). This module
is wiring: parameters (:mod:`~marlgpt_planner.parameters`, checked before anything starts),
subscriptions, the fleet topics, Nav2 clients, goals, markers and diagnostics. What each
robot does in a step is :mod:`~marlgpt_planner.robot`; what the fleet does,
:mod:`~marlgpt_planner.lockstep`. Nothing here blocks: one timer and the callbacks advance
the protocol, and an exception in a callback is logged and reported on /diagnostics instead
of ending the node (:func:`~marlgpt_planner.ros.process.run_node`). Goals from outside come
in through :class:`~marlgpt_planner.ros.goal_input.GoalInput`, poses through
:class:`~marlgpt_planner.ros.pose_input.PoseInput`.
"""
import math
import time
import traceback
from typing import Dict, List, Optional, Tuple

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from nav_msgs.msg import OccupancyGrid
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node
from visualization_msgs.msg import MarkerArray

from marlgpt_msgs.msg import FleetPlan, FleetStep, RobotState
from marlgpt_planner import lockstep
from marlgpt_planner.actions import WAIT
from marlgpt_planner.central import Plan, Plans
from marlgpt_planner.decisions import Decider
from marlgpt_planner.endpoints import DIAGNOSTICS_TOPIC, robot_topic, state_topic
from marlgpt_planner.goals import Goals, goal_problem
from marlgpt_planner.grid import grid_digest, parse_grid
from marlgpt_planner.lattice import Lattice, MapError
from marlgpt_planner.parameters import PARAMETERS, robots_and_fleet, step_rule, validate
from marlgpt_planner.policy import ModelError, RuntimePolicy
from marlgpt_planner.robot import Cancel, Go, Log, Publish, Robot
from marlgpt_planner.ros import markers, messages
from marlgpt_planner.ros.goal_input import GoalInput
from marlgpt_planner.ros.nav_client import NavigationClient
from marlgpt_planner.ros.pose_input import PoseInput, pose_timeout
from marlgpt_planner.ros.process import run_node, write_json
from marlgpt_planner.ros.qos import FLEET_QOS, LATCHED

#: Seconds an exception keeps the diagnostics at ERROR.
FAULT_SHOWN = 30.0


class Driver:
    """The ROS side of one robot: its protocol state, Nav2 client, pose and goal input, last
    states and their publisher (the robot's own state topic)."""

    def __init__(self, robot: Robot, index: int, nav: NavigationClient, state_pub) -> None:
        self.robot, self.index, self.nav, self.state_pub = robot, index, nav, state_pub
        self.pose_input: Optional[PoseInput] = None
        self.goal_input: Optional[GoalInput] = None
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
        robots, fleet = robots_and_fleet(p, self.get_namespace())
        self.lattice = Lattice(p["lattice.origin"][0], p["lattice.origin"][1],
                               p["lattice.cell_size"], p["lattice.rows"], p["lattice.cols"],
                               p["lattice.yaw"])
        self.fleet = lockstep.LockStep(fleet, lost_after=p["fleet_protocol.lost_after"],
                                    startup_timeout=p["fleet_protocol.startup_timeout"],
                                    rule=step_rule(p))
        self.policy = RuntimePolicy(p["model.path"], backend=p["model.backend"],
                             threads=p["model.threads"], sample=p["model.sample"],
                             seed=p["model.seed"])
        self.decider = Decider(self.policy)
        # Before joining the fleet: a model that cannot act under the fleet's rule stops here.
        self.decider.check((self.lattice.rows, self.lattice.cols), self.fleet.rule)
        self.fleet.radius = int(self.policy.metadata["radius"])
        self.obstacles: Optional[np.ndarray] = None
        self.map_digest = ""  # of self.obstacles: proposals carry it (the search needs one map)
        self._lost_seen: Tuple[str, ...] = ()
        self.stats: Dict[str, List[float]] = {"decision_ms": [], "pipeline_ms": []}
        self._step_ready_at: Optional[float] = None
        self._last_diagnostics = 0.0
        self._warned: Dict[str, float] = {}
        self.fault: Optional[Tuple[str, float]] = None  # the last error and when

        # Each robot's states on its own topic (<state_topic>/<robot>), so that DDS-Security
        # lets a planner publish its own robots' states only (docs/security.md).
        for robot_id in fleet:
            self.create_subscription(RobotState, state_topic(p, robot_id),
                                     lambda msg, r=robot_id: self._on_state(msg, r), FLEET_QOS)
        step_topic = p["fleet_protocol.step_topic"]
        self.step_pub = self.create_publisher(FleetStep, step_topic, FLEET_QOS)
        self.create_subscription(FleetStep, step_topic, self._on_fleet_step, FLEET_QOS)
        # The central resolution: the fleet coordinator's plans lead the rankings.
        self.plans = Plans(p["fleet_protocol.plan_timeout"])
        self._pending: List[Tuple[Driver, List[int]]] = []  # rankings waiting for the plan
        self._pending_since = 0.0
        if self.fleet.rule.planned:
            self.create_subscription(FleetPlan, p["fleet_protocol.plan_topic"],
                                     lambda msg: self._advance(messages.plan(msg)), FLEET_QOS)
        self.marker_pub = self.create_publisher(MarkerArray, p["markers_topic"], 10)
        self.diag_pub = self.create_publisher(DiagnosticArray, DIAGNOSTICS_TOPIC, 10)

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
            f"model {self.policy.metadata['run_id']}")

    def _add_driver(self, robot_id: str, index: int) -> None:
        p = self.params
        goals = Goals("generator" if p["goals.source"] == "generator" else "external",
                      seed=p["goals.seed"] * 1000 + index,
                      check=lambda cell, r=robot_id: self._goal_problem(r, cell))
        robot = Robot(robot_id, self.lattice, goals, p["pose.hysteresis"], pose_timeout(p),
                      p["nav.step_timeout"], p["goals.next_wait"])
        nav = NavigationClient(self, robot_topic(robot_id, p["nav.action"]), p["nav.frame"],
                               p["nav.behavior_tree"], p["nav.retries"],
                               p["nav.server_timeout"], p["nav.tolerance"])
        driver = self.drivers[robot_id] = Driver(
            robot, index, nav, self.create_publisher(RobotState, state_topic(p, robot_id),
                                                     FLEET_QOS))
        driver.pose_input = PoseInput(self, robot_id, p, lambda *pose, d=driver:
                                      self._take_pose(d, *pose))
        driver.goal_input = GoalInput(self, robot, self._advance)  # logs refused goals too

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
        self.map_digest = grid_digest(obstacles)
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

    # --- inputs -------------------------------------------------------------------------------
    def _on_map(self, msg: OccupancyGrid) -> None:
        try:
            self._set_obstacles(messages.obstacles(msg, self.lattice, self.params),
                                f"map {msg.info.width}x{msg.info.height} @ "
                                f"{msg.info.resolution:.3f} m")
        except MapError as exc:
            self._warn(f"map: {exc}", f"map ignored: {exc}")
        self._advance()

    def _take_pose(self, driver: Driver, x: float, y: float, yaw: float, taken: float) -> None:
        for effect in driver.robot.set_pose(x, y, yaw, taken):
            self._warn(effect.text, effect.text)
        driver.nav.pose(x, y, time.monotonic())  # may report an arrival (advances the step)
        if not driver.robot.ready:
            self._advance()

    def _on_state(self, msg: RobotState, topic_robot: str) -> None:
        if msg.robot_id != topic_robot:  # no real robot's: each publishes on its own topic
            self._warn(f"state-{topic_robot}", f"ignored a state of {msg.robot_id!r} on "
                       f"{state_topic(self.params, topic_robot)} (only {topic_robot}'s belong "
                       "there)")
            return
        now = time.monotonic()
        self.fleet.heard(msg.robot_id, now)
        if msg.robot_id in self.drivers:
            return  # our own robots' states go to the fleet directly
        self.fleet.receive(messages.report(msg), now)
        self._advance()

    def _on_fleet_step(self, msg: FleetStep) -> None:
        for robot_id in msg.lost_robot_ids:
            if robot_id in self.fleet.live:  # another planner saw it first: same log line
                self.fleet.mark_lost(robot_id)
                self.get_logger().error(f"{robot_id} stopped answering (reported by the "
                                        "fleet): treated as an obstacle from step "
                                        f"{self.fleet.step} on")
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
            if driver.robot.goals.waiting and driver.robot.goals.poll():
                self._advance()
            # After the poll, so that an arrival held for the next goal goes out with it.
            self._apply(driver, driver.robot.tick(now))
        self._advance()
        for driver in self.drivers.values():
            if now - driver.published_at >= self.params["fleet_protocol.heartbeat"]:
                driver.published_at = now  # a quiet robot repeats its states, so that a
                for msg in driver.recent.values():  # missed message is never fatal
                    driver.state_pub.publish(msg)
            if self.params["pose.source"] == "tf" and driver.robot.pose is None:
                self._warn("tf-" + driver.robot.id, f"{driver.robot.id}: no pose from TF yet: "
                           + driver.pose_input.why_not())
        if now - self._last_diagnostics >= 1.0:
            self._last_diagnostics = now
            self._publish_outputs(now)

    def _advance(self, plan: Optional[Plan] = None) -> None:
        """Take the protocol as far as it goes now (``plan``: one just heard from the fleet
        coordinator)."""
        if plan is not None:
            self.plans.receive(plan)
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
        if self.fleet.rule.in_turn:
            self._take_turn()
        if self._pending:
            self._propose_pending(now)
        if self.fleet.can_resolve():
            encoder = self.decider.encoder  # this step's grid, lost robots' cells closed
            self._execute(self.fleet.resolve(None if encoder is None else encoder.fields,
                                             self.map_digest), now)

    def _leader_end(self, robot: Robot) -> Optional[tuple]:
        if robot.leader in self.fleet.lost:
            return robot.moving[2]  # a lost leader never leaves: stay
        return self.fleet.end_cell(robot.leader, robot.moving[0])

    def _propose(self) -> None:
        starts = self.fleet.start()
        if self.fleet.rule.in_turn:
            return  # robots propose when their turn comes (_take_turn)
        ours = [d for d in self.drivers.values() if d.robot.id in starts and not d.robot.lost]
        self._decide(ours, lambda ids: self.decider.rankings(self.fleet, self.obstacles, ids))

    def _take_turn(self) -> None:
        """Under the sequential resolution: propose for this planner's robots whose turn it is
        (the replay of the step from every proposal so far names them), again while the next
        turn names more of them (a robot pushed by one of ours)."""
        for _ in range(len(self.drivers)):
            turn = self.fleet.turn()
            if turn is None:
                return
            ours = [self.drivers[r] for r in turn.robot_ids if r in self.drivers
                    and not self.drivers[r].robot.lost and not self.fleet.proposed(r)]
            if not ours:
                return
            self._decide(ours, lambda ids, turn=turn: self.decider.rankings_in_turn(
                self.fleet, self.obstacles, turn, ids))

    def _decide(self, ours: List[Driver], rankings_of) -> None:
        if not ours:
            return
        started = time.perf_counter()
        try:
            rankings = rankings_of([d.robot.id for d in ours])
        except Exception as exc:  # noqa: BLE001  (any failure: our robots wait this step)
            self.on_error(exc)
            rankings = [[WAIT]] * len(ours)
        self.stats["decision_ms"].append((time.perf_counter() - started) * 1e3)
        now = time.monotonic()
        if self.fleet.rule.planned:  # central: propose once the plan is in (or late)
            self._pending = [(d, list(r)) for d, r in zip(ours, rankings)]
            self._pending_since = self._step_ready_at if self._step_ready_at is not None \
                else now
            self._propose_pending(now)
            return
        ranks = self.fleet.rule.ranks
        for driver, ranking in zip(ours, rankings):
            cell, goal = self.fleet.positions[driver.robot.id], self.fleet.goals[driver.robot.id]
            self._apply(driver, driver.robot.propose(self.fleet.step, cell, goal, ranking, now,
                                                     ranks))

    def _propose_pending(self, now: float) -> None:
        """Central: the robots' rankings, led by the coordinator's plan, once the plan for
        this step is in, or it is late (:meth:`~marlgpt_planner.central.Plans.waiting`)."""
        step = self.fleet.step
        if self.plans.waiting(step, self._pending_since, now):
            return
        pending, self._pending = self._pending, []
        for driver, ranking in pending:
            if driver.robot.lost or self.fleet.proposed(driver.robot.id):
                continue
            cell, goal = self.fleet.positions[driver.robot.id], self.fleet.goals[driver.robot.id]
            ranking, planned = self.plans.lead(step, driver.robot.id, cell, ranking,
                                               self.map_digest)
            self._apply(driver, driver.robot.propose(step, cell, goal, ranking, now, True,
                                                     planned))

    def _execute(self, outcome: lockstep.Outcome, now: float) -> None:
        if self.fleet.disagreeing:
            self._warn("step rule", f"{', '.join(self.fleet.disagreeing)} settle steps by "
                       "another fleet_protocol.resolution or rotations than this planner's "
                       f"({self.fleet.rule.agreement()}): every robot holds until all planners "
                       "use the same")
        if outcome.robot_ids and outcome.robot_ids[0] in self.drivers:
            self.step_pub.publish(messages.fleet_step(outcome, self.get_clock().now().to_msg()))
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
        self._publish_outputs(now, outcome)
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
        msg = messages.robot_state(driver.robot, effect, self.params["nav.frame"],
                                   self.get_clock().now().to_msg(), self.map_digest,
                                   self.fleet.rule.agreement())
        driver.recent[effect.step, effect.status] = msg
        driver.published_at = time.monotonic()
        for key in [k for k in driver.recent if k[0] < effect.step - 1]:
            del driver.recent[key]
        driver.state_pub.publish(msg)
        self.fleet.receive(messages.report(msg), time.monotonic())

    # --- outputs for people ---------------------------------------------------------------------
    def _publish_outputs(self, now: float, outcome: Optional[lockstep.Outcome] = None) -> None:
        """The step's markers (with ``outcome``), else the robots' diagnostics."""
        stamp = self.get_clock().now().to_msg()
        if outcome is not None:
            ours = [r for r in outcome.robot_ids if r in self.drivers]
            goals = {r: self.fleet.goals.get(r) for r in ours}
            self.marker_pub.publish(markers.fleet_markers(
                self.lattice, outcome, ours, goals, self.params["nav.frame"], stamp))
            return
        fault = self.fault[0] if self.fault and now - self.fault[1] < FAULT_SHOWN else None
        decisions = self.stats["decision_ms"]
        self.diag_pub.publish(messages.diagnostics(
            [d.robot for d in self.drivers.values()], self.fleet, now, stamp,
            self.obstacles is not None, fault, decisions[-1] if decisions else None))

    def _write_stats(self) -> None:
        if not self.params["stats_file"]:
            return
        data = {"robots": list(self.drivers), "steps": self.fleet.step - 1,
                "searched_steps": self.fleet.searched_steps, "turns": self.fleet.turns,
                "goals_reached": {d.robot.id: d.robot.goals.reached
                                  for d in self.drivers.values()},
                "lost": list(self.fleet.lost), "errors": self.fault[0] if self.fault else "",
                "planned_proposals": self.plans.followed,
                "unplanned_proposals": self.plans.missed,
                **self.stats}
        write_json(self.params["stats_file"], data)


def main(args=None) -> None:
    run_node(PlannerNode, "marlgpt_planner", errors=(ModelError, MapError, ValueError),
             on_exit=lambda node: node._write_stats(), args=args,
             on_error=lambda node, exc: node.on_error(exc))


if __name__ == "__main__":
    main()
