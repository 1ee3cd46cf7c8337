"""ament_python package of marlgpt's simulators and fleet runner (demo and test tools)."""
from setuptools import find_packages, setup

PACKAGE = "marlgpt_sim"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + PACKAGE]),
        ("share/" + PACKAGE, ["package.xml"]),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="marlgpt maintainers",
    maintainer_email="maintainers@marlgpt.dev",
    description="marlgpt's loopback simulator, Gazebo world generator and fleet runner.",
    license="Apache-2.0",
    python_requires=">=3.8",
    entry_points={"console_scripts": [
        "loopback_sim = marlgpt_sim.loopback:main",
        "fleet_runner = marlgpt_sim.fleet_runner:main",
    ]},
)
