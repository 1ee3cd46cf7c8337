"""The robots' runtime (marlgpt_planner.policy): loading, refusing, masking, choosing."""
import subprocess
import sys
from pathlib import Path
from typing import Dict, Optional

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from marlgpt_planner.actions import NAMES
from marlgpt_planner.check_engine import compare
from marlgpt_planner.check_engine import main as check_engine
from marlgpt_planner.encoder import Encoder
from marlgpt_planner.policy import (
    MODEL_FORMAT,
    ModelError,
    RuntimePolicy,
    agreement,
    choose,
    encoder_expectation,
)
from tests.conftest import REPO, decisive_checkpoint

BUILD_ENGINE = REPO / "ros2_ws" / "src" / "marlgpt_planner" / "scripts" / "build_engine.sh"


def encoder(radius: int = 5) -> Encoder:
    return Encoder(np.zeros((4, 4), dtype=bool), radius=radius)


def metadata(radius: int = 5, **changes: str) -> Dict[str, str]:
    meta = dict(encoder_expectation(encoder(radius)), **{
        "marlgpt.format": MODEL_FORMAT, "actions": ",".join(NAMES), "run_id": "test/step-1",
        "config_hash": "0" * 64})
    meta.update(changes)
    return meta


def linear_model(path: Path, weights: np.ndarray, meta: Optional[Dict[str, str]]) -> Path:
    """A model file whose logits are ``observations @ weights`` (a stand-in for the actor)."""
    tokens = weights.shape[0]
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["observations", "w"], ["logits"])], "linear",
        [helper.make_tensor_value_info("observations", TensorProto.FLOAT, ["batch", tokens])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 5])],
        [numpy_helper.from_array(weights.astype(np.float32), "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    for key, value in (meta or {}).items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(path))
    return path


@pytest.fixture
def weights() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(198, 5))


@pytest.fixture
def model(tmp_path: Path, weights: np.ndarray) -> Path:
    return linear_model(tmp_path / "model.onnx", weights, metadata())


def test_logits_and_greedy_actions_for_a_whole_batch(model: Path, weights: np.ndarray) -> None:
    policy = RuntimePolicy(model)
    policy.check(encoder_expectation(encoder()))
    values = np.random.default_rng(1).normal(size=(33, 198)).astype(np.float32)
    logits = policy.logits(values)
    np.testing.assert_allclose(logits, values @ weights.astype(np.float32), rtol=1e-4, atol=1e-4)
    assert (policy.act(values) == logits.argmax(axis=1)).all()
    assert policy.logits(values[:0]).shape == (0, 5)


def test_masked_actions_are_never_chosen(model: Path) -> None:
    values = np.random.default_rng(2).normal(size=(50, 198)).astype(np.float32)
    only_wait = np.zeros((50, 5), dtype=bool)
    only_wait[:, 0] = True
    policy = RuntimePolicy(model, sample=True, seed=3)
    assert (policy.act(values, only_wait) == 0).all()
    assert (policy.act(values, only_wait, sample=False) == 0).all()
    mask = np.random.default_rng(4).random((50, 5)) < 0.5
    mask[:, 0] = True
    for sample in (False, True):
        chosen = policy.act(values, mask, sample=sample)
        assert mask[np.arange(50), chosen].all()


def test_sampling_follows_the_softmax() -> None:
    logits = np.log(np.array([[0.1, 0.2, 0.3, 0.4, 1e-9]] * 20000))
    chosen = choose(logits, None, True, np.random.default_rng(5))
    frequency = np.bincount(chosen, minlength=5) / len(chosen)
    np.testing.assert_allclose(frequency, [0.1, 0.2, 0.3, 0.4, 0.0], atol=0.015)
    same_seed = choose(logits[:100], None, True, np.random.default_rng(5))
    assert (same_seed == chosen[:100]).all()


@pytest.mark.parametrize("content, message", [
    (None, "no such model file"),
    (b"\x08\x07garbage" * 10, "not a loadable ONNX model"),
])
def test_refuses_missing_and_corrupt_files_naming_them(tmp_path: Path, content, message) -> None:
    path = tmp_path / "robot.onnx"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ModelError, match=message) as error:
        RuntimePolicy(path)
    assert str(path) in str(error.value)


def test_refuses_files_that_are_not_marlgpt_models(tmp_path: Path, weights) -> None:
    with pytest.raises(ModelError, match="not a marlgpt model file.*encoder"):
        RuntimePolicy(linear_model(tmp_path / "plain.onnx", weights, None))
    with pytest.raises(ModelError, match="format 9"):
        RuntimePolicy(linear_model(tmp_path / "future.onnx", weights,
                            metadata(**{"marlgpt.format": "9"})))
    with pytest.raises(ModelError, match="action set"):
        RuntimePolicy(linear_model(tmp_path / "actions.onnx", weights,
                            metadata(actions="stay,north,south,west,east")))


def test_refuses_a_model_of_another_encoder_listing_every_difference(tmp_path: Path) -> None:
    small = encoder(radius=4)
    path = linear_model(tmp_path / "r4.onnx", np.zeros((small.num_tokens, 5)), metadata(4))
    policy = RuntimePolicy(path)
    policy.check(encoder_expectation(small))
    with pytest.raises(ModelError) as error:
        policy.check(encoder_expectation(encoder(5)))
    text = str(error.value)
    assert str(path) in text
    for key in ("radius", "num_tokens", "layout_sha256"):
        assert key in text
    assert "history" not in text


def test_refuses_bad_observations_and_backends(model: Path, tmp_path: Path) -> None:
    policy = RuntimePolicy(model)
    with pytest.raises(ValueError, match=r"\(batch, 198\)"):
        policy.logits(np.zeros((2, 197), dtype=np.float32))
    with pytest.raises(ValueError, match="backend"):
        RuntimePolicy(model, backend="gpu")
    import onnxruntime

    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        with pytest.raises(ModelError, match="CUDAExecutionProvider"):
            RuntimePolicy(model, backend="cuda")
    engine = tmp_path / "model.engine"
    engine.write_bytes(b"\0")
    with pytest.raises(ModelError, match="needs backend 'tensorrt'"):
        RuntimePolicy(engine, backend="cpu")


def test_agreement_counts_greedy_actions_and_logit_gaps() -> None:
    a = np.array([[1.0, 0.0, 0.0, 0.0, 0.0], [0.0, 2.0, 0.0, 0.0, 0.0]])
    b = np.array([[1.0, 0.0, 0.0, 0.0, 0.0], [0.0, 1.0, 3.0, 0.0, 0.0]])
    result = agreement(a, b)
    assert result == {"rows": 2, "same_action": 0.5, "max_abs_diff": 3.0}
    mask = np.array([[True] * 5, [True, True, False, True, True]])
    assert agreement(a, b, mask)["same_action"] == 1.0


def test_check_engine_compares_and_refuses_missing_engines(model: Path, tmp_path: Path,
                                                           capsys) -> None:
    values = np.random.default_rng(6).normal(size=(40, 198)).astype(np.float32)
    mask = np.ones((40, 5), dtype=bool)
    assert compare(RuntimePolicy(model), RuntimePolicy(model), values, mask)["same_action"] == 1.0
    np.savez_compressed(tmp_path / "model.observations.npz", values=values, action_mask=mask)
    assert check_engine(["--onnx", str(model), "--engine", str(tmp_path / "none.engine")]) == 2
    assert "no such engine file" in capsys.readouterr().err
    assert not (tmp_path / "none.engine.json").exists()


def _fake_trtexec(tmp_path: Path, modern: bool) -> Path:
    fake = tmp_path / "trtexec"
    help_text = "--memPoolSize=poolspec" if modern else "--workspace=N"
    fake.write_text(f"""#!/bin/sh
if [ "$1" = "--help" ]; then echo '{help_text}'; exit 0; fi
echo "$@" > {tmp_path}/args
for a in "$@"; do case $a in --saveEngine=*) touch "${{a#--saveEngine=}}";; esac; done
""")
    fake.chmod(0o755)
    return fake


@pytest.mark.parametrize("modern, flag", [(False, "--workspace=512"),
                                          (True, "--memPoolSize=workspace:512")])
def test_build_engine_script_passes_trtexec_the_right_arguments(model: Path, tmp_path: Path,
                                                                modern: bool, flag: str) -> None:
    fake = _fake_trtexec(tmp_path, modern)
    env = {"PATH": "/usr/bin:/bin", "TRTEXEC": str(fake), "CHECK": "0", "WORKSPACE_MB": "512",
           "MAX_BATCH": "16", "PYTHON": sys.executable, "PYTHONPATH": ":".join(sys.path)}
    run = subprocess.run(["bash", str(BUILD_ENGINE), str(model)], env=env, text=True,
                         capture_output=True)
    assert run.returncode == 0, run.stderr
    args = (tmp_path / "args").read_text().split()
    assert f"--onnx={model}" in args and "--fp16" in args and flag in args
    assert f"--saveEngine={model.with_suffix('.engine')}" in args
    assert "--minShapes=observations:1x198" in args
    assert "--maxShapes=observations:16x198" in args
    bad = subprocess.run(["bash", str(BUILD_ENGINE), str(tmp_path / "absent.onnx")], env=env,
                         text=True, capture_output=True)
    assert bad.returncode == 2 and "no such model file" in bad.stderr


def _tensorrt_missing() -> str:
    try:
        import pycuda.driver  # noqa: F401
        import tensorrt  # noqa: F401
    except ImportError as exc:
        return (f"TensorRT not installed here ({exc}): on a GPU this test builds an FP16 engine "
                "from an exported model through RuntimePolicy(backend='tensorrt'), caches it, and "
                "checks >= 99.5% same greedy actions as ONNX Runtime fp32")
    return ""


@pytest.mark.skipif(bool(_tensorrt_missing()), reason=_tensorrt_missing() or "n/a")
def test_tensorrt_engine_agrees_with_onnx(tmp_path: Path) -> None:
    from marlgpt_training.export import export_checkpoint

    path = tmp_path / "tiny.onnx"
    export_checkpoint(decisive_checkpoint(tmp_path / "run"), path)
    values = np.load(tmp_path / "tiny.observations.npz")["values"]
    reference = RuntimePolicy(path)
    engine = RuntimePolicy(path, backend="tensorrt", cache_dir=tmp_path / "cache")
    assert compare(reference, engine, values, np.ones((len(values), 5), bool))["same_action"] \
        >= 0.995
    assert len(list((tmp_path / "cache").glob("*.engine"))) == 1
