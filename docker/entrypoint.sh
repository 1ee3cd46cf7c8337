#!/usr/bin/env bash
# Entry point of the ROS images: ROS 2 Humble and the marlgpt workspace sourced, the robot's
# namespace and DDS domain from the environment (ROBOT_NAMESPACE, ROS_DOMAIN_ID).
set -e
ros="/opt/ros/${ROS_DISTRO:-humble}"
# jetson-containers install ROS under $ros/install; the official images directly under $ros.
# shellcheck disable=SC1091
if [ -f "$ros/install/setup.bash" ]; then source "$ros/install/setup.bash"; else source "$ros/setup.bash"; fi
# shellcheck disable=SC1091
if [ -f /opt/nav2/setup.bash ]; then source /opt/nav2/setup.bash; fi
# shellcheck disable=SC1091
source /ws/install/setup.bash
export ROS_DOMAIN_ID="${ROS_DOMAIN_ID:-0}"
export ROBOT_NAMESPACE="${ROBOT_NAMESPACE:-robot1}"
exec "$@"
