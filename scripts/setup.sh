#!/usr/bin/env bash
# Set up the development environment: .venv (Python 3.11, pinned ROS 2 Kilted wheels, torch,
# pogema, onnx, onnxruntime, dev tools), the CMake path fix the ROS 2 wheels need, a colcon
# build of ros2_ws, an editable install of training/ and Google Research Football.
# Idempotent: every stage records a hash of its inputs and is skipped when they have not
# changed.
#
# Environment: PYTHON (default python3.11) picks the interpreter; MARLGPT_FORCE_SETUP=1
# redoes every stage; MARLGPT_GRF=0 leaves out Google Research Football.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3.11}"
VENV="$ROOT/.venv"
STAMPS="$VENV/.marlgpt-stamps"

say() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 2; }

# --- system prerequisites -------------------------------------------------------------------
missing=()
command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found. Install Python 3.11 (apt-get install python3.11 python3.11-venv python3.11-dev) or set PYTHON=/path/to/python3.11."
"$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
  || die "$PYTHON is Python $("$PYTHON" -c 'import platform; print(platform.python_version())'); the ROS 2 wheels and the lock file are for Python 3.11. Set PYTHON=/path/to/python3.11."
"$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=("python3.11-venv (Python's venv/ensurepip)")
py_include="$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
[ -f "$py_include/Python.h" ] || missing+=("python3.11-dev (Python headers: no $py_include/Python.h)")
command -v cmake >/dev/null 2>&1 || missing+=("cmake")
command -v g++ >/dev/null 2>&1 || missing+=("g++")
command -v make >/dev/null 2>&1 || missing+=("make")
if [ "${#missing[@]}" -gt 0 ]; then
  printf '[setup] error: missing system prerequisites:\n' >&2
  printf '  - %s\n' "${missing[@]}" >&2
  printf '[setup] install them with: sudo apt-get install %s\n' \
    "$(printf '%s\n' "${missing[@]}" | cut -d' ' -f1 | tr '\n' ' ')" >&2
  exit 2
fi

hash_of() { cat "$@" 2>/dev/null | sha256sum | cut -d' ' -f1; }
stamp_ok() { [ "${MARLGPT_FORCE_SETUP:-0}" != 1 ] && [ -f "$STAMPS/$1" ] && [ "$(cat "$STAMPS/$1")" = "$2" ]; }
stamp_set() { mkdir -p "$STAMPS"; printf '%s' "$2" > "$STAMPS/$1"; }

# --- virtual environment and pinned packages -----------------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
  say "creating $VENV with $PYTHON"
  "$PYTHON" -m venv "$VENV"
fi
lock_hash="$(hash_of requirements/lock.txt)-$("$VENV/bin/python" -c 'import platform; print(platform.python_version())')"
if ! stamp_ok packages "$lock_hash"; then
  say "installing pinned packages from requirements/lock.txt (first run: about a minute)"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements/lock.txt 2>&1 \
    | grep -v "is ignored: it is neither a file nor a directory" || true
  "$VENV/bin/python" -c 'import torch, pogema, onnx, onnxruntime, rclpy' \
    || die "package installation failed (see pip's output above)"
  stamp_set packages "$lock_hash"
  rm -f "$STAMPS/cmake-fix" "$STAMPS/colcon"
fi

# --- CMake path fix for the ROS 2 wheels -----------------------------------------------------
# The message wheels' exported CMake files name the wheel builder's Python and numpy include
# directories; point them at this venv's.
if ! stamp_ok cmake-fix "$lock_hash"; then
  "$VENV/bin/python" "$ROOT/scripts/fix_ros_cmake_paths.py" "$VENV"
  stamp_set cmake-fix "$lock_hash"
fi

# --- colcon build of ros2_ws -------------------------------------------------------------------
# ros2_ws/src plus the test-only interface packages (tests/ros/interfaces: tf2_msgs, and nav2_msgs with
# Humble's NavigateToPose, for CI without Nav2), built into the same install space.
ws_hash="$(find ros2_ws/src tests/ros/interfaces -type f ! -path '*/__pycache__/*' ! -name '*.pyc' \
  -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)-$lock_hash"
if ! stamp_ok colcon "$ws_hash" || [ ! -f ros2_ws/install/setup.bash ]; then
  say "building ros2_ws with colcon"
  (
    # shellcheck disable=SC1091
    source "$VENV/bin/activate"
    export AMENT_PREFIX_PATH="$VENV" CMAKE_PREFIX_PATH="$VENV"
    cd ros2_ws
    colcon --log-base log build --symlink-install --event-handlers console_cohesion- summary+ \
      --base-paths src ../tests/ros/interfaces \
      --cmake-args -DPython3_EXECUTABLE="$VENV/bin/python" -DBUILD_TESTING=OFF
  ) || die "colcon build of ros2_ws failed (logs in ros2_ws/log/latest)"
  stamp_set colcon "$ws_hash"
fi

# --- editable installs -------------------------------------------------------------------------
dev_hash="$(hash_of training/pyproject.toml)-$lock_hash"
if ! stamp_ok training "$dev_hash"; then
  say "installing training/ (marlgpt_training, console script marlgpt) in editable mode"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation \
    -e training 2>&1 | grep -v "is ignored: it is neither a file nor a directory" || true
  stamp_set training "$dev_hash"
fi
# The robot runtime's pure-Python modules are importable from the venv without sourcing the
# workspace (marlgpt CLI, tests); the ROS interfaces still need `scripts/run` or `make shell`.
site="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
printf '%s\n' "$ROOT/ros2_ws/src/marlgpt_planner" "$ROOT/ros2_ws/src/marlgpt_sim" > "$site/marlgpt_planner_src.pth"

# --- Google Research Football (the third training environment) ------------------------------
# gfootball is a source distribution with a C++ engine: Debian packages first (installed here
# when running as root, else named), then its runtime needs and a build of it (about 5 minutes
# on 2 cores; pip keeps the built wheel in its cache). MARLGPT_GRF=0 skips the stage.
GRF_APT=(build-essential cmake libgl1-mesa-dev libsdl2-dev libsdl2-image-dev libsdl2-ttf-dev
  libsdl2-gfx-dev libboost-python-dev libboost-system-dev libboost-filesystem-dev
  libboost-thread-dev libdirectfb-dev libst-dev mesa-utils)
grf_hash="$(hash_of requirements/grf.txt)-$lock_hash"
if [ "${MARLGPT_GRF:-1}" = 0 ]; then
  say "skipping Google Research Football (MARLGPT_GRF=0): marlgpt --env grf and its tests need it"
elif ! stamp_ok grf "$grf_hash"; then
  apt_missing=()
  for package in "${GRF_APT[@]}"; do
    [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$package" 2>/dev/null)" = "ii " ] \
      || apt_missing+=("$package")
  done
  if [ "${#apt_missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      say "installing Debian packages for Google Research Football: ${apt_missing[*]}"
      export DEBIAN_FRONTEND=noninteractive
      apt-get install -y -q "${apt_missing[@]}" >/dev/null \
        || { apt-get update -q >/dev/null && apt-get install -y -q "${apt_missing[@]}" >/dev/null; } \
        || die "apt-get could not install: ${apt_missing[*]}"
    else
      die "Google Research Football needs Debian packages: sudo apt-get install ${apt_missing[*]} (or MARLGPT_GRF=0 make setup to go without it)"
    fi
  fi
  say "building Google Research Football (gfootball 2.10.2; first run: about 5 minutes)"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -r requirements/grf.txt \
    2>&1 | grep -v "is ignored: it is neither a file nor a directory" || true
  # Its build script runs `python3` (psutil) and cmake; the venv's python comes first on PATH.
  PATH="$VENV/bin:$PATH" "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    --no-build-isolation --no-deps gfootball==2.10.2 2>&1 \
    | grep -v "is ignored: it is neither a file nor a directory" || true
  "$VENV/bin/python" -c 'from gfootball.env import football_env' \
    || die "building gfootball failed (see pip's output above)"
  stamp_set grf "$grf_hash"
fi

# The expert's C++ library (compiled once per source version; a no-op when up to date).
"$VENV/bin/python" -c 'from marlgpt_planner.expert import native; native.build()' \
  || die "building the expert's C++ library failed"

say "ready: run commands in the environment with scripts/run <cmd> (or make shell)"
