"""A serial port in raw mode, non-blocking, with the standard library only (termios): what a
robot's driver needs to talk to a board on /dev/ttyACM0 or /dev/ttyUSB0, and what a
pseudo-terminal stands in for in tests. Python >= 3.8, Linux."""
import errno
import os
import termios
from typing import Optional


class SerialError(OSError):
    """The port cannot be opened or used (the message says which port and why)."""


def _speed(baud: int) -> int:
    name = f"B{baud}"
    if not hasattr(termios, name):
        raise SerialError(f"unsupported baud rate {baud}")
    return getattr(termios, name)


class SerialPort:
    """``path`` opened read-write, raw 8N1 at ``baud``, no flow control, non-blocking."""

    def __init__(self, path: str, baud: int = 115200) -> None:
        self.path = path
        speed = _speed(baud)
        try:
            self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        except OSError as exc:
            hint = (" (add --device to the container, or the user to the dialout group)"
                    if exc.errno in (errno.ENOENT, errno.EACCES) else "")
            raise SerialError(f"cannot open serial port {path}: {exc.strerror}{hint}") from None
        try:
            attrs = termios.tcgetattr(self.fd)
        except termios.error as exc:
            os.close(self.fd)
            raise SerialError(f"{path} is not a serial port: {exc.args[-1]}") from None
        iflag, oflag, cflag, lflag, _, _, cc = attrs
        iflag &= ~(termios.IGNBRK | termios.BRKINT | termios.PARMRK | termios.ISTRIP
                   | termios.INLCR | termios.IGNCR | termios.ICRNL | termios.IXON
                   | termios.IXOFF | termios.IXANY)
        oflag &= ~termios.OPOST
        lflag &= ~(termios.ECHO | termios.ECHONL | termios.ICANON | termios.ISIG
                   | termios.IEXTEN)
        cflag &= ~(termios.CSIZE | termios.PARENB | termios.CSTOPB)
        cflag |= termios.CS8 | termios.CREAD | termios.CLOCAL
        if hasattr(termios, "CRTSCTS"):
            cflag &= ~termios.CRTSCTS
        cc[termios.VMIN], cc[termios.VTIME] = 0, 0
        termios.tcsetattr(self.fd, termios.TCSANOW,
                          [iflag, oflag, cflag, lflag, speed, speed, cc])
        termios.tcflush(self.fd, termios.TCIOFLUSH)

    def read(self, limit: int = 4096) -> bytes:
        """What has arrived (b"" when nothing has)."""
        try:
            return os.read(self.fd, limit)
        except BlockingIOError:
            return b""
        except OSError as exc:
            raise SerialError(f"{self.path}: read failed: {exc.strerror}") from None

    def write(self, data: bytes) -> None:
        try:
            os.write(self.fd, data)
        except BlockingIOError:
            pass  # the output buffer is full: the next command replaces this one
        except OSError as exc:
            raise SerialError(f"{self.path}: write failed: {exc.strerror}") from None

    def close(self) -> None:
        fd: Optional[int] = getattr(self, "fd", None)
        if fd is not None:
            os.close(fd)
            self.fd = None
