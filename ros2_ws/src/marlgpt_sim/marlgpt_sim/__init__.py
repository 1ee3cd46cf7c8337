"""marlgpt's simulators and fleet runner: demo and test tools, never installed on a robot.

The loopback simulator (may use POGEMA), its world and animation, the Gazebo world generator
and the fleet runner. This package imports the robot runtime (``marlgpt_planner``); the
robot runtime never imports this package.
"""
