"""The JetBot motor board's frame format (the vendor's: AA 55, length, type, int16 big-endian
values, 8-bit sum) and the reader that splits a byte stream into checked frames."""
import math

import pytest

from marlgpt_planner import motor_board
from marlgpt_planner.motor_board import FrameReader, Telemetry


def test_a_velocity_frame_is_the_vendors_layout() -> None:
    frame = motor_board.velocity_frame(0.15, -0.5)
    # AA 55, 11 bytes, type 0x11, x = 150 mm/s, y = 0, z = -500 mrad/s, sum of the rest
    assert frame[:4] == bytes([0xAA, 0x55, 0x0B, 0x11])
    assert frame[4:10] == bytes([0x00, 0x96, 0x00, 0x00, 0xFE, 0x0C])
    assert frame[10] == sum(frame[:10]) & 0xFF and len(frame) == 11


def test_values_are_clamped_to_int16() -> None:
    frame = motor_board.velocity_frame(100.0, -100.0)  # 100 m/s does not fit in mm/s
    assert frame[4:6] == bytes([0x7F, 0xFF]) and frame[8:10] == bytes([0x80, 0x00])


def test_pid_and_corrections_frames() -> None:
    assert motor_board.pid_frame(350, 120, 0)[:10] == bytes(
        [0xAA, 0x55, 0x0B, 0x12, 0x01, 0x5E, 0x00, 0x78, 0x00, 0x00])
    corrections = motor_board.corrections_frame(1.0, 0.95)
    assert corrections[:8] == bytes([0xAA, 0x55, 0x09, 0x13, 0x03, 0xE8, 0x03, 0xB6])
    assert len(corrections) == 9


def sample(**changes) -> Telemetry:
    values = dict(gyro=(0.0, 0.0, 0.5), accel=(0.0, 0.0, 9.8), yaw_imu=0.3, x=1.234,
                  y=-0.5, yaw=2.5, dx=0.003, dy=0.0, dyaw=-0.01, wheel_speeds=(12, -3),
                  wheel_setpoints=(10, 10))
    values.update(changes)
    return Telemetry(**values)


def test_telemetry_round_trips_at_the_boards_resolution() -> None:
    frame = motor_board.telemetry_frame(sample())
    assert len(frame) == motor_board.TELEMETRY_LENGTH and frame[2] == 45 and frame[3] == 0x01
    back = motor_board.parse_telemetry(frame)
    assert (back.x, back.y, back.yaw) == (1.234, -0.5, 2.5)  # mm and mrad
    assert (back.dx, back.dyaw) == (0.003, -0.01)
    assert back.gyro[2] == pytest.approx(0.5, abs=2e-3)
    assert back.yaw_imu == pytest.approx(0.3, abs=math.radians(0.1))
    assert back.wheel_speeds == (12, -3)


def test_the_reader_finds_frames_in_a_noisy_split_stream() -> None:
    good = motor_board.telemetry_frame(sample())
    bad = good[:-1] + bytes([(good[-1] + 1) & 0xFF])
    stream = b"\x00\x13\xaa" + good + bad + b"\xaa" + good
    reader = FrameReader()
    frames = []
    for i in range(0, len(stream), 7):  # arrives in pieces
        frames += reader.feed(stream[i:i + 7])
    assert frames == [good, good]
    assert reader.accepted == 2 and reader.rejected >= 2
    assert [t.x for t in motor_board.telemetry(frames)] == [1.234, 1.234]


def test_only_telemetry_frames_are_read_as_telemetry() -> None:
    reader = FrameReader()
    frames = reader.feed(motor_board.velocity_frame(0.1, 0.0)
                         + motor_board.telemetry_frame(sample(x=0.5)))
    assert len(frames) == 2 and [t.x for t in motor_board.telemetry(frames)] == [0.5]


def test_a_stream_without_headers_is_rejected_not_kept() -> None:
    reader = FrameReader()
    assert reader.feed(bytes(range(1, 200))) == []
    assert reader.rejected > 0 and len(reader.buffer) <= 1
