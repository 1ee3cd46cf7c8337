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
#: AMCL's amcl_pose (Nav2: reliable, transient_local, keep-last 1): a late subscriber still
#: gets the last pose (AMCL sends one on the first scan after an initial pose, then after
#: the robot moved).
AMCL_POSE_QOS = LATCHED
#: /tf (tf2's dynamic broadcaster: reliable, volatile, keep-last 100).
TF_QOS = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE,
                    durability=DurabilityPolicy.VOLATILE)
#: /tf_static as tf2's static listener takes it (reliable, transient_local, keep-last 100):
#: every static broadcaster of a namespace latches its own message, and all must arrive.
TF_STATIC_QOS = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE,
                           durability=DurabilityPolicy.TRANSIENT_LOCAL)
#: SLAM Toolbox's pose and a plain pose stream (reliable, volatile, keep-last 10).
POSE_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.VOLATILE)
