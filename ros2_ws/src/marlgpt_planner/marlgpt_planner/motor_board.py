"""The serial protocol of the Waveshare JetBot ROS AI Kit's motor board (encoder motors, IMU).

The board runs the wheel speed loops, integrates the wheel encoders (and gyro) into a pose and
reports it; the host sends velocity commands. The format is the one the vendor's own ROS node
speaks (waveshare/jetbot_pro, ``src/jetbot.cpp``): 115200 baud, 8N1, on ``/dev/ttyACM0``.

Every frame is ``AA 55 LEN TYPE PAYLOAD... SUM``: LEN is the whole frame's length in bytes
(header and checksum included), SUM the low byte of the sum of every byte before it, and every
value a big-endian signed 16-bit integer.

Host to board:

- ``0x11`` velocity: linear x (mm/s), linear y (mm/s), angular z (mrad/s); the board holds the
  last command, so the host repeats it (50 Hz) and sends zeros when it has no fresh command.
  (The vendor's node writes linear x into the y slot as well; this driver sends 0 there, the
  robot being differential.)
- ``0x12`` PID gains of the wheel loops (kp, ki, kd; the vendor's defaults 350, 120, 0).
- ``0x13`` odometry corrections, x1000 (linear, angular; 1.0 each by default).

Board to host, ``0x01`` telemetry, 45 bytes: gyro x, y, z (full scale +-2000 deg/s), accel x,
y, z (+-2 g), roll, pitch, yaw (0.1 deg), the integrated pose x, y (mm) and yaw (mrad), the
motion since the previous frame dx, dy (mm) and dyaw (mrad), the wheels' measured and set
speeds (board units), two spare bytes.

Pure Python (Python >= 3.8): the planner's base driver and the test suite's simulated board
both use it, so both speak exactly this format.
"""
import math
import struct
from typing import List, NamedTuple

HEADER = b"\xaa\x55"
VELOCITY = 0x11
PID = 0x12
CORRECTIONS = 0x13
TELEMETRY = 0x01
TELEMETRY_LENGTH = 45
#: What the vendor's firmware uses when no gains are sent.
DEFAULT_PID = (350, 120, 0)
_INT16 = (-32768, 32767)
_TELEMETRY_VALUES = 19  # int16 fields between the type byte and the spare bytes


def checksum(data: bytes) -> int:
    """The low byte of the sum of ``data``'s bytes."""
    return sum(data) & 0xFF


def _int16(value: float) -> int:
    return int(max(_INT16[0], min(_INT16[1], round(value))))


def frame(kind: int, values: List[float], spare: int = 0) -> bytes:
    """A frame of type ``kind`` carrying ``values`` as int16 (clamped), then ``spare`` zero
    bytes, with its length and checksum."""
    body = struct.pack(">B" + "h" * len(values), kind, *(_int16(v) for v in values))
    body += bytes(spare)
    head = HEADER + bytes([len(HEADER) + 1 + len(body) + 1])
    return head + body + bytes([checksum(head + body)])


def velocity_frame(linear: float, angular: float) -> bytes:
    """Drive at ``linear`` m/s and ``angular`` rad/s."""
    return frame(VELOCITY, [linear * 1000.0, 0.0, angular * 1000.0])


def pid_frame(kp: int, ki: int, kd: int) -> bytes:
    return frame(PID, [kp, ki, kd])


def corrections_frame(linear: float, angular: float) -> bytes:
    """Scale factors the board applies to its odometry (calibration; 1.0 = none)."""
    return frame(CORRECTIONS, [linear * 1000.0, angular * 1000.0])


class Telemetry(NamedTuple):
    """One telemetry frame in SI units (m, rad, s)."""
    gyro: tuple  # rad/s, x y z
    accel: tuple  # m/s^2, x y z
    yaw_imu: float  # rad, the IMU's own heading
    x: float  # m, integrated by the board since it started
    y: float
    yaw: float  # rad
    dx: float  # m, motion since the previous frame, in the robot's frame
    dy: float
    dyaw: float  # rad
    wheel_speeds: tuple  # (left, right) measured, board units
    wheel_setpoints: tuple  # (left, right), board units


GYRO_SCALE = math.radians(2000.0) / 32768.0
ACCEL_SCALE = 2 * 9.8 / 32768.0


def frame_values(data: bytes, count: int) -> tuple:
    """The first ``count`` int16 values of a checked frame (after its type byte)."""
    return struct.unpack(">" + "h" * count, data[4:4 + 2 * count])


def parse_telemetry(data: bytes) -> Telemetry:
    """A checked telemetry frame's values."""
    v = frame_values(data, _TELEMETRY_VALUES)
    return Telemetry(gyro=tuple(g * GYRO_SCALE for g in v[0:3]),
                     accel=tuple(a * ACCEL_SCALE for a in v[3:6]),
                     yaw_imu=math.radians(v[8] / 10.0),
                     x=v[9] / 1000.0, y=v[10] / 1000.0, yaw=v[11] / 1000.0,
                     dx=v[12] / 1000.0, dy=v[13] / 1000.0, dyaw=v[14] / 1000.0,
                     wheel_speeds=(v[15], v[16]), wheel_setpoints=(v[17], v[18]))


def telemetry_frame(t: Telemetry) -> bytes:
    """The frame a board sends for ``t`` (what the simulated board writes)."""
    values = ([g / GYRO_SCALE for g in t.gyro] + [a / ACCEL_SCALE for a in t.accel]
              + [0.0, 0.0, math.degrees(t.yaw_imu) * 10.0]
              + [t.x * 1000.0, t.y * 1000.0, t.yaw * 1000.0,
                 t.dx * 1000.0, t.dy * 1000.0, t.dyaw * 1000.0]
              + list(t.wheel_speeds) + list(t.wheel_setpoints))
    return frame(TELEMETRY, values, spare=2)


class FrameReader:
    """Splits a byte stream into checked frames. Bytes before a header, frames with a wrong
    length and frames whose checksum fails are dropped and counted (``rejected``): a board at
    the wrong baud rate, or something else on the port, shows as rejections and no frames."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.rejected = 0  # frames (or runs of stray bytes) dropped
        self.accepted = 0

    def feed(self, data: bytes) -> List[bytes]:
        self.buffer += data
        frames = []
        while True:
            start = self.buffer.find(HEADER)
            if start < 0:
                if len(self.buffer) > 1:  # keep a trailing 0xAA: it may start a header
                    self.rejected += 1
                    del self.buffer[:len(self.buffer) - 1]
                break
            if start > 0:
                self.rejected += 1
                del self.buffer[:start]
            if len(self.buffer) < 3:
                break
            length = self.buffer[2]
            if length < 5 or length > 64:
                self.rejected += 1
                del self.buffer[:2]
                continue
            if len(self.buffer) < length:
                break
            candidate = bytes(self.buffer[:length])
            if checksum(candidate[:-1]) != candidate[-1]:
                self.rejected += 1
                del self.buffer[:2]  # resynchronize on the next header
                continue
            del self.buffer[:length]
            self.accepted += 1
            frames.append(candidate)
        return frames


def telemetry(frames: List[bytes]) -> List[Telemetry]:
    """The telemetry among checked frames (others, e.g. echoes, are skipped)."""
    return [parse_telemetry(f) for f in frames
            if f[3] == TELEMETRY and len(f) == TELEMETRY_LENGTH]
