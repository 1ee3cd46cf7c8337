#!/usr/bin/env bash
# Entry point of the ROS images: ROS 2 Humble and the marlgpt workspace sourced, the robot's
# namespace and DDS domain from the environment (ROBOT_NAMESPACE, ROS_DOMAIN_ID).
set -e
# shellcheck disable=SC1091
source "/opt/ros/${ROS_DISTRO:-humble}/setup.bash"
# shellcheck disable=SC1091
source /ws/install/setup.bash
export ROS_DOMAIN_ID="${ROS_DOMAIN_ID:-0}"
export ROBOT_NAMESPACE="${ROBOT_NAMESPACE:-robot1}"
exec "$@"
