"""docs/deploy-jetbot.md names only files the repository has (a user follows it from a flashed
Jetson to a moving fleet, and every file it points at must be there)."""
import re
from typing import List

from tests.conftest import REPO

GUIDES = [REPO / "docs" / "deploy-jetbot.md", REPO / "docs" / "security.md"]
#: Where a path in the guide may be relative to: the repository, the planner package (whose
#: files the guide names as the package does) and its Python package.
BASES = [REPO, REPO / "ros2_ws" / "src" / "marlgpt_planner",
         REPO / "ros2_ws" / "src" / "marlgpt_planner" / "marlgpt_planner"]
FILE = re.compile(r"[`(]((?:[\w.-]+/)+[\w.-]+\.(?:py|yaml|md|urdf|txt|xml|sh|in)|"
                  r"(?:[\w.-]+/)+Dockerfile)[`)]")


def missing_files(text: str) -> List[str]:
    """Repository paths named in ``text`` (in backticks or as link targets) that do not exist;
    absolute paths (inside the images), installed ones (``share/...``) and URLs are not
    repository paths."""
    missing = []
    for path in FILE.findall(text):
        path = path.lstrip("./")
        if path.startswith(("/", "http", "share/")) or "://" in path:
            continue
        if not any((base / path).exists() for base in BASES):
            missing.append(path)
    return missing


def test_the_guides_name_only_files_that_exist() -> None:
    assert len(FILE.findall(GUIDES[0].read_text())) >= 10  # the pattern finds the guide's files
    for guide in GUIDES:
        assert missing_files(guide.read_text()) == [], guide.name


def test_the_check_finds_a_missing_file() -> None:
    text = ("see `launch/robot_bringup.launch.py` and `config/nav2_jetbot.yaml`, "
            "(../docker/README.md)")
    assert missing_files(text) == ["config/nav2_jetbot.yaml"]
