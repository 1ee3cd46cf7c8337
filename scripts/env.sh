# Source this file (bash) to enter the marlgpt environment: the .venv active, the ROS 2 wheels
# on the ament/CMake prefix paths and the ros2_ws install space sourced.
_marlgpt_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ ! -f "$_marlgpt_root/.venv/bin/activate" ] || [ ! -f "$_marlgpt_root/ros2_ws/install/setup.bash" ]; then
  echo "marlgpt: environment not set up; run 'make setup' first" >&2
  return 2 2>/dev/null || exit 2
fi
# shellcheck disable=SC1091
source "$_marlgpt_root/.venv/bin/activate"
export AMENT_PREFIX_PATH="$VIRTUAL_ENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
export CMAKE_PREFIX_PATH="$VIRTUAL_ENV${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
# colcon's setup scripts read unset variables; keep them working under `set -u` callers.
_marlgpt_nounset=0; case $- in *u*) _marlgpt_nounset=1; set +u;; esac
# shellcheck disable=SC1091
source "$_marlgpt_root/ros2_ws/install/setup.bash"
[ "$_marlgpt_nounset" = 1 ] && set -u
export RMW_IMPLEMENTATION="${RMW_IMPLEMENTATION:-rmw_fastrtps_cpp}"
# Keep DDS discovery on this machine unless the caller chose otherwise.
export ROS_AUTOMATIC_DISCOVERY_RANGE="${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}"
unset _marlgpt_root _marlgpt_nounset
export MARLGPT_ENV=1
