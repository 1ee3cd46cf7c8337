"""The planner fleet over real rclpy + Fast DDS: planner processes, the loopback simulator with
its Nav2 NavigateToPose servers, and failures (a killed robot, an aborted goal, stale poses,
malformed maps). Each test claims its own ROS_DOMAIN_ID."""
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, Optional

import pytest
import yaml

from marlgpt_planner.fleet_config import FleetDescription, NodeSpec, parameter_file
from marlgpt_planner.step_rule import StepRule
from marlgpt_sim.fleet_runner import FleetRun, StepWatcher
from tests.conftest import REPO

PACKAGE = REPO / "ros2_ws" / "src" / "marlgpt_planner"
MAZE = PACKAGE / "config" / "maps" / "maze_17x17.txt"
MODEL = PACKAGE / "models" / "marlgpt.onnx"
#: The model that reads the claims (encoder v3): the sequential resolution needs one.
SEQUENTIAL_MODEL = PACKAGE / "models" / "marlgpt-sequential.onnx"
#: Sampled actions keep the robots moving (the bundled model, greedy, mostly waits).
MOVING = {"model.sample": True}
GREEDY = {"model.sample": False}  # deterministic: comparable step by step with marlgpt eval
FAST_SIM = {"motion.time": 0.05, "motion.jitter": 0.3, "pose.rate": 40.0}


def fleet_file(tmp_path: Path, robots, goals: str = "pogema", seed: int = 0,
               planner: Optional[Dict] = None, description: Optional[Dict] = None) -> Path:
    path = tmp_path / "fleet.yaml"
    path.write_text(yaml.safe_dump(dict({
        "map": str(MAZE), "model": str(MODEL), "cell_size": 0.3, "origin": [0.0, 5.1],
        "robots": robots, "goals": goals, "seed": seed,
        "planner": dict({"nav.step_timeout": 10.0, "fleet_protocol.lost_after": 2.0,
                         "tick_rate": 20.0}, **(planner or {})),
        "sim": FAST_SIM}, **(description or {}))))
    return path


def run_fleet(tmp_path: Path, ros_env, monkeypatch, steps: int, robots=4, goals="pogema",
              planner=None, sim=None, during=None, until=None, timeout: float = 90.0,
              description: Optional[Dict] = None, waiting_for: str = ""):
    """Run a fleet until ``steps`` steps are resolved (or ``until(watcher)`` holds: wait for
    the event a test checks, never for a count of steps that happens to be enough on a fast
    machine; ``waiting_for`` names it in the failure after ``timeout`` s);
    ``during(run, watcher)`` is called between spins; ``description`` overrides entries of
    the fleet description (pose, yaw, origin). Returns (summary, run)."""
    monkeypatch.setenv("ROS_DOMAIN_ID", ros_env["ROS_DOMAIN_ID"])
    monkeypatch.setenv("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    fleet = FleetDescription.load(fleet_file(tmp_path, robots, goals, planner=planner,
                                  description=description))
    run = FleetRun(fleet, tmp_path / "run", sim_params=dict(FAST_SIM, **(sim or {})),
                   env=ros_env)
    watcher = StepWatcher()
    started = time.monotonic()
    run.start()
    try:
        while (watcher.last < steps) if until is None else not until(watcher):
            watcher.spin(0.05)
            if during is not None:
                during(run, watcher)
            assert time.monotonic() - started < timeout, (
                f"fleet stuck at step {watcher.last} after {timeout:.0f} s"
                + (f", waiting for {waiting_for}" if waiting_for else "") + ":\n"
                + "\n".join(f"== {k}\n{run.log(k)[-1500:]}" for k in run.processes))
    finally:
        run.stop()
        watcher.close()
    return run.summary(watcher.last, time.monotonic() - started, watcher.lost), run


def test_a_soft_rule_fleet_runs_collision_free_and_scores_what_marlgpt_eval_scores(
        tmp_path, ros_env, monkeypatch) -> None:
    from marlgpt_planner.fleet_config import read_map
    from marlgpt_planner.grid import render_grid
    from marlgpt_training.benchmark.episode import run_episode
    from marlgpt_training.benchmark.mapset import Instance
    from marlgpt_training.policies.deployed import DeployedPolicy

    steps = 40
    soft = dict(GREEDY, **{"fleet_protocol.resolution": "soft"})
    # Two steps more than compared, so the simulator has checked every compared step.
    summary, run = run_fleet(tmp_path, ros_env, monkeypatch, steps + 2, robots=4, planner=soft)
    assert summary["collisions"] == {"vertex": 0, "swap": 0, "total": 0}
    pogema = summary["pogema"]
    assert pogema["lockstep"] and pogema["checked_steps"] >= steps
    assert pogema["mismatches"] == 0, pogema["first_mismatches"]
    assert summary["lost_robots"] == []
    assert summary["decision_latency_ms"]["samples"] >= 4 * steps
    # The same model, map, agents and seed through the benchmark harness (marlgpt eval).
    instance = Instance("maze_17x17", 0, 4, steps, render_grid(read_map(MAZE.read_text())))
    offline = run_episode(instance, DeployedPolicy(str(MODEL)))
    assert sum(pogema["goals_per_step"][:steps]) == offline.goals
    assert Path(summary["animation"]).read_text().startswith("<svg")


def fleet_as_eval(tmp_path: Path, ros_env, monkeypatch, steps: int, planner: Dict,
                  model: Path, rule: StepRule):
    """A 4-robot greedy fleet on the demo maze with ``model`` and ``planner``'s rule, checked
    step by step against ``marlgpt eval``'s episode under ``rule`` (0 collisions, 0 POGEMA
    mismatches, the same cells every step); returns (pogema summary, eval trace, eval
    result, the instance)."""
    from marlgpt_planner.fleet_config import read_map
    from marlgpt_planner.grid import render_grid
    from marlgpt_training.benchmark.episode import run_episode
    from marlgpt_training.benchmark.mapset import Instance
    from marlgpt_training.policies.deployed import DeployedPolicy

    watched = {}

    def keep_steps(run, watcher):
        watched.update(watcher.steps)

    # Two steps more than compared, so the simulator has checked every compared step. No
    # robot may be declared lost (its cell would turn into an obstacle and the fleet's steps
    # would rightly differ from the episode's): on a loaded machine a planner can be silent
    # for longer than the other tests' 2 s, so these wait 10 s before giving a robot up.
    planner = dict({"fleet_protocol.lost_after": 10.0}, **planner)
    summary, run = run_fleet(tmp_path, ros_env, monkeypatch, steps + 2, robots=4,
                             planner=planner, during=keep_steps,
                             description={"model": str(model)})
    assert summary["lost_robots"] == [], "a planner fell silent: the steps cannot be compared"
    assert summary["collisions"]["total"] == 0
    pogema = summary["pogema"]
    assert pogema["checked_steps"] >= steps and pogema["mismatches"] == 0
    instance = Instance("maze_17x17", 0, 4, steps, render_grid(read_map(MAZE.read_text())))
    trace = []
    offline = run_episode(instance, DeployedPolicy(str(model)), rule, trace=trace)
    for step in range(1, steps + 1):
        msg = watched[step]
        assert list(msg.robot_ids) == ["robot1", "robot2", "robot3", "robot4"]
        fleet_cells = [[c.row, c.col] for c in msg.to_cells]
        assert fleet_cells == trace[step - 1].tolist(), f"step {step} differs"
    return pogema, trace, offline, instance


@pytest.mark.parametrize("path_weight, search, rotations",
                         [(0.0, 1, True), (1.0, 1, True), (0.0, 16, True), (0.0, 16, False)],
                         ids=["shield", "path-weight-1", "search-16", "search-16-no-rotations"])
def test_a_shielded_fleet_moves_exactly_as_marlgpt_eval_shield(tmp_path, ros_env, monkeypatch,
                                                                path_weight, search,
                                                                rotations) -> None:
    from marlgpt_training.benchmark.episode import run_episode
    from marlgpt_training.policies.deployed import DeployedPolicy

    steps = 40
    shielded = dict(GREEDY, **{"fleet_protocol.resolution": "shield",
                               "model.path_weight": path_weight,
                               "fleet_protocol.search": search,
                               "fleet_protocol.rotations": rotations})
    pogema, trace, offline, instance = fleet_as_eval(
        tmp_path, ros_env, monkeypatch, steps, shielded, MODEL,
        StepRule("shield", path_weight, search, rotations))
    assert sum(pogema["goals_per_step"][:steps]) == offline.goals
    per_robot = [json.loads((tmp_path / "run" / f"robot{i}.stats.json").read_text())
                 ["goals_reached"][f"robot{i}"] for i in range(1, 5)]
    assert min(per_robot) >= 1, per_robot  # every robot reaches a goal: the policy moves
    searched = json.loads((tmp_path / "run" / "robot1.stats.json").read_text())["searched_steps"]
    assert (searched >= steps) if search > 1 else (searched == 0)
    if search > 1:  # the search really changed the fleet's steps (35 of 40 here)
        plain = []
        run_episode(instance, DeployedPolicy(str(MODEL)), StepRule("shield", path_weight),
                    trace=plain)
        assert sum(a.tolist() != b.tolist() for a, b in zip(plain, trace)) >= steps // 2


@pytest.mark.parametrize("search", [1, 16], ids=["sequential", "sequential-search-16"])
def test_a_sequential_fleet_decides_in_turns_exactly_as_marlgpt_eval(tmp_path, ros_env,
                                                                    monkeypatch, search) -> None:
    """Each planner asks its own model for its own robot when its turn comes; the fleet's
    steps are those of the sequential resolution asking one model for everybody."""
    steps = 30
    sequential = dict(GREEDY, **{"fleet_protocol.resolution": "sequential",
                                 "fleet_protocol.search": search})
    pogema, trace, offline, _ = fleet_as_eval(
        tmp_path, ros_env, monkeypatch, steps, sequential, SEQUENTIAL_MODEL,
        StepRule("sequential", search=search))
    assert sum(pogema["goals_per_step"][:steps]) == offline.goals > 0
    stats = json.loads((tmp_path / "run" / "robot1.stats.json").read_text())
    # Turns happened: at least one step needed more than one round of proposals.
    assert len(stats["turns"]) >= steps and max(stats["turns"]) > 1


#: The central resolution with patient steps: the coordinator process may join the fleet
#: long after the planners on a loaded machine, and every step is to follow its plan here
#: (the robots wait only while no plan has come yet or the coordinator answers).
CENTRAL = dict(GREEDY, **{"fleet_protocol.resolution": "central",
                          "fleet_protocol.plan_timeout": 60.0})


def test_a_central_fleet_moves_exactly_as_the_expert(tmp_path, ros_env, monkeypatch) -> None:
    """The coordinator plans every step with the expert and the planners follow: the fleet's
    steps are those of ``marlgpt eval --policy expert`` on the same instance, over DDS."""
    from marlgpt_planner.fleet_config import read_map
    from marlgpt_planner.grid import render_grid
    from marlgpt_training.benchmark.episode import run_episode
    from marlgpt_training.benchmark.mapset import Instance
    from marlgpt_training.policies.expert import ExpertPolicy

    steps, watched = 30, {}
    summary, run = run_fleet(tmp_path, ros_env, monkeypatch, steps + 2, planner=CENTRAL,
                             during=lambda run, watcher: watched.update(watcher.steps))
    assert {s.executable for s in run.specs} == {"loopback_sim", "coordinator", "planner"}
    assert summary["collisions"]["total"] == 0
    pogema = summary["pogema"]
    assert pogema["checked_steps"] >= steps and pogema["mismatches"] == 0
    instance = Instance("maze_17x17", 0, 4, steps, render_grid(read_map(MAZE.read_text())))
    trace = []
    offline = run_episode(instance, ExpertPolicy(), trace=trace)
    for step in range(1, steps + 1):
        fleet_cells = [[c.row, c.col] for c in watched[step].to_cells]
        assert fleet_cells == trace[step - 1].tolist(), f"step {step} differs"
    assert sum(pogema["goals_per_step"][:steps]) == offline.goals > 0
    stats = json.loads((tmp_path / "run" / "robot1.stats.json").read_text())
    assert stats["planned_proposals"] >= steps and stats["searched_steps"] == 0
    assert summary["coordinator"]["planned_steps"] >= steps


def test_a_central_fleet_goes_on_when_its_coordinator_dies(tmp_path, ros_env,
                                                          monkeypatch) -> None:
    killed = {}

    def kill_coordinator(run, watcher):
        if watcher.last >= 5 and not killed:
            run.kill("marlgpt_coordinator")
            killed["at"] = watcher.last

    summary, run = run_fleet(
        tmp_path, ros_env, monkeypatch, 0, planner=dict(CENTRAL, **{
            "fleet_protocol.plan_timeout": 1.0}), during=kill_coordinator,
        until=lambda watcher: killed and watcher.last >= killed["at"] + 12,
        waiting_for="12 steps after the coordinator was killed")
    assert summary["collisions"]["total"] == 0 and summary["lost_robots"] == []
    stats = json.loads((tmp_path / "run" / "robot1.stats.json").read_text())
    assert stats["planned_proposals"] >= 4 and stats["unplanned_proposals"] >= 10
    # Steps without a plan are settled as the shield fleet settles them, search included.
    assert stats["searched_steps"] >= 10


def test_the_runner_picks_the_shipped_sequential_model_for_a_sequential_fleet(capsys) -> None:
    import argparse

    from marlgpt_sim.fleet_runner import _model_for_resolution

    args = argparse.Namespace(fleet=PACKAGE / "config" / "fleet_maze.yaml", robots=None,
                              goals=None, pose_mode=None)
    fleet = FleetDescription.load(args.fleet)
    assert fleet.model.name == MODEL.name
    sequential = {"fleet_protocol.resolution": "sequential"}
    assert _model_for_resolution(fleet, sequential, args).model.name == SEQUENTIAL_MODEL.name
    assert "reads encoder v1" in capsys.readouterr().out
    assert _model_for_resolution(fleet, {}, args) is fleet  # the shield: the model as named


def test_a_model_without_claims_is_refused_under_the_sequential_resolution(tmp_path) -> None:
    from marlgpt_planner.decisions import Decider
    from marlgpt_planner.policy import ModelError, RuntimePolicy

    with pytest.raises(ModelError, match="reads encoder v1, without the claim tokens"):
        Decider(RuntimePolicy(MODEL)).check((17, 17), StepRule("sequential"))
    Decider(RuntimePolicy(SEQUENTIAL_MODEL)).check((17, 17), StepRule("sequential"))


@pytest.mark.parametrize("description", [
    {"pose": "amcl"}, {"pose": "slam"}, {"pose": "stream"},
    {"pose": "tf", "yaw": math.radians(30), "origin": [1.7, -0.4]},
], ids=["amcl", "slam", "stream", "tf-maze-at-30-degrees"])
def test_every_pose_source_and_a_rotated_maze_give_the_same_steps(tmp_path, ros_env,
                                                                 monkeypatch,
                                                                 description) -> None:
    """Poses as AMCL (latched, only after 0.25 m), SLAM Toolbox (only after 0.5 m) or a
    stream deliver them, and a maze at 30 degrees to the map: the fleet (default rollout
    search, 16 candidates) takes exactly the steps of ``marlgpt eval --resolution shield
    --search 16`` (which the default TF, axis-aligned fleet takes too:
    test_a_shielded_fleet_moves_exactly_as_marlgpt_eval_shield)."""
    from marlgpt_planner.fleet_config import read_map
    from marlgpt_planner.grid import render_grid
    from marlgpt_training.benchmark.episode import run_episode
    from marlgpt_training.benchmark.mapset import Instance
    from marlgpt_training.policies.deployed import DeployedPolicy

    steps = 30
    watched = {}
    summary, run = run_fleet(tmp_path, ros_env, monkeypatch, steps + 2, robots=4,
                             planner=dict(GREEDY, **{"fleet_protocol.resolution": "shield"}),
                             during=lambda run, watcher: watched.update(watcher.steps),
                             description=description)
    assert summary["collisions"]["total"] == 0
    assert summary["pogema"]["checked_steps"] >= steps
    assert summary["pogema"]["mismatches"] == 0
    assert summary["goals_reached"] >= 1
    instance = Instance("maze_17x17", 0, 4, steps, render_grid(read_map(MAZE.read_text())))
    trace = []
    run_episode(instance, DeployedPolicy(str(MODEL)), StepRule("shield", search=16), trace=trace)
    for step in range(1, steps + 1):
        fleet_cells = [[c.row, c.col] for c in watched[step].to_cells]
        assert fleet_cells == trace[step - 1].tolist(), f"step {step} differs"
    params = yaml.safe_load((tmp_path / "run" / "robot1.params.yaml").read_text())
    planner = params["/**"]["ros__parameters"]
    assert planner["pose"]["source"] == {"stream": "topic"}.get(description["pose"],
                                                                  description["pose"])
    assert planner["lattice"]["yaw"] == pytest.approx(description.get("yaw", 0.0))


def test_bad_goals_on_every_way_in_are_refused_and_kill_no_planner(tmp_path, ros_env,
                                                                  monkeypatch) -> None:
    """20 bad goals (off the lattice, walls, a lost robot's cell, NaN) on the goal topic, the
    set_goal service and the goal_pose topic, while a robot is lost: every planner alive at
    the end, each goal refused with a log line, the service says no, no collision."""
    from marlgpt_sim.bad_goals import Injector

    fleet = FleetDescription.load(fleet_file(tmp_path, 4, "generator"))
    state = {}

    def logs() -> Dict[str, str]:
        return {r: (tmp_path / "run" / f"{r}.log").read_text() for r in fleet.ids
                if (tmp_path / "run" / f"{r}.log").is_file()}

    def during(run, watcher):
        if "injector" not in state:
            state["injector"] = Injector(watcher.node, fleet.ids, fleet.obstacles, 20)
        if watcher.last >= 3 and "killed" not in state:
            run.kill("robot4")
            state["killed"] = watcher.last
        if watcher.lost and not state["injector"].done:
            now = time.monotonic()
            if now - state.get("sent_at", 0.0) > 0.15:
                state["sent_at"] = now
                state["injector"].send_next([r for r in fleet.ids if r not in watcher.lost],
                                            watcher.lost_cells())
        if state["injector"].done and "done_at" not in state:
            state["done_at"] = watcher.last

    summary, run = run_fleet(
        tmp_path, ros_env, monkeypatch, 0, goals="generator", planner=MOVING, during=during,
        until=lambda watcher: "done_at" in state and watcher.last >= state["done_at"] + 3
        and state["injector"].settled(logs()),
        timeout=150.0, waiting_for="every bad goal answered and its refusal logged")
    injector = state["injector"]
    report = injector.summary({k: run.log(k) for k in ("robot1", "robot2", "robot3")})
    assert report["sent"] == 20 and set(report["by_way"]) == {"topic", "service", "pose"}
    assert set(report["by_kind"]) == {"off-map", "wall", "lost-robot", "nan"}
    assert report["refusals_logged"] == 20, report
    assert report["service_answers"] == report["by_way"]["service"]
    assert report["service_accepted"] == 0
    assert summary["lost_robots"] == ["robot4"]
    assert summary["collisions"]["total"] == 0
    # Alive at the end: each planner wrote its stats on the way out, after the last goal.
    for robot in ("robot1", "robot2", "robot3"):
        assert run.exit_seconds[robot] < 15 and "Traceback" not in run.log(robot)
        stats = json.loads((tmp_path / "run" / f"{robot}.stats.json").read_text())
        assert stats["steps"] >= state["done_at"] and stats["errors"] == ""


def test_fleet_runner_injects_bad_goals_from_the_command_line(tmp_path, ros_env) -> None:
    env = dict(ros_env, ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST")
    run = subprocess.run([sys.executable, "-m", "marlgpt_sim.fleet_runner", "--fleet",
                          str(fleet_file(tmp_path, 3)), "--steps", "12", "--inject-bad-goals",
                          "6", "--pose-mode", "amcl", "--out", str(tmp_path / "out"),
                          "--no-progress", "--timeout", "120"],
                         env=env, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stdout + run.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["bad_goals"]["sent"] == 6 and summary["bad_goals"]["refusals_logged"] == 6
    assert all(summary["alive_at_end"].values()) and summary["collisions"]["total"] == 0
    assert "poses from amcl" in run.stdout


def test_a_killed_robot_becomes_an_obstacle_and_the_rest_go_on(tmp_path, ros_env,
                                                              monkeypatch) -> None:
    killed = {}

    def kill_robot2(run, watcher):
        if watcher.last >= 4 and not killed:
            run.kill("robot2")
            killed["at"] = watcher.last

    def ten_steps_after_the_loss(watcher) -> bool:
        return "robot2" in watcher.lost and watcher.last >= watcher.lost_at + 10

    summary, run = run_fleet(tmp_path, ros_env, monkeypatch, 0, robots=4, goals="generator",
                             planner=MOVING, during=kill_robot2,
                             until=ten_steps_after_the_loss)
    assert killed and summary["steps"] >= killed["at"] + 10
    assert summary["lost_robots"] == ["robot2"]
    assert summary["collisions"]["total"] == 0
    for robot in ("robot1", "robot3", "robot4"):
        assert "robot2 stopped answering" in run.log(robot)


def test_an_aborted_nav2_goal_is_retried(tmp_path, ros_env, monkeypatch) -> None:
    state = {}

    def retried_twice(watcher) -> bool:
        log = (tmp_path / "run" / "robot1.log").read_text()
        if "retry 2/2" in log and "at" not in state:
            state["at"] = watcher.last
        return "at" in state and watcher.last >= max(15, state["at"] + 5)

    summary, run = run_fleet(tmp_path, ros_env, monkeypatch, 0, robots=3, goals="generator",
                             planner=MOVING, sim={"faults.abort": ["robot1:1", "robot1:2"]},
                             until=retried_twice)
    assert summary["steps"] >= 15 and summary["collisions"]["total"] == 0
    log = run.log("robot1")
    assert "goal aborted, retry 1/2" in log and "goal aborted, retry 2/2" in log
    assert summary["lost_robots"] == []


def test_stale_poses_make_a_robot_hold_while_the_fleet_goes_on(tmp_path, ros_env,
                                                              monkeypatch) -> None:
    summary, run = run_fleet(tmp_path, ros_env, monkeypatch, 25, robots=3, goals="generator",
                             planner=dict(MOVING, **{"pose.timeout": 0.3,
                                                     "nav.step_timeout": 1.0}),
                             sim={"faults.pose_gap": ["robot1:0.5:2.0"]},
                             until=lambda watcher: watcher.last >= 25 and "holding" in (
                                 tmp_path / "run" / "robot1.log").read_text(),
                             waiting_for="25 steps and robot1 holding")
    assert summary["steps"] >= 25 and summary["collisions"]["total"] == 0
    assert "holding" in run.log("robot1")
    assert summary["lost_robots"] == []


def test_malformed_maps_and_poses_are_refused_with_a_clear_log(tmp_path, ros_env) -> None:
    """One planner alone, fed by this test: bad maps and a NaN pose are logged and ignored;
    then a good map and pose make the robot report ready (ARRIVED for step 0)."""
    import numpy as np
    import rclpy
    from geometry_msgs.msg import PoseWithCovarianceStamped
    from nav_msgs.msg import OccupancyGrid
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

    from marlgpt_msgs.msg import RobotState
    from marlgpt_planner.lattice import Lattice, render_occupancy

    # The planner's log line for each bad map, in turn, then for the NaN pose.
    refusal_lines = ("map ignored: empty map", "map data has 99 cells",
                     "map resolution or origin is not finite",
                     "map resolution must be positive", "pose ignored: not finite")
    spec = NodeSpec("marlgpt_planner", "marlgpt_planner", "planner",
                    "marlgpt_planner.ros.node", "robot1", {
        "robots": ["robot1"], "lattice.origin": [0.0, 1.5], "lattice.cell_size": 0.3,
        "lattice.rows": 5, "lattice.cols": 5, "model.path": str(MODEL), "tick_rate": 20.0,
        "pose.source": "topic"})
    params = tmp_path / "params.yaml"
    params.write_text(parameter_file(spec))
    log = open(tmp_path / "planner.log", "w")
    process = subprocess.Popen([sys.executable, "-m", spec.module, "--ros-args", "-r",
                                "__ns:=/robot1", "--params-file", str(params)],
                               env=ros_env, stdout=log, stderr=subprocess.STDOUT)
    os.environ["ROS_DOMAIN_ID"] = ros_env["ROS_DOMAIN_ID"]
    rclpy.init()
    node = rclpy.create_node("map_feeder")
    latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL)
    map_pub = node.create_publisher(OccupancyGrid, "/map", latched)
    pose_pub = node.create_publisher(PoseWithCovarianceStamped, "/robot1/pose", 10)
    states = []
    node.create_subscription(RobotState, "/fleet/state/robot1", states.append, 100)

    def spin(seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.05)

    def grid(width, height, data, x=0.0, y=0.0, yaw_z=0.0, resolution=0.05) -> OccupancyGrid:
        msg = OccupancyGrid()
        msg.info.width, msg.info.height, msg.info.resolution = width, height, resolution
        msg.info.origin.position.x, msg.info.origin.position.y = x, y
        msg.info.origin.orientation.z = yaw_z
        msg.info.origin.orientation.w = math.sqrt(1 - yaw_z * yaw_z)
        msg.data = data
        return msg

    def pose(x, y) -> PoseWithCovarianceStamped:
        msg = PoseWithCovarianceStamped()
        msg.header.frame_id = "map"
        msg.pose.pose.position.x, msg.pose.pose.position.y = x, y
        msg.pose.pose.orientation.w = 1.0
        return msg

    def planner_log() -> str:
        return (tmp_path / "planner.log").read_text()

    def wait_for(done, what: str, send=lambda: None, seconds: float = 60.0) -> None:
        """Spin until ``done()``, calling ``send()`` every half second; fail naming ``what``
        if the planner exits or ``seconds`` pass (the wait is for the event, however slow the
        machine, never a fixed sleep)."""
        deadline, again = time.monotonic() + seconds, 0.0
        while not done():
            assert process.poll() is None and time.monotonic() < deadline, (
                f"no {what} within {seconds:.0f} s (planner exit status {process.poll()}):\n"
                + planner_log())
            if time.monotonic() >= again:
                send()
                again = time.monotonic() + 0.5
            spin(0.05)

    try:
        wait_for(lambda: map_pub.get_subscription_count() and pose_pub.get_subscription_count()
                 and node.count_publishers("/fleet/state/robot1"), "discovery of the planner")
        bad_maps = [grid(0, 0, []), grid(10, 10, [0] * 99), grid(4, 4, [0] * 16, x=math.nan),
                    grid(4, 4, [0] * 16, resolution=0.0)]
        for bad, line in zip(bad_maps, refusal_lines):  # each refusal logged before the next map
            wait_for(lambda line=line: line in planner_log(), repr(line),
                     send=lambda bad=bad: map_pub.publish(bad))
        wait_for(lambda: refusal_lines[-1] in planner_log(), repr(refusal_lines[-1]),
                 send=lambda: pose_pub.publish(pose(math.nan, 0.2)))
        assert process.poll() is None, (tmp_path / "planner.log").read_text()
        assert not [s for s in states if s.robot_id == "robot1"]
        data, ox, oy = render_occupancy(np.zeros((5, 5), bool), Lattice(0.0, 1.5, 0.3, 5, 5))
        map_pub.publish(grid(data.shape[1], data.shape[0], data.reshape(-1).tolist(), ox, oy))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not [s for s in states if s.step == 0]:
            pose_pub.publish(pose(0.45, 1.05))  # centre of cell (1, 1)
            spin(0.1)
        ready = [s for s in states if s.robot_id == "robot1" and s.step == 0]
        assert ready and ready[0].status == RobotState.STATUS_ARRIVED
        assert (ready[0].current_cell.row, ready[0].current_cell.col) == (1, 1)
    finally:
        node.destroy_node()
        rclpy.shutdown()
        process.terminate()
        process.wait(10)
        log.close()
    text = (tmp_path / "planner.log").read_text()
    for expected in refusal_lines:
        assert expected in text, text


def test_fleet_runner_cli_refuses_a_bad_description(tmp_path) -> None:
    bad = tmp_path / "fleet.yaml"
    bad.write_text(yaml.safe_dump({"map": "missing.txt", "model": str(MODEL)}))
    run = subprocess.run([sys.executable, "-m", "marlgpt_sim.fleet_runner", "--fleet",
                          str(bad), "--out", str(tmp_path / "out")], capture_output=True,
                         text=True)
    assert run.returncode == 2 and "missing.txt" in run.stderr


def test_launch_and_runner_start_the_same_nodes() -> None:
    fleet = FleetDescription.load(PACKAGE / "config" / "fleet_maze.yaml")
    specs = fleet.nodes("loopback")
    assert [s.namespace for s in specs] == ["", "robot1", "robot2", "robot3", "robot4"]
    assert {s.executable for s in specs} == {"loopback_sim", "planner"}
    planner = specs[1].parameters
    assert planner["fleet"] == ["robot1", "robot2", "robot3", "robot4"]
    assert planner["robots"] == ["robot1"]
    assert Path(planner["model.path"]).is_file()


def test_a_growing_noisy_slam_map_with_a_moving_origin(tmp_path, ros_env, monkeypatch) -> None:
    """The simulator reveals the maze from the robots' start area outwards, its map origin
    moving as it grows, with speckle noise: the planners keep stepping, nobody collides."""
    def grew(watcher) -> bool:  # 15 steps, and robot1 has taken maps of two sizes
        log = (tmp_path / "run" / "robot1.log").read_text()
        return watcher.last >= 15 and len({line.split("from map ")[1].split(" @")[0]
                                           for line in log.splitlines()
                                           if "coarse grid from map" in line}) > 1

    summary, run = run_fleet(tmp_path, ros_env, monkeypatch, 0, robots=3, goals="generator",
                             planner=MOVING, sim={"map.grow": True, "map.grow_period": 0.3,
                                                  "map.period": 0.3, "map.noise": 0.01},
                             until=grew, waiting_for="15 steps and robot1's map to grow")
    assert summary["steps"] >= 15 and summary["collisions"]["total"] == 0
    grids = [line for line in run.log("robot1").splitlines() if "coarse grid from map" in line]
    assert len({line.split("from map ")[1].split(" @")[0] for line in grids}) > 1  # it grew
