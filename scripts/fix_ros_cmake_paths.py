"""Point the ROS 2 wheels' exported CMake files at this virtual environment's include dirs.

The message wheels on PyPI were built under ``/opt/python/cp311-cp311``, and their exported
CMake targets (``share/*/cmake/*.cmake``) name that interpreter's Python and numpy include
directories. ``colcon build`` of an interface package then fails to find them. This rewrites
both paths to the running interpreter's. Idempotent; prints how many files it changed.

Usage: python scripts/fix_ros_cmake_paths.py VENV_PREFIX
"""
import sys
import sysconfig
from pathlib import Path

import numpy

BUILDER = "/opt/python/cp311-cp311"
REWRITES = {
    BUILDER + "/include/python3.11": sysconfig.get_paths()["include"],
    BUILDER + "/lib/python3.11/site-packages/numpy/_core/include": numpy.get_include(),
}


def fix(prefix: Path) -> int:
    """Rewrite the builder's include paths under ``prefix/share``; return the files changed."""
    changed = 0
    for path in sorted(prefix.glob("share/*/cmake/*.cmake")):
        text = path.read_text()
        new = text
        for old, real in REWRITES.items():
            new = new.replace(old, real)
        if new != text:
            path.write_text(new)
            changed += 1
    return changed


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    count = fix(Path(sys.argv[1]))
    print(f"[setup] CMake path fix: {count} file(s) rewritten")
