"""An exception in a callback does not end a node (ros.process.run_node), and the planner's
/diagnostics levels (messages.diagnostics)."""
import math
import signal
import subprocess
import sys
import time

from tests.conftest import REPO

NODE = """
import sys
from rclpy.node import Node
from marlgpt_planner.ros.process import run_node

class Failing(Node):
    def __init__(self):
        super().__init__("failing")
        self.ticks = 0
        self.create_timer(0.05, self.tick)

    def tick(self):
        self.ticks += 1
        if self.ticks == 2:
            raise RuntimeError("boom in a timer")
        if self.ticks == 6:
            print("still spinning after the error", flush=True)

def on_error(node, exc):
    print(f"on_error: {exc}", flush=True)

run_node(Failing, "failing", on_error=on_error if sys.argv[1] == "catch" else None)
"""


def _run(mode: str, ros_env, seconds: float = 60.0) -> subprocess.CompletedProcess:
    """Run NODE until what the tests check has happened: it printed the line it prints a few
    ticks after the error (it spun on), or it exited (the error ended it); then SIGINT. Not a
    fixed sleep: on a loaded machine starting rclpy alone can take seconds."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        out_path, err_path = Path(folder) / "out", Path(folder) / "err"
        with open(out_path, "w") as out, open(err_path, "w") as err:
            process = subprocess.Popen([sys.executable, "-c", NODE, mode], env=ros_env,
                                       cwd=REPO, stdout=out, stderr=err, text=True)
        deadline = time.monotonic() + seconds
        while process.poll() is None and "still spinning" not in out_path.read_text():
            if time.monotonic() > deadline:
                process.kill()
                process.wait()
                raise AssertionError(
                    f"{mode}: within {seconds:.0f} s the node neither exited nor printed "
                    f"'still spinning':\n{out_path.read_text()}\n{err_path.read_text()}")
            time.sleep(0.05)
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        process.wait(timeout=20)
        return subprocess.CompletedProcess(process.args, process.returncode,
                                           out_path.read_text(), err_path.read_text())


def test_an_exception_in_a_callback_is_reported_and_the_node_spins_on(ros_env) -> None:
    caught = _run("catch", ros_env)
    assert "on_error: boom in a timer" in caught.stdout, caught.stderr
    assert "still spinning after the error" in caught.stdout
    # Without on_error the same exception ends the process (what the planner had before).
    plain = _run("plain", ros_env)
    assert plain.returncode != 0 and "boom in a timer" in plain.stderr
    assert "still spinning" not in plain.stdout


def test_diagnostics_levels() -> None:
    import numpy as np
    from diagnostic_msgs.msg import DiagnosticStatus

    from marlgpt_planner import lockstep
    from marlgpt_planner.goals import Goals
    from marlgpt_planner.lattice import Lattice
    from marlgpt_planner.robot import Robot
    from marlgpt_planner.ros.messages import diagnostics

    lattice = Lattice(0.0, 1.5, 0.3, 5, 5)
    fleet = lockstep.LockStep(["r1", "r2", "r3"])
    robots = [Robot(r, lattice, Goals("external")) for r in ("r1", "r2", "r3")]
    for robot in robots:
        robot.set_map(np.zeros((5, 5), bool))
        robot.set_pose(*lattice.centre((1, 1)), 0.0, taken=10.0)
        robot.status = lockstep.ARRIVED
    robots[1].pose_at = -math.inf  # no fresh pose
    robots[2].lost = True
    levels = [s.level for s in diagnostics(robots, fleet, 10.5, None, True, None, 2.5).status]
    assert levels == [DiagnosticStatus.OK, DiagnosticStatus.WARN, DiagnosticStatus.ERROR]
    failed = diagnostics(robots, fleet, 10.5, None, True, "ValueError: x", None).status
    assert all(s.level == DiagnosticStatus.ERROR for s in failed)
    assert "error: ValueError: x" in failed[0].message
    no_map = diagnostics(robots[:1], fleet, 10.5, None, False, None, None).status
    assert no_map[0].level == DiagnosticStatus.ERROR
    values = {kv.key: kv.value for kv in failed[0].values}
    assert values["cell"] == "(1, 1)" and values["decision_ms_last"] == ""
