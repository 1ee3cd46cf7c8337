"""Export: the ONNX graph the robots run, its metadata, parity with torch, eval of the file."""
import json
import re
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from marlgpt_planner.policy import REQUIRED_KEYS, RuntimePolicy
from marlgpt_training import export as export_module
from marlgpt_training.benchmark.evaluate import evaluate
from marlgpt_training.benchmark.mapset import MapSet
from marlgpt_training.cli import main
from marlgpt_training.export import export_checkpoint, observations_path, torch_logits
from marlgpt_training.export.graph import OPSET, TENSORRT_8_2_OPS, ExportError, check
from marlgpt_training.model import checkpoint
from marlgpt_training.policies.model import ENV_NAME, environment_layout
from tests.conftest import REPO, SHARED_SETS, decisive_checkpoint, needs_shared_sets, tiny_map_set

MAZES = SHARED_SETS / "02-mazes"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    return decisive_checkpoint(tmp_path_factory.mktemp("export") / "run")


@pytest.fixture(scope="module")
def exported(run_dir: Path, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("onnx") / "model.onnx"
    report = export_checkpoint(run_dir, path, num_observations=512)
    assert report.parity["max_abs_diff"] < 1e-4
    assert report.parity["rows"] == 512
    return path


def test_graph_is_opset_13_checker_clean_and_tensorrt_8_2_parsable(exported: Path) -> None:
    model = onnx.load(str(exported))
    onnx.checker.check_model(model, full_check=True)
    assert [(o.domain, o.version) for o in model.opset_import] == [("", OPSET)]
    assert {node.op_type for node in model.graph.node} <= TENSORRT_8_2_OPS
    for node in model.graph.node:  # no op whose definition is newer than opset 13
        schema = onnx.defs.get_schema(node.op_type, OPSET, node.domain)
        assert schema.since_version <= OPSET
    (inp,), (out,) = model.graph.input, model.graph.output
    assert inp.name == "observations" and out.name == "logits"
    assert inp.type.tensor_type.elem_type == TensorProto.FLOAT
    dims = [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim]
    assert dims == ["batch", 198]


def test_metadata_names_encoder_run_and_config(exported: Path, run_dir: Path) -> None:
    meta = {p.key: p.value for p in onnx.load(str(exported)).metadata_props}
    assert set(REQUIRED_KEYS) <= set(meta)
    assert meta["encoder"] == "pogema-ctg" and meta["encoder_version"] == "1"
    assert (meta["radius"], meta["history"], meta["neighbours"]) == ("5", "3", "8")
    assert meta["actions"] == "wait,up,down,left,right"
    assert meta["run_id"] == "run/step-000000"
    _, config = checkpoint.load_model(run_dir)
    assert meta["config_hash"] == export_module.config_hash(config)


def test_onnx_matches_torch_on_fresh_observations_at_every_batch_size(exported: Path,
                                                                      run_dir: Path) -> None:
    model, config = checkpoint.load_model(run_dir)
    layout = environment_layout(config, ENV_NAME, str(run_dir))
    values, _ = export_module.observations.record(64, layout, seed=11)
    reference = torch_logits(model, layout, 0, values)
    policy = RuntimePolicy(exported)
    for batch in (1, 7, 64):
        got = np.concatenate([policy.logits(values[i:i + batch])
                              for i in range(0, len(values), batch)])
        assert np.abs(got - reference).max() < 1e-4
    assert (np.abs(reference).max(axis=1) > 1).all()  # the scaled head: real margins


@needs_shared_sets
def test_exported_file_scores_like_its_checkpoint(exported: Path, run_dir: Path) -> None:
    map_set = MapSet.load(MAZES)
    scores = [evaluate(map_set, spec, agent_counts=[8], max_instances=2, workers=1,
                       progress=False) for spec in (str(run_dir), str(exported))]
    per_instance = [[(e.map_name, e.seed, e.goals) for e in r.episodes] for r in scores]
    assert per_instance[0] == per_instance[1]
    assert scores[0].to_json()["score"] == scores[1].to_json()["score"]


def test_export_refuses_to_overwrite_and_leaves_nothing_on_failure(exported: Path, run_dir: Path,
                                                                   monkeypatch,
                                                                   tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="exists"):
        export_checkpoint(run_dir, exported)
    with pytest.raises(ExportError, match=r"\.onnx"):
        export_checkpoint(run_dir, tmp_path / "model.bin")
    monkeypatch.setattr(export_module, "PARITY_TOLERANCE", 0.0)
    target = tmp_path / "bad.onnx"
    with pytest.raises(ExportError, match="parity"):
        export_checkpoint(run_dir, target, num_observations=256)
    assert list(tmp_path.iterdir()) == []


def _graph(op: str, opset: int) -> onnx.ModelProto:
    x = helper.make_tensor_value_info("observations", TensorProto.FLOAT, ["batch", 4])
    y = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 4])
    if op == "LayerNormalization":
        scale = helper.make_tensor("scale", TensorProto.FLOAT, [4], [1.0] * 4)
        node = helper.make_node(op, ["observations", "scale"], ["logits"])
        graph = helper.make_graph([node], "g", [x], [y], [scale])
    else:
        graph = helper.make_graph([helper.make_node(op, ["observations"], ["logits"])], "g",
                                  [x], [y])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def test_check_refuses_what_tensorrt_8_2_cannot_build() -> None:
    check(_graph("Relu", 13))
    with pytest.raises(ExportError, match="opset"):
        check(_graph("Relu", 17))
    with pytest.raises(ExportError, match="LayerNormalization"):
        check(_with_opset(_graph("LayerNormalization", 17), 13))
    with pytest.raises(ExportError, match="Hardmax"):
        check(_graph("Hardmax", 13))


def _with_opset(model: onnx.ModelProto, opset: int) -> onnx.ModelProto:
    """A graph that claims ``opset`` whatever its ops need (to reach the op allowlist)."""
    model.opset_import[0].version = opset
    return model


def test_cli_export_untrained_and_bench_latency(tmp_path: Path, capsys) -> None:
    path = tmp_path / "m.onnx"
    assert main(["export", "--untrained", "tiny", "--onnx", str(path),
                 "--observations", "64"]) == 0
    assert "parity vs torch" in capsys.readouterr().out
    assert observations_path(path).is_file()
    assert main(["export", "--untrained", "tiny", "--onnx", str(path)]) == 2
    assert "exists" in capsys.readouterr().err
    out = tmp_path / "latency.json"
    assert main(["bench-latency", "--model", str(path), "--batch", "1,4", "--seconds", "0.2",
                 "--backends", "cpu", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    rows = {row["batch"]: row for row in result["rows"]}
    assert set(rows) == {1, 4}
    for batch, row in rows.items():
        assert 0 < row["p50_ms"] <= row["p99_ms"]
        assert row["decisions_per_s"] == pytest.approx(batch * 1e3 / row["mean_ms"])
    assert main(["bench-latency", "--model", str(path), "--backends", "gpu9"]) == 2
    assert main(["bench-latency", "--model", str(tmp_path / "none.onnx")]) == 2
    assert "no such model file" in capsys.readouterr().err


def test_cli_eval_refuses_a_corrupt_model(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    assert main(["eval", "--policy", str(bad), "--map-set", str(tiny_map_set(tmp_path / "maps")),
                 "--agents", "6",
                 "--max-instances", "1", "--no-progress"]) == 2
    assert "bad.onnx" in capsys.readouterr().err



def test_runtime_example_in_the_docs_runs(exported: Path, tmp_path: Path, monkeypatch) -> None:
    text = (REPO / "docs" / "export.md").read_text()
    (snippet,) = re.findall(r"```python\n(.*?)```", text, re.S)
    (tmp_path / "out").mkdir()
    shutil.copy(exported, tmp_path / "out" / "tiny.onnx")
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(snippet, "docs/export.md", "exec"), scope)
    assert scope["actions"].shape == (2,)


@pytest.mark.parametrize("size", ["tiny", "2m"])
def test_fused_attention_and_the_exported_math_form_give_the_same_logits(size: str) -> None:
    """Training runs scaled_dot_product_attention; the ONNX graph matmul + softmax (opset 13).
    Both must compute the same function, in eval and with dropout off in training mode."""
    import torch

    from marlgpt_training.model.gpt import SIZES, MarlGpt, use_math_attention

    torch.manual_seed(0)
    model = MarlGpt(SIZES[size])
    for param in model.parameters():  # larger weights than the init's, so attention is sharp
        param.data.normal_(0, 0.2)
    tokens = 40
    values = torch.randn(6, tokens)
    index = [torch.randint(0, 8, (tokens,)) for _ in range(4)]
    env = torch.zeros(6, dtype=torch.long)
    for mode in (model.eval, model.train):
        mode()
        fused_logits, fused_q = model(values, *index, env)
        use_math_attention(model)
        math_logits, math_q = model(values, *index, env)
        use_math_attention(model, False)
        assert torch.allclose(fused_logits, math_logits, atol=1e-5, rtol=1e-4)
        assert torch.allclose(fused_q, math_q, atol=1e-5, rtol=1e-4)
        assert fused_logits.std() > 0.1  # not a trivially flat output
    attention = model.trunk[0].attn
    assert attention.fused  # the model trains with the fused kernel


def test_the_exported_graph_has_no_fused_attention_and_leaves_the_model_fused(
        exported: Path, run_dir: Path) -> None:
    graph = onnx.load(str(exported)).graph
    ops = {node.op_type for node in graph.node}
    assert "Softmax" in ops and "MatMul" in ops and not any("Attention" in op for op in ops)
    model, _ = checkpoint.load_model(run_dir)
    assert all(layer.attn.fused for layer in model.trunk)


def test_the_released_checkpoint_is_the_shipped_model(tmp_path: Path) -> None:
    """`training/checkpoints/marlgpt` exports to the robots' `marlgpt.onnx` (same logits), and
    the model card names that file's run."""
    models = REPO / "ros2_ws" / "src" / "marlgpt_planner" / "models"
    released = REPO / "training" / "checkpoints" / "marlgpt"
    path = tmp_path / "released.onnx"
    export_checkpoint(released, path, num_observations=64)
    recorded = np.load(observations_path(models / "marlgpt.onnx"))
    shipped, again = RuntimePolicy(models / "marlgpt.onnx"), RuntimePolicy(path)
    values = recorded["values"][:256]
    assert np.abs(shipped.logits(values) - again.logits(values)).max() < 1e-5
    run_id = shipped.metadata["run_id"]
    assert f"`{run_id}`" in (models / "marlgpt.md").read_text()
