"""The marlgpt command: help without the ROS workspace, a working stack inside it."""
import os
import subprocess

import pytest

from marlgpt_training.cli import main
from tests.conftest import REPO, model_with_metadata, tiny_map_set

MARLGPT = REPO / ".venv/bin/marlgpt"
ROS_VARS = ("AMENT_PREFIX_PATH", "CMAKE_PREFIX_PATH", "PYTHONPATH", "LD_LIBRARY_PATH",
            "COLCON_PREFIX_PATH", "MARLGPT_ENV", "VIRTUAL_ENV")


def test_help_works_without_the_sourced_workspace() -> None:
    if not MARLGPT.exists():
        pytest.skip("no .venv/bin/marlgpt: run 'make setup'")
    env = {k: v for k, v in os.environ.items() if k not in ROS_VARS}
    result = subprocess.run([str(MARLGPT), "--help"], env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert "usage: marlgpt" in result.stdout
    assert "info" in result.stdout


def test_no_command_prints_help_and_fails(capsys: pytest.CaptureFixture) -> None:
    assert main([]) == 2
    assert "usage: marlgpt" in capsys.readouterr().out


def test_info_reports_every_part_of_the_stack(capsys: pytest.CaptureFixture) -> None:
    if not os.environ.get("MARLGPT_ENV"):
        pytest.skip("needs the sourced workspace: run through scripts/run")
    code = main(["info"])
    out = capsys.readouterr().out
    assert "MISSING" not in out, out
    assert code == 0
    for name in ("torch", "pogema", "lbforaging", "gfootball_engine", "onnxruntime", "rclpy",
                 "marlgpt_msgs.msg"):
        assert name in out


RELEASED = REPO / "training" / "checkpoints" / "marlgpt"


def _broken_checkpoint(tmp_path, kind: str):
    import shutil

    import yaml

    target = tmp_path / "ckpt"
    shutil.copytree(RELEASED, target)
    if kind == "corrupt":
        (target / "model.safetensors").write_bytes(b"not safetensors at all")
    else:  # weights of the released (tiny) model under a config of another width
        config = yaml.safe_load((target / "config.yaml").read_text())
        config["model"]["width"] = 96
        (target / "config.yaml").write_text(yaml.safe_dump(config))
    return target


@pytest.mark.parametrize("case", ["corrupt-weights-eval", "misfit-weights-export",
                                  "encoder-differs", "invalid-yaml", "out-is-a-file",
                                  "lbf-no-episodes", "sample-deterministic",
                                  "lbf-sample-expert"])
def test_bad_input_gives_one_clear_line_not_a_traceback(tmp_path, capsys, case) -> None:
    eval_args = ["--map-set", str(tiny_map_set(tmp_path / "maps")), "--agents", "6",
                 "--max-instances", "1",
                 "--workers", "1", "--no-progress"]
    if case == "corrupt-weights-eval":
        argv = ["eval", "--policy", str(_broken_checkpoint(tmp_path, "corrupt")), *eval_args]
        expected = "not a readable safetensors file"
    elif case == "misfit-weights-export":
        argv = ["export", "--checkpoint", str(_broken_checkpoint(tmp_path, "misfit")), "--onnx",
                str(tmp_path / "m.onnx")]
        expected = "do not fit the config's model"
    elif case == "encoder-differs":
        other = model_with_metadata(tmp_path / "other-layout.onnx", "layout_sha256", "0" * 64)
        argv = ["eval", "--policy", str(other), *eval_args]
        expected = "does not match the encoder"
    elif case == "invalid-yaml":
        config = tmp_path / "bad.yaml"
        config.write_text("model: [1\n")
        argv = ["train", "--config", str(config), "--out", str(tmp_path / "run")]
        expected = "not valid YAML at line"
    elif case == "out-is-a-file":
        (tmp_path / "taken").write_text("x")
        argv = ["generate", "--out", str(tmp_path / "taken"), "--episodes", "1"]
        expected = "is a file"
    elif case == "lbf-no-episodes":
        argv = ["eval", "--env", "lbf", "--policy", "random", "--episodes", "0"]
        expected = "--episodes must be at least 1"
    elif case == "sample-deterministic":
        argv = ["eval", "--policy", "pibt", "--sample", *eval_args]
        expected = "deterministic"
    else:
        argv = ["eval", "--env", "lbf", "--policy", "expert", "--sample", "--episodes", "2"]
        expected = "--sample needs a model"
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert expected in err, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
