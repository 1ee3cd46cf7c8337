"""marlgpt robot runtime: pure planning logic plus thin ROS 2 nodes.

Everything in this package runs on the robot image (Python >= 3.8, ROS 2 Humble APIs) and
imports neither torch nor pogema. Pure modules (actions, grids, encoding, coordination) import
only numpy so that training, evaluation and the ROS nodes share one implementation.
"""

__version__ = "0.1.0"
