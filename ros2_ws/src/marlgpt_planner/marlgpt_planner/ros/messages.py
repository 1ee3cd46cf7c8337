"""The planner's ROS messages, built from (and read into) its pure logic's values."""
from typing import Dict, Optional, Sequence

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from nav_msgs.msg import OccupancyGrid

from marlgpt_msgs.msg import Cell as CellMsg
from marlgpt_msgs.msg import FleetPlan, FleetStep, RobotState
from marlgpt_planner import lockstep
from marlgpt_planner.central import Plan
from marlgpt_planner.lattice import Lattice, coarsen, quaternion_to_yaw
from marlgpt_planner.robot import Publish, Robot


def obstacles(msg: OccupancyGrid, lattice: Lattice, params: Dict[str, object]) -> np.ndarray:
    """The lattice's obstacles from an occupancy grid, by the ``map.*`` parameters (raises
    :class:`~marlgpt_planner.lattice.MapError` for a grid that cannot be placed)."""
    info = msg.info
    q = info.origin.orientation
    return coarsen(msg.data, info.width, info.height, info.resolution, info.origin.position.x,
                   info.origin.position.y, quaternion_to_yaw(q.x, q.y, q.z, q.w), lattice,
                   **{k: params["map." + k] for k in ("occupied_threshold", "occupied_fraction",
                                                      "unknown_fraction", "unknown_policy")})


def cell_msg(cell) -> CellMsg:
    return CellMsg(row=int(cell[0]), col=int(cell[1]))


def robot_state(robot: Robot, effect: Publish, frame: str, stamp,
                map_digest: str = "", step_rule: str = "") -> RobotState:
    """The RobotState a :class:`~marlgpt_planner.robot.Publish` effect asks for, naming the
    grid its planner resolves on (``map_digest``) and its step rule's agreement
    (:meth:`~marlgpt_planner.step_rule.StepRule.agreement`)."""
    msg = RobotState()
    msg.map_digest, msg.step_rule = map_digest, step_rule
    msg.header.stamp, msg.header.frame_id = stamp, frame
    msg.robot_id, msg.step, msg.status = robot.id, effect.step, effect.status
    msg.action, msg.ranking = effect.action, list(effect.ranking)
    msg.planned = effect.planned
    msg.current_cell, msg.intended_cell = cell_msg(effect.current), cell_msg(effect.intended)
    msg.goal_cell = cell_msg(effect.goal)
    msg.goals_reached = robot.goals.reached
    if robot.pose is not None:
        msg.pose.position.x, msg.pose.position.y = robot.pose[:2]
    return msg


def report(msg: RobotState) -> lockstep.Report:
    """What the fleet protocol reads of a RobotState."""
    return lockstep.Report(msg.robot_id, msg.step, msg.status,
                           (msg.current_cell.row, msg.current_cell.col),
                           (msg.intended_cell.row, msg.intended_cell.col),
                           (msg.goal_cell.row, msg.goal_cell.col), msg.goals_reached,
                           tuple(int(a) for a in msg.ranking), msg.map_digest,
                           msg.step_rule, bool(msg.planned))


def fleet_step(outcome: lockstep.Outcome, stamp) -> FleetStep:
    """A resolved step, robots sorted by id."""
    msg = FleetStep()
    msg.header.stamp = stamp
    msg.header.frame_id = "grid"
    msg.step = outcome.step
    order = sorted(range(len(outcome.robot_ids)), key=lambda i: outcome.robot_ids[i])
    msg.robot_ids = [outcome.robot_ids[i] for i in order]
    msg.from_cells = [cell_msg(outcome.from_cells[i]) for i in order]
    msg.to_cells = [cell_msg(outcome.to_cells[i]) for i in order]
    msg.moved = [outcome.moved[i] for i in order]
    msg.lost_robot_ids = list(outcome.lost)
    return msg


def fleet_plan(plan: Plan, stamp) -> FleetPlan:
    """The coordinator's plan of a step."""
    msg = FleetPlan()
    msg.header.stamp = stamp
    msg.header.frame_id = "grid"
    msg.step, msg.map_digest = plan.step, plan.map_digest
    msg.robot_ids = list(plan.cells)
    msg.to_cells = [cell_msg(cell) for cell in plan.cells.values()]
    return msg


def plan(msg: FleetPlan) -> Plan:
    """A received plan, as :mod:`marlgpt_planner.central` reads it."""
    return Plan(int(msg.step), {r: (int(c.row), int(c.col))
                                for r, c in zip(msg.robot_ids, msg.to_cells)}, msg.map_digest)


def diagnostics(robots: Sequence[Robot], fleet: lockstep.LockStep, now: float, stamp,
                map_known: bool, fault: Optional[str],
                decision_ms: Optional[float]) -> DiagnosticArray:
    """One status per robot: OK; WARN while holding, timed out or without a fresh pose;
    ERROR without a map, when the fleet lost it, or with a recent ``fault``."""
    array = DiagnosticArray()
    array.header.stamp = stamp
    for robot in robots:
        status = DiagnosticStatus(name=f"marlgpt_planner: {robot.id}", hardware_id=robot.id)
        status.level, status.message = DiagnosticStatus.OK, robot.message
        if robot.lost or not map_known or fault:
            status.level = DiagnosticStatus.ERROR
            if fault:
                status.message = f"{robot.message}; error: {fault}"
        elif robot.status in (lockstep.HOLDING, lockstep.TIMED_OUT) or \
                not robot.pose_fresh(now):
            status.level = DiagnosticStatus.WARN
        values: Dict[str, object] = {
            "step": fleet.step, "cell": robot.tracker.cell, "goal": robot.goals.current,
            "goals_reached": robot.goals.reached,
            "pose_age_s": round(min(robot.pose_age(now), 1e9), 3),
            "lost_robots": ",".join(fleet.lost),
            "decision_ms_last": "" if decision_ms is None else round(decision_ms, 3)}
        status.values = [KeyValue(key=k, value=str(v)) for k, v in values.items()]
        array.status.append(status)
    return array


