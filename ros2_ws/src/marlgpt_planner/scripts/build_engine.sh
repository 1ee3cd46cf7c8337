#!/usr/bin/env bash
# Build the FP16 TensorRT engine of a marlgpt ONNX model on this device (a Jetson, or any
# NVIDIA GPU) with trtexec, then check it against the ONNX model on the observations recorded
# beside it. Engines are specific to the GPU and TensorRT version: build them on the robot.
#
#   build_engine.sh MODEL.onnx [ENGINE]        (ENGINE defaults to MODEL.engine)
#
# Environment: WORKSPACE_MB (builder workspace, default 256; trtexec's own default is 16),
# MAX_BATCH (default 32), OPT_BATCH (default 4), TRTEXEC (path to trtexec),
# MIN_AGREEMENT (default 0.995), CHECK=0 to skip the agreement check.
set -euo pipefail

if [[ $# -lt 1 || $1 == -h || $1 == --help ]]; then
    sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi
model=$1
engine=${2:-${model%.onnx}.engine}
workspace_mb=${WORKSPACE_MB:-256}
max_batch=${MAX_BATCH:-32}
opt_batch=${OPT_BATCH:-4}
python=${PYTHON:-python3}

if [[ ! -f $model ]]; then
    echo "build_engine: $model: no such model file" >&2
    exit 2
fi
trtexec=${TRTEXEC:-$(command -v trtexec || echo /usr/src/tensorrt/bin/trtexec)}
if [[ ! -x $trtexec ]]; then
    echo "build_engine: trtexec not found (looked for $trtexec); set TRTEXEC" >&2
    exit 2
fi

# The model's token count, from its metadata (also proves it is a marlgpt model).
tokens=$("$python" - "$model" <<'PY'
import sys
from marlgpt_planner.policy import ModelError, RuntimePolicy
try:
    print(RuntimePolicy(sys.argv[1], backend="cpu").num_tokens)
except ModelError as exc:
    sys.exit("build_engine: %s" % exc)
PY
)

# TensorRT 8.2 (Jetson Nano) takes --workspace=MB; 8.4 and later --memPoolSize=workspace:MB.
if "$trtexec" --help 2>&1 | grep -q -- "--memPoolSize"; then
    workspace_flag="--memPoolSize=workspace:${workspace_mb}"
else
    workspace_flag="--workspace=${workspace_mb}"
fi

echo "building $engine from $model (FP16, batch 1..$max_batch, workspace ${workspace_mb} MB)"
"$trtexec" --onnx="$model" --saveEngine="$engine" --fp16 "$workspace_flag" \
    --minShapes="observations:1x${tokens}" \
    --optShapes="observations:${opt_batch}x${tokens}" \
    --maxShapes="observations:${max_batch}x${tokens}"

if [[ ${CHECK:-1} != 0 ]]; then
    "$python" -m marlgpt_planner.check_engine --onnx "$model" --engine "$engine" \
        --min-agreement "${MIN_AGREEMENT:-0.995}"
fi
