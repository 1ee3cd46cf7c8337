"""The QoS profiles of the fleet's topics, shared by the planner, the simulator and the runner."""
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

#: Maps (SLAM Toolbox's /map: reliable, transient_local, keep-last 1).
LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                     durability=DurabilityPolicy.TRANSIENT_LOCAL)
#: /fleet/state and /fleet/step: a planner that starts (or matches) late still gets recent ones.
FLEET_QOS = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE,
                       durability=DurabilityPolicy.TRANSIENT_LOCAL)
#: ROBOT/marlgpt/goal: the last few goals survive a late subscriber.
GOAL_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.TRANSIENT_LOCAL)
