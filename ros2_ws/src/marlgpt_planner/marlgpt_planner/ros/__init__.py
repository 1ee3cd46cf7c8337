"""The robot runtime's ROS room: every module that touches rclpy or a ROS interface package.

The planner node (:mod:`.node`), its inputs (:mod:`.pose_input`, :mod:`.goal_input`) and
outputs (:mod:`.nav_client`, :mod:`.messages`, :mod:`.markers`), the topics' QoS
(:mod:`.qos`) and running a node as a process (:mod:`.process`). The modules one level up
need no ROS (pure logic, the fleet description, the engine check) and import nothing from
here; ``tests/test_layout.py`` keeps rclpy and the ROS messages inside this sub-package.
This ``__init__`` imports nothing, so each module here costs only what it imports itself.
"""
