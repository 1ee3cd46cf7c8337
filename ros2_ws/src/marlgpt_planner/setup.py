"""ament_python package of the marlgpt robot runtime (Python >= 3.8, no torch, no pogema)."""
from glob import glob

from setuptools import find_packages, setup

PACKAGE = "marlgpt_planner"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    # The expert's C++ source, compiled on first use (marlgpt_planner.expert.native).
    package_data={PACKAGE + ".expert": ["pibt.cpp"]},
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + PACKAGE]),
        ("share/" + PACKAGE, ["package.xml"]),
        ("share/" + PACKAGE + "/config", glob("config/*.yaml")),
        ("share/" + PACKAGE + "/config/maps", glob("config/maps/*")),
        ("share/" + PACKAGE + "/launch", glob("launch/*.launch.py")),
        ("share/" + PACKAGE + "/urdf", glob("urdf/*.urdf")),
        ("share/" + PACKAGE + "/models", glob("models/*")),
        ("lib/" + PACKAGE, ["scripts/build_engine.sh"]),
    ],
    install_requires=["setuptools"],
    zip_safe=False,
    maintainer="marlgpt maintainers",
    maintainer_email="maintainers@marlgpt.dev",
    description="MARL-GPT multi-robot planner for ROS 2 (robot runtime).",
    license="Apache-2.0",
    python_requires=">=3.8",
    entry_points={"console_scripts": [
        "planner = marlgpt_planner.ros.node:main",
        "wait_for_nav2 = marlgpt_planner.ros.nav2_ready:main",
        "jetbot_base = marlgpt_planner.ros.jetbot_base:main",
        "coordinator = marlgpt_planner.ros.coordinator:main",
    ]},
)
