"""Run a fleet from its description: the loopback simulator and one planner process per robot.

    python -m marlgpt_sim.fleet_runner --robots 8 --steps 200 --summary-json out/s.json

It starts the same executables with the same parameters as ``maze.launch.py`` (both read
:mod:`marlgpt_planner.fleet_config`), as separate processes talking over DDS, follows the
fleet's steps on ``/fleet/step`` with a live progress line, stops everything after
``--steps`` steps and writes a summary (steps, robots, goals, throughput, collisions counted
by the simulator, decision and pipeline latency p50/p99) and an animation of the run.
"""
import argparse
import copy
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import yaml

from marlgpt_planner.fleet_config import (
    DEFAULT_FLEET,
    FleetDescription,
    FleetError,
    NodeSpec,
    parameter_file,
)


class FleetRun:
    """The processes of one fleet run (usable from tests: start, wait, kill, stop)."""

    def __init__(self, fleet: FleetDescription, out: Path, sim: str = "loopback",
                 planner: Optional[Dict] = None, sim_params: Optional[Dict] = None,
                 env: Optional[Dict[str, str]] = None) -> None:
        self.out = Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.env = dict(env if env is not None else os.environ, PYTHONUNBUFFERED="1")
        # The planner overrides are the description's own (a central fleet's coordinator
        # shares its fleet protocol), then what maze.launch.py starts (fleet.nodes), plus
        # this run's outputs.
        planner = dict(planner or {})
        fleet = copy.copy(fleet)
        fleet.planner_parameters = dict(fleet.planner_parameters, **planner)
        self.fleet = fleet
        self.specs: List[NodeSpec] = []
        for spec in fleet.nodes(sim):
            if spec.executable == "loopback_sim":
                extra = dict({"summary_file": str(self.out / "sim.json"),
                              "animation_file": str(self.out / "animation.svg")},
                             **(sim_params or {}))
            elif spec.executable == "coordinator":
                extra = {"stats_file": str(self.out / "coordinator.stats.json")}
            else:
                extra = dict({"stats_file": str(self.out / f"{spec.namespace}.stats.json")},
                             **(planner or {}))
            self.specs.append(spec._replace(parameters=dict(spec.parameters, **extra)))
        self.processes: Dict[str, subprocess.Popen] = {}
        self._logs: Dict[str, object] = {}

    @staticmethod
    def key(spec: NodeSpec) -> str:
        return spec.namespace or spec.name

    def command(self, spec: NodeSpec) -> List[str]:
        params = self.out / f"{self.key(spec)}.params.yaml"
        params.write_text(parameter_file(spec))
        namespace = ["-r", f"__ns:=/{spec.namespace}"] if spec.namespace else []
        return [sys.executable, "-m", spec.module, "--ros-args", "-r", f"__node:={spec.name}",
                *namespace, "--params-file", str(params)]

    def start(self) -> None:
        for spec in self.specs:
            key = self.key(spec)
            log = open(self.out / f"{key}.log", "w")
            self._logs[key] = log
            self.processes[key] = subprocess.Popen(self.command(spec), env=self.env,
                                                   stdout=log, stderr=subprocess.STDOUT)

    def alive(self) -> Dict[str, bool]:
        return {k: p.poll() is None for k, p in self.processes.items()}

    def kill(self, key: str) -> None:
        """Kill one process outright (a robot whose computer dies)."""
        self.processes[key].kill()
        self.processes[key].wait()

    def stop(self, timeout: float = 15.0) -> None:
        """SIGINT every process (they write their stats and summaries), then kill stragglers."""
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        started = time.monotonic()
        deadline = started + timeout
        self.exit_seconds: Dict[str, float] = {}
        for key, process in self.processes.items():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                print(f"fleet_runner: {key} did not stop within {timeout:.0f} s; killed",
                      file=sys.stderr)
                process.kill()
                process.wait()
            self.exit_seconds[key] = round(time.monotonic() - started, 2)
        for log in self._logs.values():
            log.close()

    def log(self, key: str) -> str:
        path = self.out / f"{key}.log"
        return path.read_text() if path.is_file() else ""

    def summary(self, steps_seen: int, seconds: float, lost: Sequence[str] = ()) -> dict:
        """Merge the simulator's and the planners' outputs (and the robots seen ``lost`` on
        ``/fleet/step``) into the run's summary."""
        sim = _read_json(self.out / "sim.json") or {}
        decision, pipeline, goals, lost = [], [], 0, set(lost)
        for robot in self.fleet.ids:
            stats = _read_json(self.out / f"{robot}.stats.json") or {}
            decision += stats.get("decision_ms", [])
            pipeline += stats.get("pipeline_ms", [])
            goals += sum(stats.get("goals_reached", {}).values())
            lost.update(stats.get("lost", []))
        steps = max(int(sim.get("steps", 0) or 0), steps_seen)
        pogema = sim.get("pogema", {})
        if pogema.get("lockstep"):
            goals = int(pogema.get("goals_reached", goals))
        coordinator = _read_json(self.out / "coordinator.stats.json")
        extra = {} if coordinator is None else {"coordinator": {
            "planned_steps": coordinator.get("planned_steps", 0),
            "plan_latency_ms": _percentiles(coordinator.get("plan_ms", []))}}
        return {
            "robots": len(self.fleet.ids), "steps": steps, "goals_reached": goals,
            "throughput": goals / steps if steps else 0.0,
            "collisions": sim.get("collisions", {}),
            "lost_robots": sorted(lost),
            "decision_latency_ms": _percentiles(decision),
            "pipeline_latency_ms": _percentiles(pipeline),
            "pogema": pogema, "seconds": round(seconds, 2),
            "exit_seconds": getattr(self, "exit_seconds", {}),
            "map": str(self.fleet.map_path), "model": str(self.fleet.model),
            "animation": str(self.out / "animation.svg"), **extra,
        }


def _percentiles(values: List[float]) -> dict:
    if not values:
        return {"p50": None, "p99": None, "samples": 0}
    array = np.array(values)
    return {"p50": round(float(np.percentile(array, 50)), 3),
            "p99": round(float(np.percentile(array, 99)), 3), "samples": len(values)}


def _read_json(path: Path) -> Optional[dict]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


class StepWatcher:
    """Follows ``/fleet/step`` from this process (an rclpy node of its own)."""

    def __init__(self, topic: str = "/fleet/step") -> None:
        import rclpy

        from marlgpt_msgs.msg import FleetStep
        from marlgpt_planner.ros.qos import FLEET_QOS

        self.rclpy = rclpy
        rclpy.init()
        self.node = rclpy.create_node("fleet_runner")
        self.steps: Dict[int, object] = {}
        self.lost: List[str] = []
        self.lost_at = 0  # the step at which the last robot was lost
        self.cells: Dict[str, Tuple[int, int]] = {}  # each robot's last resolved cell
        self.node.create_subscription(FleetStep, topic, self._on_step, FLEET_QOS)

    def _on_step(self, msg) -> None:
        self.steps[msg.step] = msg
        if msg.step >= max(self.steps):
            self.cells.update({r: (c.row, c.col) for r, c in zip(msg.robot_ids, msg.to_cells)})
        if len(msg.lost_robot_ids) > len(self.lost):
            self.lost = list(msg.lost_robot_ids)
            self.lost_at = msg.step

    def lost_cells(self) -> List[Tuple[int, int]]:
        return [self.cells[r] for r in self.lost if r in self.cells]

    @property
    def last(self) -> int:
        return max(self.steps) if self.steps else 0

    def spin(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.rclpy.spin_once(self.node, timeout_sec=max(0.0, deadline - time.monotonic()))

    def close(self) -> None:
        self.node.destroy_node()
        if self.rclpy.ok():
            self.rclpy.shutdown()


#: The shipped model that reads the claims, beside the default one (models/).
SEQUENTIAL_MODEL = "marlgpt-sequential.onnx"


def _model_for_resolution(fleet: FleetDescription, planner: dict,
                          args: argparse.Namespace) -> FleetDescription:
    """Under the sequential resolution a model must read the claims (encoder v3): if the
    description's model does not and the shipped sequential model lies beside it, run that
    one (said on the console); else the planners refuse the model with the reason."""
    key = "fleet_protocol.resolution"
    if planner.get(key, fleet.planner_parameters.get(key)) != "sequential":
        return fleet
    from marlgpt_planner.model_file import ModelError, onnx_metadata

    candidate = fleet.model.with_name(SEQUENTIAL_MODEL)
    try:
        version = int(onnx_metadata(fleet.model).get("encoder_version", 0))
    except (ModelError, ValueError):
        return fleet
    if version >= 3 or not candidate.is_file() or candidate == fleet.model:
        return fleet
    print(f"fleet_runner: {fleet.model.name} reads encoder v{version}, without the claims the "
          f"sequential resolution needs: running {candidate.name} (--model to choose)",
          flush=True)
    return FleetDescription.load(args.fleet, robots=args.robots, model=str(candidate),
                                 goals=args.goals, pose=args.pose_mode)


def run(args: argparse.Namespace) -> int:
    try:
        fleet = FleetDescription.load(args.fleet, robots=args.robots, model=args.model,
                                      goals=args.goals, pose=args.pose_mode)
    except FleetError as exc:
        print(f"fleet_runner: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out)
    sim_params = {"motion.time": args.motion_time} if args.motion_time is not None else {}
    planner = dict(item.split("=", 1) for item in args.set)
    for key, value in planner.items():
        planner[key] = yaml.safe_load(value)
    if args.sample is not None:
        planner["model.sample"] = args.sample
    if args.model is None:
        fleet = _model_for_resolution(fleet, planner, args)
    try:
        runner = FleetRun(fleet, out, sim=args.sim, planner=planner, sim_params=sim_params)
    except FleetError as exc:
        print(f"fleet_runner: {exc}", file=sys.stderr)
        return 2
    watcher = StepWatcher()
    injector = None
    if args.inject_bad_goals:
        from marlgpt_sim.bad_goals import Injector

        injector = Injector(watcher.node, fleet.ids, fleet.obstacles, args.inject_bad_goals)
    started = time.monotonic()
    print(f"fleet: {len(fleet.ids)} robots on {fleet.map_path.name}, model {fleet.model.name}, "
          f"poses from {fleet.pose}, {args.steps} steps; logs in {out}/", flush=True)
    runner.start()
    status = 0
    alive: Dict[str, bool] = {}
    try:
        last_progress = -1
        tty = sys.stdout.isatty()
        while watcher.last < args.steps or (injector is not None and not injector.settled(
                {k: runner.log(k) for k in runner.processes})):
            watcher.spin(0.2)  # (with bad goals: on until the planners have answered them all)
            if injector is not None and watcher.last >= 2:
                injector.send_next([r for r in fleet.ids if r not in watcher.lost],
                                   watcher.lost_cells())
            dead = [k for k, ok in runner.alive().items() if not ok]
            if dead and watcher.last == 0:
                print(f"\nfleet_runner: {', '.join(dead)} exited before the first step; see "
                      f"{out}/{dead[0]}.log:\n{runner.log(dead[0])[-2000:]}", file=sys.stderr)
                status = 1
                break
            if dead and injector is not None:
                break  # its answers to bad goals will never come (reported below)
            if time.monotonic() - started > args.timeout:
                print(f"\nfleet_runner: stopped after {args.timeout:.0f} s at step "
                      f"{watcher.last}", file=sys.stderr)
                status = 1
                break
            if watcher.last != last_progress and not args.no_progress:
                last_progress = watcher.last
                elapsed = time.monotonic() - started
                lost = f" | lost {','.join(watcher.lost)}" if watcher.lost else ""
                line = f"step {watcher.last}/{args.steps} | {elapsed:5.1f} s{lost}"
                if tty:
                    print(f"\r{line}   ", end="", flush=True)
                elif watcher.last % max(1, args.steps // 10) == 0:
                    print(line, flush=True)  # a log, not a terminal: every tenth
    except KeyboardInterrupt:
        status = 130
    finally:
        alive = runner.alive()
        runner.stop()
        if injector is not None:
            watcher.spin(0.5)  # the last service answers
        watcher.close()
    summary = runner.summary(watcher.last, time.monotonic() - started, watcher.lost)
    summary["alive_at_end"] = alive
    if injector is not None:
        summary["bad_goals"] = injector.summary({k: runner.log(k) for k in runner.processes})
        print(f"bad goals: {json.dumps(summary['bad_goals'])}")
        dead = [k for k, ok in alive.items() if not ok]
        if dead:
            print(f"fleet_runner: {', '.join(dead)} died during the run", file=sys.stderr)
            status = status or 1
    print()
    print(json.dumps({k: summary[k] for k in ("robots", "steps", "goals_reached", "throughput",
                                              "collisions", "decision_latency_ms",
                                              "pipeline_latency_ms")}, indent=2))
    target = Path(args.summary_json) if args.summary_json else out / "summary.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"summary: {target}\nanimation: {summary['animation']}")
    return status


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m marlgpt_sim.fleet_runner",
        description="Run a marlgpt fleet from its description: the loopback simulator plus "
        "one planner process per robot over DDS, a live progress line, and at the end a "
        "summary JSON (steps, robots, goals, throughput, collisions, decision and pipeline "
        "latency) and an animated SVG of the run.",
        epilog="example: python -m marlgpt_sim.fleet_runner --robots 8 --steps 200 "
        "--summary-json out/demo/summary.json")
    parser.add_argument("--fleet", default=str(DEFAULT_FLEET), metavar="YAML",
                        help="fleet description (default: the package's fleet_maze.yaml)")
    parser.add_argument("--robots", default=None, metavar="N|ID,ID,...",
                        help="run N robots (robot1..robotN) or these robot ids instead of the "
                        "description's")
    parser.add_argument("--steps", type=int, default=100, metavar="N",
                        help="fleet steps to run (default: %(default)s)")
    parser.add_argument("--model", default=None, metavar="PATH",
                        help="exported model (default: the description's)")
    parser.add_argument("--goals", choices=("pogema", "generator"), default=None,
                        help="goal source (default: the description's)")
    decoding = parser.add_mutually_exclusive_group()
    decoding.add_argument("--sample", action="store_true", default=None,
                          help="planners sample actions from the policy (default: the "
                          "description's model.sample)")
    decoding.add_argument("--greedy", action="store_false", dest="sample",
                          help="planners take the most likely action")
    parser.add_argument("--pose-mode", choices=("tf", "amcl", "slam", "stream"), default=None,
                        help="how poses reach the planners (the simulator delivers them that "
                        "way): tf (map -> odom -> base_footprint at 30 Hz, a real robot's "
                        "default), amcl (amcl_pose only after 0.25 m or 0.2 rad), slam (SLAM "
                        "Toolbox's pose only after 0.5 m), stream (a pose topic at 30 Hz); "
                        "default: the description's")
    parser.add_argument("--inject-bad-goals", type=int, default=0, metavar="N",
                        help="during the run, send N goals every planner must refuse (off the "
                        "lattice, on walls, on a lost robot's cell, NaN) through the goal "
                        "topic, the set_goal service and the goal_pose topic; the summary "
                        "counts them, and the run fails if a planner dies")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a planner parameter for every robot, e.g. --set "
                        "nav.step_timeout=10 (repeatable; names as in config/planner.yaml)")
    parser.add_argument("--sim", choices=("loopback", "gazebo", "none"), default="loopback",
                        help="loopback: start the loopback simulator with the planners; "
                        "gazebo, none: the planners alone, for robots simulated in Gazebo or "
                        "real ones (their Nav2 and localization must be running)")
    parser.add_argument("--motion-time", type=float, default=None, metavar="S",
                        help="simulated seconds per cell (default: the description's)")
    parser.add_argument("--out", default="out/demo", metavar="DIR",
                        help="logs, parameter files, stats and animation (default: %(default)s)")
    parser.add_argument("--summary-json", default=None, metavar="PATH",
                        help="where to write the summary (default: OUT/summary.json)")
    parser.add_argument("--timeout", type=float, default=1800.0, metavar="S",
                        help="give up after this many seconds (default: %(default)s)")
    parser.add_argument("--no-progress", action="store_true", help="no progress line")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if args.steps < 1:
        print("fleet_runner: --steps must be at least 1", file=sys.stderr)
        return 2
    bad = [item for item in args.set if "=" not in item]
    if bad:
        print(f"fleet_runner: --set needs KEY=VALUE, got {bad[0]!r}", file=sys.stderr)
        return 2
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
