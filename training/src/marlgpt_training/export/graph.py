"""The deployed graph: a checkpoint's actor as an ONNX opset-13 model TensorRT 8.2 can build.

The exported model takes only the token values, ``observations`` float32 (batch, tokens), and
gives ``logits`` float32 (batch, actions) for one environment. Everything that is constant for
that environment is folded into the graph at export: the four index embeddings and the value
bias summed per position into one (tokens, width) table, and the environment token. So the
robot feeds no index tensors at all (nothing int64 crosses the model boundary), and the critic,
which acting never reads, is left out.
"""
import copy
import warnings
from typing import Dict, Iterable, List

import onnx
import torch
from torch import nn

from marlgpt_planner.model_file import INPUT_NAME, OUTPUT_NAME
from marlgpt_training.model.gpt import MarlGpt, use_math_attention

OPSET = 13

#: ONNX ops the graph may use: each supported by TensorRT 8.2's ONNX parser at opset 13
#: (onnx-tensorrt's operator matrix). NonZero, OneHot, LayerNormalization and the like are not.
TENSORRT_8_2_OPS = frozenset({
    "Add", "Cast", "Concat", "Constant", "ConstantOfShape", "Div", "Equal", "Erf", "Expand",
    "Gather", "Gemm", "Identity", "MatMul", "Mul", "Neg", "Pow", "ReduceMean", "Relu",
    "Reshape", "Shape", "Sigmoid", "Slice", "Softmax", "Split", "Sqrt", "Squeeze", "Sub",
    "Tanh", "Transpose", "Unsqueeze", "Where",
})


class ExportError(RuntimeError):
    """An export that would produce a file the robots cannot use."""


class DeployedActor(nn.Module):
    """``observations (B, T) -> logits (B, num_actions)`` for one environment's layout."""

    def __init__(self, model: MarlGpt, indices: Dict[str, Iterable[int]], env_id: int,
                 num_actions: int) -> None:
        super().__init__()
        with torch.no_grad():
            index = {k: torch.as_tensor(list(v), dtype=torch.long) for k, v in indices.items()}
            position = (model.attr.weight[index["attr"]] + model.team.weight[index["team"]]
                        + model.agent.weight[index["agent"]] + model.time.weight[index["time"]]
                        + model.value.bias)
            self.register_buffer("position", position.clone())
            self.register_buffer("value_weight", model.value.weight[:, 0].clone())
            self.register_buffer("env_token", model.env.weight[env_id].clone().view(1, 1, -1))
        # Copies, switched to matmul + softmax (opset 13 has no fused attention op); the
        # checkpoint's model keeps its fused kernel, so parity checks compare the two forms.
        self.trunk = use_math_attention(copy.deepcopy(model.trunk))
        self.actor = use_math_attention(copy.deepcopy(model.actor))
        self.num_actions = num_actions

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        x = observations.unsqueeze(-1) * self.value_weight + self.position
        env = self.env_token.expand(observations.shape[0], 1, self.env_token.shape[-1])
        x = torch.cat([x, env], dim=1)
        for block in self.trunk:
            x = block(x)
        return self.actor(x)[:, :self.num_actions]


def to_onnx(actor: DeployedActor, num_tokens: int, path: str,
            metadata: Dict[str, str]) -> onnx.ModelProto:
    """Trace ``actor`` into an opset-13 ONNX file with a dynamic batch axis and ``metadata``."""
    actor = actor.eval()
    example = torch.zeros(2, num_tokens, dtype=torch.float32)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notices
        torch.onnx.export(
            actor, (example,), path, dynamo=False, opset_version=OPSET,
            input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
            do_constant_folding=True)
    model = onnx.load(path)
    model.producer_name = "marlgpt"
    model.doc_string = "MARL-GPT actor exported by marlgpt export (docs/export.md)"
    del model.metadata_props[:]
    for key, value in sorted(metadata.items()):
        model.metadata_props.add(key=key, value=str(value))
    check(model)
    onnx.save(model, path)
    return model


def check(model: onnx.ModelProto) -> None:
    """Refuse a graph the Jetson's TensorRT 8.2 cannot take: checker errors, an opset other
    than 13, ops outside :data:`TENSORRT_8_2_OPS`, or non-float32 inputs and outputs."""
    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError as exc:
        raise ExportError(f"ONNX checker: {exc}") from None
    opsets = {entry.domain or "ai.onnx": entry.version for entry in model.opset_import}
    if opsets != {"ai.onnx": OPSET}:
        raise ExportError(f"graph imports opsets {opsets}, the Jetson needs ai.onnx {OPSET} only")
    unsupported = sorted(set(ops(model)) - TENSORRT_8_2_OPS)
    if unsupported:
        raise ExportError(f"graph uses ops TensorRT 8.2 lacks or that are not vetted: "
                          f"{', '.join(unsupported)}")
    for value in list(model.graph.input) + list(model.graph.output):
        if value.type.tensor_type.elem_type != onnx.TensorProto.FLOAT:
            raise ExportError(f"{value.name} is not float32")


def ops(model: onnx.ModelProto) -> List[str]:
    """Op types of the graph's nodes, in order."""
    return [node.op_type for node in model.graph.node]
