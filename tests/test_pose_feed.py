"""The loopback simulator delivers poses as AMCL, SLAM Toolbox and TF do (marlgpt_sim.pose_feed)."""
import math

import numpy as np
import pytest

from marlgpt_planner.transforms import TransformBuffer
from marlgpt_sim.pose_feed import GATES, DriftingOdometry, PublishGate


@pytest.mark.parametrize("mode, distance, angle", [("amcl", 0.25, 0.2), ("slam", 0.5, 0.5)])
def test_event_sources_publish_first_then_only_after_moving_or_turning(mode, distance,
                                                                       angle) -> None:
    gate = PublishGate(GATES[mode])
    assert gate.due((0.0, 0.0, 0.0))
    assert not any(gate.due((0.0, 0.0, 0.0)) for _ in range(100))  # a standing robot
    assert not gate.due((distance * 0.9, 0.0, angle * 0.9))
    assert gate.due((distance * 1.01, 0.0, 0.0))
    assert not gate.due((distance * 1.01, 0.0, angle * 0.9))
    assert gate.due((distance * 1.01, 0.0, angle * 1.01))
    # AMCL tests x, y and yaw each; SLAM Toolbox the distance travelled.
    gate = PublishGate(GATES[mode])
    gate.due((0.0, 0.0, 0.0))
    assert gate.due((distance * 0.8, distance * 0.8, 0.0)) == (mode == "slam")
    # Counted along a path of 5 cm steps, one publication per gate distance.
    gate, count = PublishGate(GATES[mode]), 0
    for i in range(61):
        count += gate.due((0.05 * i, 0.0, 0.0))
    step = round(distance / 0.05) + (1 if GATES[mode].per_axis else 0)  # AMCL: strictly past
    assert count == 1 + 60 // step


def test_tf_chain_ends_on_the_true_pose_while_odometry_drifts() -> None:
    rng = np.random.default_rng(0)
    odometry = DriftingOdometry((0.0, 0.0, 0.0), rng, drift=0.05, correct_every=0.2)
    buffer, errors, drift, corrected = TransformBuffer(), [], [], []
    for i in range(300):  # 10 s at 30 Hz, driving a circle
        now = i / 30
        truth = (math.cos(now), math.sin(now), now + math.pi / 2)
        map_odom, odom_base = odometry.update(truth, now)
        corrected.append(odometry.corrected_at == now)
        for parent, child, (x, y, yaw) in (("map", "odom", map_odom),
                                           ("odom", "base_footprint", odom_base)):
            buffer.set(parent, child, (x, y, 0.0), (0.0, 0.0, math.sin(yaw / 2),
                                                    math.cos(yaw / 2)), now)
        pose = buffer.lookup("map", "base_footprint", now)
        errors.append(math.hypot(pose.x - truth[0], pose.y - truth[1]))
        drift.append(math.hypot(odom_base[0] - truth[0], odom_base[1] - truth[1]))
    assert max(drift) > 0.1  # odometry alone wanders off ...
    # ... map -> odom brings the chain back onto the robot at every correction (5 Hz) and
    # it strays only by the drift since the last one in between.
    assert sum(corrected) >= 45
    assert max(e for e, c in zip(errors, corrected) if c) < 1e-9
    assert max(errors) < 0.1 and np.mean(errors) < 0.03
