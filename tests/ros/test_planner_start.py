"""A planner with a bad parameter or a model its encoder cannot feed stops at start, before it
joins the fleet: one clear error naming the parameter and what is allowed, exit status 2."""
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, model_with_metadata, stop

MODEL = REPO / "ros2_ws" / "src" / "marlgpt_planner" / "models" / "marlgpt.onnx"
GOOD = {"robots": ["robot1"], "lattice.origin": [0.0, 1.5], "lattice.cell_size": 0.3,
        "lattice.rows": 5, "lattice.cols": 5, "model.path": str(MODEL)}


def start_planner(tmp_path: Path, ros_env, parameters: dict) -> subprocess.CompletedProcess:
    from marlgpt_planner.fleet_config import nested

    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"/**": {"ros__parameters": nested(parameters)}}))
    return subprocess.run([sys.executable, "-m", "marlgpt_planner.ros.node", "--ros-args",
                           "-r", "__ns:=/robot1", "--params-file", str(params)],
                          env=ros_env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("name, value, allowed", [
    ("map.unknown_policy", "obstacel", "one of obstacle, free"),
    ("lattice.cell_size", 0, "> 0"),
    ("tick_rate", 0, "> 0"),
    ("lattice.origin", [1.0], "exactly 2 finite numbers"),
    ("lattice.rows", 0, "integer >= 1"),
    ("lattice.cols", 0, "integer >= 1"),
    ("map.source", "topik", "one of topic, static"),
    ("pose.source", "odom", "one of tf, amcl, slam, topic"),
    ("pose.hysteresis", 0.5, "[0, 0.5)"),
    ("fleet_protocol.resolution", "hard", "one of soft, shield"),
    ("model.backend", "gpu", "one of"),
    ("lattice.cell_size", "thirty", "a finite number > 0"),
    ("nav.step_timeout", -1.0, "> 0"),
])
def test_a_bad_parameter_stops_the_planner_with_a_clear_error(tmp_path, ros_env, name, value,
                                                               allowed) -> None:
    run = start_planner(tmp_path, ros_env, dict(GOOD, **{name: value}))
    assert run.returncode == 2, run.stdout + run.stderr
    line = next((text for text in run.stderr.splitlines()
                 if text.strip().startswith(name + ":")), None)
    assert line is not None, run.stderr
    assert allowed in line and repr(value) in line, line
    assert "Traceback" not in run.stderr


def test_every_problem_is_named_at_once(tmp_path, ros_env) -> None:
    run = start_planner(tmp_path, ros_env, dict(GOOD, **{"tick_rate": 0.0, "lattice.rows": 0,
                                                        "map.unknown_policy": "?"}))
    assert run.returncode == 2 and "3 invalid parameters" in run.stderr, run.stderr


def test_a_model_the_encoder_cannot_feed_stops_the_planner_at_start(tmp_path, ros_env) -> None:
    other = model_with_metadata(tmp_path / "other.onnx", "layout_sha256", "0" * 64)
    run = start_planner(tmp_path, ros_env, dict(GOOD, **{"model.path": str(other)}))
    assert run.returncode == 2, run.stderr
    assert "does not match the encoder" in run.stderr and "layout_sha256" in run.stderr
    missing = start_planner(tmp_path, ros_env, dict(GOOD, **{"model.path": "nope.onnx"}))
    assert missing.returncode == 2 and "no such model file" in missing.stderr


def test_good_parameters_start_a_planner_that_waits_for_its_fleet(tmp_path, ros_env) -> None:
    """The control: the same command with good parameters runs until stopped. It is waited
    for until it has started (logged what it drives: past every check that stops a bad one),
    however slow the machine, then must still be running."""
    import time

    log_path = tmp_path / "planner.log"
    with pytest.raises(subprocess.TimeoutExpired):
        from marlgpt_planner.fleet_config import nested

        params = tmp_path / "params.yaml"
        params.write_text(yaml.safe_dump({"/**": {"ros__parameters": nested(GOOD)}}))
        with open(log_path, "w") as log:
            process = subprocess.Popen([sys.executable, "-m", "marlgpt_planner.ros.node",
                                        "--ros-args", "-r", "__ns:=/robot1", "--params-file",
                                        str(params)],
                                       env=ros_env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        try:
            while "driving robot1" not in log_path.read_text():
                assert process.poll() is None and time.monotonic() < deadline, (
                    f"the planner did not start within 60 s (exit status {process.poll()}):\n"
                    + log_path.read_text())
                time.sleep(0.1)
            process.wait(timeout=2)  # started, and waiting for its fleet: still running
        finally:
            stop(process)
