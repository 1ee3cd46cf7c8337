#!/usr/bin/env python3
"""Edit a SLAM Toolbox 2.6.x source tree so that it builds without RViz and Qt.

SLAM Toolbox 2.6.8 (the Humble line) finds rviz_common, rviz_default_plugins,
rviz_ogre_vendor, rviz_rendering and Qt5 unconditionally and lists them in package.xml,
although only its RViz panel (rviz_plugin/, the SlamToolboxPlugin library) uses them; it has
no option to leave the panel out. The robot image has no display, and building RViz (OGRE,
Qt) on a Jetson Nano costs hours, so this drops the panel and those dependencies and leaves
the SLAM nodes, the Ceres solver plugin and the services as they are.

    python3 slam_toolbox_without_rviz.py SOURCE_DIR

Stops with an error, before writing anything, if a file does not look as expected (another
version): a half-edited CMakeLists.txt would fail later with a less clear message.
"""
import re
import sys
from pathlib import Path

# Each edit: (what it removes, pattern, replacement). Every one must match at least once.
CMAKE_EDITS = [
    ("find_package of RViz and Qt5",
     re.compile(r"^find_package\((?:rviz_\w+|Qt5)\b[^\n]*\)[ \t]*\n", re.M), ""),
    ("RViz and Qt5 in the dependency list",
     re.compile(r"^[ \t]+(?:rviz_\w+|Qt5)[ \t]*\n", re.M), ""),
    ("SlamToolboxPlugin in the library list",
     re.compile(r"^[ \t]+SlamToolboxPlugin[ \t]*\n", re.M), ""),
    ("the RViz panel target",
     re.compile(r"^#### rviz Plugin\n.*?(?=^####)", re.M | re.S), ""),
    ("the panel's install rule",
     re.compile(r"^install\(TARGETS SlamToolboxPlugin\b.*?^\)[ \t]*\n\n?", re.M | re.S), ""),
    ("rviz_plugins.xml from the installed files",
     re.compile(r"[ \t]+rviz_plugins\.xml(?=[ \t]*\n)"), ""),
    ("the panel's exported target",
     re.compile(r"^ament_export_targets\(SlamToolboxPlugin\b[^\n]*\n", re.M), ""),
]
PACKAGE_EDITS = [
    ("RViz and Qt dependencies",
     re.compile(r"^[ \t]*<(build_depend|depend|exec_depend)>"
                r"(?:rviz_\w+|libqt5-\w+|qtbase5-dev)</\1>[ \t]*\n", re.M), ""),
    ("the RViz plugin export",
     re.compile(r"^[ \t]*<rviz_common plugin=[^\n]*/>[ \t]*\n", re.M), ""),
]
# What may not be left afterwards (QT_NO_KEYWORDS, a compile definition, is harmless).
LEFTOVERS = re.compile(r"rviz|Qt5|qt5_|libqt5|qtbase5|SlamToolboxPlugin")


def edit(text: str, edits, name: str) -> str:
    for what, pattern, replacement in edits:
        text, count = pattern.subn(replacement, text)
        if count == 0:
            raise SystemExit(f"{name}: found no {what}; is this SLAM Toolbox 2.6.x?")
    left = sorted({m.group(0) for m in LEFTOVERS.finditer(text)})
    if left:
        raise SystemExit(f"{name}: still mentions {', '.join(left)} after the edit")
    return text


def main(argv) -> int:
    if len(argv) != 2:
        raise SystemExit(__doc__.split("\n\n")[2])
    root = Path(argv[1])
    cmake, package = root / "CMakeLists.txt", root / "package.xml"
    new_cmake = edit(cmake.read_text(), CMAKE_EDITS, str(cmake))
    new_package = edit(package.read_text(), PACKAGE_EDITS, str(package))
    cmake.write_text(new_cmake)
    package.write_text(new_package)
    print(f"{root}: RViz panel and RViz/Qt dependencies removed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
