"""One robot's pose, subscribed as ``pose.source`` says (docs/planner.md, "Poses").

``tf``: the robot's ``tf``/``tf_static`` into a :class:`~marlgpt_planner.transforms.
TransformBuffer`, chained from ``pose.map_frame`` to ``pose.base_frame`` on every message;
``amcl``: ``amcl_pose`` (reliable, transient-local, depth 1, as AMCL publishes it);
``slam``: SLAM Toolbox's ``pose`` beside TF, whichever arrives last; ``topic``: any pose stream.
Each pose goes to ``on_pose(x, y, yaw, taken)`` with the monotonic time it was taken.
"""
import math
import time
from typing import Any, Callable, Dict

from geometry_msgs.msg import PoseStamped, PoseWithCovarianceStamped
from tf2_msgs.msg import TFMessage

from marlgpt_planner.endpoints import pose_topics
from marlgpt_planner.lattice import quaternion_to_yaw
from marlgpt_planner.ros.qos import AMCL_POSE_QOS, POSE_QOS, TF_QOS, TF_STATIC_QOS
from marlgpt_planner.transforms import TransformBuffer

#: on_pose(x, y, yaw, taken)
OnPose = Callable[[float, float, float, float], None]


def pose_timeout(params: Dict[str, Any]) -> float:
    """How old a pose may get: ``pose.timeout`` for the streaming sources (TF, a topic);
    no limit for AMCL and SLAM Toolbox, which are silent while the robot stands."""
    return params["pose.timeout"] if params["pose.source"] in ("tf", "topic") else math.inf


class PoseInput:
    """The subscriptions delivering one robot's pose (see the module doc)."""

    def __init__(self, node, robot: str, params: Dict[str, Any], on_pose: OnPose) -> None:
        self.params, self.on_pose = params, on_pose
        self.tf = TransformBuffer()
        source, topics = params["pose.source"], pose_topics(params, robot)
        if source in ("tf", "slam"):
            node.create_subscription(TFMessage, topics[0],
                                     lambda msg: self._on_tf(msg, False), TF_QOS)
            node.create_subscription(TFMessage, topics[1],
                                     lambda msg: self._on_tf(msg, True), TF_STATIC_QOS)
        if source != "tf":
            stamped = source == "topic" and params["pose.type"] == "PoseStamped"
            node.create_subscription(
                PoseStamped if stamped else PoseWithCovarianceStamped, topics[-1],
                self._on_pose, AMCL_POSE_QOS if source == "amcl" else POSE_QOS)

    def _on_tf(self, msg: TFMessage, static: bool) -> None:
        now = time.monotonic()
        for t in msg.transforms:
            tr, rot = t.transform.translation, t.transform.rotation
            self.tf.set(t.header.frame_id, t.child_frame_id, (tr.x, tr.y, tr.z),
                        (rot.x, rot.y, rot.z, rot.w), now, static)
        pose = self.tf.lookup(self.params["pose.map_frame"], self.params["pose.base_frame"],
                              now)
        if pose is not None:
            self.on_pose(pose.x, pose.y, pose.yaw, now - pose.age)

    def _on_pose(self, msg) -> None:
        pose = msg.pose.pose if isinstance(msg, PoseWithCovarianceStamped) else msg.pose
        q = pose.orientation
        self.on_pose(pose.position.x, pose.position.y, quaternion_to_yaw(q.x, q.y, q.z, q.w),
                     time.monotonic())

    def why_not(self) -> str:
        """Why TF gives no pose yet, for a log line."""
        return self.tf.why_not(self.params["pose.map_frame"], self.params["pose.base_frame"])
