"""The planner's TF buffer chains transforms as tf2 does (map -> odom -> base_footprint)."""
import math

import numpy as np
import pytest

from marlgpt_planner.transforms import TransformBuffer, compose, invert, rotate


def yaw_q(yaw: float):
    return (0.0, 0.0, math.sin(yaw / 2), math.cos(yaw / 2))


def matrix(translation, yaw):
    c, s = math.cos(yaw), math.sin(yaw)
    return np.array([[c, -s, translation[0]], [s, c, translation[1]], [0, 0, 1]])


def test_map_odom_base_chain_equals_the_matrix_product() -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        a, b = rng.uniform(-5, 5, 2), rng.uniform(-5, 5, 2)
        ya, yb = rng.uniform(-math.pi, math.pi, 2)
        tf = TransformBuffer()
        tf.set("map", "odom", (a[0], a[1], 0.0), yaw_q(ya), received=10.0)
        tf.set("odom", "base_footprint", (b[0], b[1], 0.0), yaw_q(yb), received=10.5)
        pose = tf.lookup("map", "base_footprint", now=11.0)
        expected = matrix(a, ya) @ matrix(b, yb)
        assert pose.x == pytest.approx(expected[0, 2]) and pose.y == pytest.approx(expected[1, 2])
        assert math.cos(pose.yaw - (ya + yb)) == pytest.approx(1.0)
        assert pose.age == pytest.approx(1.0)  # the older of the two moving links


def test_lookup_across_branches_static_links_and_the_inverse_direction() -> None:
    tf = TransformBuffer()
    tf.set("/map", "odom", (1.0, 0.0, 0.0), yaw_q(math.pi / 2), received=0.0)
    tf.set("odom", "base_footprint", (2.0, 0.0, 0.0), yaw_q(0.0), received=0.0)
    tf.set("base_footprint", "base_scan", (0.1, 0.0, 0.2), yaw_q(0.0), received=0.0,
           static=True)
    scan = tf.lookup("map", "base_scan", now=0.25)
    assert (scan.x, scan.y) == pytest.approx((1.0, 2.1))
    assert scan.age == pytest.approx(0.25)
    back = tf.lookup("base_scan", "map", now=0.25)  # the inverse transform
    assert back.x == pytest.approx(-2.1) and back.y == pytest.approx(1.0)
    assert tf.lookup("base_footprint", "base_scan", now=99.0).age == 0.0  # static only
    assert tf.lookup("map", "map", now=0.0) == (0.0, 0.0, 0.0, 0.0)


def test_the_newest_transform_wins_and_bad_ones_are_refused() -> None:
    tf = TransformBuffer()
    tf.set("map", "odom", (0.0, 0.0, 0.0), yaw_q(0.0), received=0.0)
    tf.set("odom", "base_footprint", (1.0, 0.0, 0.0), yaw_q(0.0), received=0.0)
    tf.set("odom", "base_footprint", (3.0, 0.0, 0.0), yaw_q(0.0), received=1.0)
    assert tf.lookup("map", "base_footprint", 1.0).x == pytest.approx(3.0)
    assert not tf.set("odom", "base_footprint", (math.nan, 0.0, 0.0), yaw_q(0.0), 2.0)
    assert not tf.set("odom", "base_footprint", (0.0, 0.0, 0.0), (0.0, 0.0, 0.0, 0.0), 2.0)
    assert not tf.set("odom", "odom", (0.0, 0.0, 0.0), yaw_q(0.0), 2.0)
    assert tf.lookup("map", "base_footprint", 2.0).x == pytest.approx(3.0)
    # A non-unit quaternion is normalised, as tf2 does.
    assert tf.set("map", "odom", (0.0, 0.0, 0.0), (0.0, 0.0, 2.0, 0.0), 2.0)
    assert tf.lookup("map", "base_footprint", 2.0).x == pytest.approx(-3.0)


def test_disconnected_frames_give_none_and_a_reason() -> None:
    tf = TransformBuffer()
    assert tf.lookup("map", "base_footprint", 0.0) is None
    assert "no transforms" in tf.why_not("map", "base_footprint")
    tf.set("odom", "base_footprint", (0.0, 0.0, 0.0), yaw_q(0.0), 0.0)
    assert tf.lookup("map", "base_footprint", 0.0) is None
    assert "map" in tf.why_not("map", "base_footprint")
    tf.set("world", "map", (0.0, 0.0, 0.0), yaw_q(0.0), 0.0)
    assert "different trees" in tf.why_not("map", "base_footprint")


def test_inverse_and_rotation_helpers() -> None:
    t, q = (1.0, 2.0, 0.5), yaw_q(0.7)
    identity = compose((t, q), invert(t, q))
    assert identity[0] == pytest.approx((0.0, 0.0, 0.0))
    assert abs(identity[1][3]) == pytest.approx(1.0)
    assert rotate(yaw_q(math.pi / 2), (1.0, 0.0, 0.0)) == pytest.approx((0.0, 1.0, 0.0))
