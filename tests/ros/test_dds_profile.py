"""The images' Fast DDS profile (docker/fastdds_udp.xml): valid for Fast DDS, set in both ROS
images, and DDS still works over it (UDP only, no shared memory)."""
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

from tests.conftest import REPO

PROFILE = REPO / "docker" / "fastdds_udp.xml"
NODE = "import rclpy; rclpy.init(); node = rclpy.create_node('probe'); print('ok')"


def _start_node(env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", NODE], env=env, capture_output=True,
                          text=True, timeout=60)


def test_fast_dds_loads_the_profile_without_an_xml_error(tmp_path, ros_env) -> None:
    env = dict(ros_env, FASTDDS_DEFAULT_PROFILES_FILE=str(PROFILE),
               FASTRTPS_DEFAULT_PROFILES_FILE=str(PROFILE))
    run = _start_node(env)
    assert run.returncode == 0 and "ok" in run.stdout, run.stderr
    assert "XMLPARSER" not in run.stderr, run.stderr
    # The check can fail: a broken copy makes Fast DDS complain.
    broken = tmp_path / "broken.xml"
    broken.write_text(PROFILE.read_text().replace("</profiles>", ""))
    env = dict(ros_env, FASTDDS_DEFAULT_PROFILES_FILE=str(broken),
               FASTRTPS_DEFAULT_PROFILES_FILE=str(broken))
    assert "XMLPARSER" in _start_node(env).stderr


def test_the_profile_is_udp_only_and_set_in_both_ros_images() -> None:
    ns = {"f": "http://www.eprosima.com/XMLSchemas/fastRTPS_Profiles"}
    root = ET.parse(PROFILE).getroot()
    (participant,) = root.findall("f:participant", ns)
    assert participant.get("is_default_profile") == "true"
    assert participant.find("f:rtps/f:useBuiltinTransports", ns).text.strip() == "false"
    used = {t.text.strip() for t in participant.findall("f:rtps/f:userTransports/"
                                                        "f:transport_id", ns)}
    kinds = {d.find("f:transport_id", ns).text.strip(): d.find("f:type", ns).text.strip()
             for d in root.findall("f:transport_descriptors/f:transport_descriptor", ns)}
    assert used and all(kinds[t] == "UDPv4" for t in used)
    for image in ("jetbot", "sim"):
        text = (REPO / "docker" / image / "Dockerfile").read_text()
        copied = re.search(r"COPY .*docker/fastdds_udp\.xml (\S+)", text)
        assert copied, image
        for var in ("FASTRTPS_DEFAULT_PROFILES_FILE", "FASTDDS_DEFAULT_PROFILES_FILE"):
            assert re.search(rf"{var}={re.escape(copied.group(1))}", text), (image, var)


def test_dds_works_over_the_profile(ros_env) -> None:
    """The fleet interface test's two processes, with only UDP allowed."""
    env = dict(ros_env, FASTDDS_DEFAULT_PROFILES_FILE=str(PROFILE),
               FASTRTPS_DEFAULT_PROFILES_FILE=str(PROFILE))
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          str(REPO / "tests" / "ros" / "test_fleet_interfaces.py")],
                         env=dict(env, ROS_DOMAIN_ID=os.environ.get("ROS_DOMAIN_ID",
                                                                     ros_env["ROS_DOMAIN_ID"])),
                         cwd=REPO, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
