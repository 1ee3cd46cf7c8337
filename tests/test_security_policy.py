"""The fleet's SROS2 policy (marlgpt_planner.security_policy): what each enclave grants, read
as Fast DDS enforces it, and that its check catches a broken policy. The running node's
endpoints against the policy: tests/ros/test_security_live.py."""
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from marlgpt_planner import security_policy as sp
from marlgpt_planner.endpoints import (
    ACTION,
    CALL,
    PUBLISH,
    REPLY,
    REQUEST,
    SERVICE,
    SUBSCRIBE,
    TOPIC,
    Endpoint,
    planner_endpoints,
)
from marlgpt_planner.fleet_config import FleetDescription
from marlgpt_planner.parameters import validate
from tests.conftest import REPO

PACKAGE = REPO / "ros2_ws" / "src" / "marlgpt_planner"
ROBOTS = ["robot1", "robot2", "robot3"]


def describe(tmp_path: Path, planner=None, robots=ROBOTS) -> Path:
    path = tmp_path / "fleet.yaml"
    path.write_text(yaml.safe_dump({
        "map": str(PACKAGE / "config" / "maps" / "maze_17x17.txt"),
        "model": str(PACKAGE / "models" / "marlgpt.onnx"), "origin": [0.0, 5.1],
        "robots": [{"id": r} for r in robots], "goals": "generator", "planner": planner or {}}))
    return path


@pytest.fixture
def fleet(tmp_path) -> FleetDescription:
    return FleetDescription.load(describe(tmp_path))


@pytest.fixture
def policy(fleet) -> str:
    return sp.fleet_policy(fleet, source="fleet.yaml")


def enclave(policy: str, path: str) -> sp.Permissions:
    (found,) = [e for e in sp.parse_policy(policy) if e.path == path]
    return sp.Permissions(found)


def topic(direction: str, name: str) -> Endpoint:
    return Endpoint(TOPIC, direction, name)


def test_the_policy_is_sros2_xml_with_an_enclave_per_robot_and_the_monitor(policy,
                                                                         fleet) -> None:
    root = ET.fromstring(policy)
    assert root.tag == "policy" and root.get("version") == "0.2.0"
    paths = [e.get("path") for e in root.findall("enclaves/enclave")]
    assert paths == ["/marlgpt/robot1", "/marlgpt/robot2", "/marlgpt/robot3", "/marlgpt/monitor"]
    profiles = root.findall("enclaves/enclave[@path='/marlgpt/robot1']/profiles/profile")
    assert [(p.get("ns"), p.get("node")) for p in profiles] == [
        ("/robot1", "marlgpt_planner"), ("/robot1", "*")]
    for element in root.iter():  # only what sros2's policy.xsd allows
        assert element.tag in {"policy", "enclaves", "enclave", "profiles", "profile", "topics",
                               "topic", "services", "service", "actions", "action"}
        assert set(element.attrib.values()) <= {"ALLOW"} or element.tag in {
            "policy", "enclave", "profile"}
    assert sp.check_policy(policy, fleet) == []


def test_a_robot_publishes_only_its_own_state_and_reaches_no_other_robot(policy) -> None:
    robot1 = enclave(policy, "/marlgpt/robot1")
    assert robot1.allows(topic(PUBLISH, "/fleet/state/robot1"))
    assert not robot1.allows(topic(PUBLISH, "/fleet/state/robot2"))
    assert not robot1.allows(topic(PUBLISH, "/fleet/state/robot11"))
    assert all(robot1.allows(topic(SUBSCRIBE, f"/fleet/state/{r}")) for r in ROBOTS)
    assert robot1.allows(topic(PUBLISH, "/fleet/step"))  # the shared step topic
    assert robot1.allows(Endpoint(ACTION, CALL, "/robot1/navigate_to_pose"))
    assert not robot1.allows(Endpoint(ACTION, CALL, "/robot2/navigate_to_pose"))
    assert robot1.allows(Endpoint(SERVICE, REPLY, "/robot1/set_goal"))
    assert not robot1.allows(Endpoint(SERVICE, REPLY, "/robot2/set_goal"))
    assert not robot1.allows(Endpoint(SERVICE, REQUEST, "/robot2/set_goal"))
    # Nav2, AMCL and the drivers: anything in the robot's own namespace, nothing in another's.
    for name in ("/robot1/cmd_vel", "/robot1/local_costmap/costmap", "/robot1/scan"):
        assert robot1.allows(topic(PUBLISH, name)) and robot1.allows(topic(SUBSCRIBE, name))
    for name in ("/robot2/cmd_vel", "/robot2/tf", "/robot2/marlgpt/goal", "/cmd_vel", "/tf"):
        assert not robot1.allows(topic(PUBLISH, name)), name
        assert not robot1.allows(topic(SUBSCRIBE, name)), name
    for direction in (PUBLISH, SUBSCRIBE):  # no pattern at all reaches into robot2 or robot3
        for pattern in robot1.allowed_patterns(direction):
            assert not any(sp.reaches(pattern, f"{kind}/{r}/") for kind in ("rt", "rq", "rr")
                           for r in ("robot2", "robot3")), pattern


def test_the_monitor_reads_and_calls_set_goal_but_writes_nothing(policy) -> None:
    monitor = enclave(policy, "/marlgpt/monitor")
    for name in ["/fleet/step", "/marlgpt/markers", "/diagnostics"] + [
            f"/fleet/state/{r}" for r in ROBOTS]:
        assert monitor.allows(topic(SUBSCRIBE, name)), name
        assert not monitor.allows(topic(PUBLISH, name)), name
    for robot in ROBOTS:
        assert monitor.allows(Endpoint(SERVICE, REQUEST, f"/{robot}/set_goal"))
        assert not monitor.allows(Endpoint(SERVICE, REPLY, f"/{robot}/set_goal"))
        assert not monitor.allows(Endpoint(ACTION, CALL, f"/{robot}/navigate_to_pose"))
        assert not monitor.allows(topic(PUBLISH, f"/{robot}/marlgpt/goal"))
        assert not monitor.allows(topic(PUBLISH, f"/{robot}/cmd_vel"))
    assert set(monitor.allowed_patterns(PUBLISH)) == {
        "rt/rosout", "rt/parameter_events"} | {f"rq/{r}/set_goalRequest" for r in ROBOTS}


def broken(policy: str, old: str, new: str, count: int = 1) -> str:
    assert policy.count(old) >= count, old
    return policy.replace(old, new, count)


ROBOT1_PUBLISHES = ('<profile ns="/robot1" node="marlgpt_planner">\n'
                    '          <topics publish="ALLOW" subscribe="ALLOW">\n')


@pytest.mark.parametrize("old, new, problem", [
    ("<topic>/fleet/state/robot1</topic>\n", "", "denies topic publish /fleet/state/robot1"),
    (ROBOT1_PUBLISHES, ROBOT1_PUBLISHES + "            <topic>/fleet/state/robot2</topic>\n",
     "grants publish rt/fleet/state/robot2: states of robots other than robot1"),
    ("<topic>/robot1/*</topic>", "<topic>/robot*</topic>",
     "grants publish rt/robot*, in robot2's namespace"),
    ("<action>/robot1/navigate_to_pose</action>", "<action>/robot2/navigate_to_pose</action>",
     "grants publish rq/robot2/navigate_to_pose/_action/send_goalRequest, in robot2's"),
    ("<service>/robot1/*</service>", "<service>/*</service>",
     "grants publish rr/*Reply, in robot2's namespace"),
    ('<topic>/marlgpt/markers</topic>', '<topic>/marlgpt/*</topic>',
     "grants topic publish /marlgpt/*, which the planner does not use"),
    ('<profile ns="/" node="*">\n', '<profile ns="/" node="*">\n          <topics '
     'publish="ALLOW">\n            <topic>/fleet/step</topic>\n          </topics>\n',
     "/marlgpt/monitor: grants publish rt/fleet/step"),
    (ROBOT1_PUBLISHES, ROBOT1_PUBLISHES.replace('publish="ALLOW" subscribe="ALLOW"',
                                                'publish="DENY" subscribe="ALLOW"'),
     "denies topic publish /fleet/state/robot1"),
    ('<enclave path="/marlgpt/robot3">', '<enclave path="/marlgpt/robot9">',
     "enclave /marlgpt/robot3 is missing"),
    ('<policy version="0.2.0">', '<policy version="0.1.0">', 'the root must be <policy'),
    ("</enclaves>", "", "not well-formed XML"),
])
def test_the_check_catches_a_broken_policy(policy, fleet, old, new, problem) -> None:
    bad = broken(policy, old, new)
    problems = sp.check_policy(bad, fleet)
    assert any(problem in p for p in problems), problems
    assert sp.check_policy(policy, fleet) == []


def test_the_policy_follows_the_parameters_the_planners_start_with(tmp_path) -> None:
    fleet = FleetDescription.load(describe(tmp_path, planner={
        "fleet_protocol.state_topic": "/fleet2/state", "pose.source": "amcl",
        "nav.action": "/robot_nav/go"}))
    policy = sp.fleet_policy(fleet)
    robot2 = enclave(policy, "/marlgpt/robot2")
    assert robot2.allows(topic(PUBLISH, "/fleet2/state/robot2"))
    assert not robot2.allows(topic(PUBLISH, "/fleet/state/robot2"))
    assert robot2.allows(topic(SUBSCRIBE, "/robot2/amcl_pose"))
    assert robot2.allows(Endpoint(ACTION, CALL, "/robot_nav/go"))
    assert "<topic>/robot2/tf</topic>" not in policy  # pose from amcl_pose, no TF
    assert sp.check_policy(policy, fleet) == []
    # Real robots read the maze as a static map (no /map); the loopback simulator's planners
    # subscribe /map.
    assert "<topic>/map</topic>" not in policy
    loopback = sp.fleet_policy(fleet, sim="loopback")
    assert enclave(loopback, "/marlgpt/robot1").allows(topic(SUBSCRIBE, "/map"))
    assert sp.check_policy(loopback, fleet, sim="loopback") == []
    assert sp.check_policy(loopback, fleet) != []


def test_planner_endpoints_for_a_node_driving_two_robots() -> None:
    params = validate({"model.path": "m.onnx", "lattice.rows": 3, "lattice.cols": 3,
                       "pose.source": "slam", "markers_topic": "markers"})
    found = planner_endpoints(params, ["a", "b"], ["a", "b", "c"], "/")
    assert topic(PUBLISH, "/fleet/state/a") in found and topic(PUBLISH, "/fleet/state/b") in found
    assert topic(PUBLISH, "/fleet/state/c") not in found
    assert topic(SUBSCRIBE, "/fleet/state/c") in found
    assert topic(PUBLISH, "/markers") in found  # relative: in the node's namespace
    for robot in ("a", "b"):
        for name in ("tf", "tf_static", "pose", "marlgpt/goal", "marlgpt/goal_pose"):
            assert topic(SUBSCRIBE, f"/{robot}/{name}") in found
        assert Endpoint(ACTION, CALL, f"/{robot}/navigate_to_pose") in found
    assert len(found) == len(set(found))


def test_names_and_patterns_read_as_sros2_and_fast_dds_read_them() -> None:
    assert sp.expand("~/get_parameters", "/robot1", "planner") == "/robot1/planner/get_parameters"
    assert sp.expand("scan", "/robot1", "*") == "/robot1/scan"
    assert sp.expand("scan", "/", "x") == "/scan"
    assert sp.expand("/rosout", "/robot1", "x") == "/rosout"
    assert sp.dds_topics(Endpoint(SERVICE, REPLY, "/r/set_goal")) == [
        (PUBLISH, "rr/r/set_goalReply"), (SUBSCRIBE, "rq/r/set_goalRequest")]
    assert (SUBSCRIBE, "rt/r/nav/_action/feedback") in sp.dds_topics(
        Endpoint(ACTION, CALL, "/r/nav"))
    # fnmatch without FNM_PATHNAME: * crosses /, and /robot1/* is not /robot10/...
    assert not sp.reaches("rt/robot1/*", "rt/robot10/")
    assert sp.reaches("rt/robot1/*", "rt/robot1/")
    assert sp.reaches("rt/robot*", "rt/robot2/") and sp.reaches("rt/*/cmd_vel", "rt/robot2/")
    assert sp.reaches("rt/robot[0-9]/x", "rt/robot2/")
    assert not sp.reaches("rt/robot[!2]/x", "rt/robot2/")
    assert not sp.reaches("rt/fleet/state/robot1", "rt/fleet/state/robot2")
    assert sp.reaches("rt/fleet/state/robot1", "rt/fleet/state/")


def test_a_central_fleet_has_a_coordinator_enclave_with_its_endpoints_exactly(tmp_path
                                                                            ) -> None:
    fleet = FleetDescription.load(describe(tmp_path, planner={
        "fleet_protocol.resolution": "central"}))
    policy = sp.fleet_policy(fleet)
    coordinator = enclave(policy, "/marlgpt/coordinator")
    assert coordinator.allows(topic(PUBLISH, "/fleet/plan"))
    assert coordinator.allows(topic(SUBSCRIBE, "/fleet/state/robot2"))
    assert not coordinator.allows(topic(PUBLISH, "/fleet/state/robot2"))
    assert not coordinator.allows(topic(PUBLISH, "/fleet/step"))
    robot1 = enclave(policy, "/marlgpt/robot1")
    assert robot1.allows(topic(SUBSCRIBE, "/fleet/plan"))
    assert not robot1.allows(topic(PUBLISH, "/fleet/plan"))  # no robot can forge a plan
    assert enclave(policy, "/marlgpt/monitor").allows(topic(SUBSCRIBE, "/fleet/plan"))
    assert sp.check_policy(policy, fleet) == []
    plan = '<topics publish="ALLOW">\n            <topic>/fleet/plan</topic>'
    bad = broken(policy, plan, plan.replace("/fleet/plan", "/fleet/*"))
    assert any("the coordinator's profile" in p for p in sp.check_policy(bad, fleet))
    # A fleet without the central resolution has no coordinator and no plan topic.
    assert "/marlgpt/coordinator" not in sp.fleet_policy(FleetDescription.load(describe(
        tmp_path)))


def test_a_robot_id_must_name_an_enclave(tmp_path) -> None:
    with pytest.raises(sp.PolicyError, match="cannot name an enclave"):
        sp.fleet_policy(FleetDescription.load(describe(tmp_path, robots=["robot1", "monitor"])))


def test_the_command_line_writes_and_checks_the_shipped_fleets_policy(tmp_path, capsys) -> None:
    shipped = PACKAGE / "config" / "fleet_maze.yaml"  # goals: pogema, as robots load it
    out = tmp_path / "policy.xml"
    assert sp.main(["--fleet", str(shipped), "--out", str(out)]) == 0
    assert "/marlgpt/robot4, /marlgpt/monitor" in capsys.readouterr().err
    assert sp.main(["--fleet", str(shipped), "--check", str(out)]) == 0
    out.write_text(broken(out.read_text(), "<topic>/fleet/step</topic>", ""))
    assert sp.main(["--fleet", str(shipped), "--check", str(out)]) == 1
    assert "denies topic publish /fleet/step" in capsys.readouterr().err
    assert sp.main(["--fleet", str(tmp_path / "missing.yaml")]) == 2


SCRIPT = REPO / "scripts" / "fleet_keystore.sh"
#: Stands in for sros2's command line: records its arguments and makes what generate_artifacts
#: makes (an enclave directory per enclave of the policy, linking the keystore's public files).
FAKE_ROS2 = r"""#!/usr/bin/env bash
echo "$*" >> "$(dirname "$0")/calls"
[ "$1 $2" = "security --help" ] && exit 0
ks=$4
mkdir -p "$ks/public" "$ks/enclaves"
echo ca > "$ks/public/identity_ca.cert.pem"
echo "<id>$ROS_DOMAIN_ID</id>" > "$ks/enclaves/governance.xml"
for e in $(sed -n 's/.*<enclave path="\([^"]*\)">.*/\1/p' "$6"); do
    mkdir -p "$ks/enclaves$e" && echo key > "$ks/enclaves$e/key.pem"
    ln -sf "$(realpath --relative-to="$ks/enclaves$e" "$ks/public/identity_ca.cert.pem")" \
        "$ks/enclaves$e/identity_ca.cert.pem"
done
"""


def run_script(fleet: Path, keystore: Path, path: str, domain="42"):
    import os
    import subprocess
    import sys

    env = dict(os.environ, PATH=path, PYTHON=sys.executable)
    env.pop("ROS_DOMAIN_ID", None)
    if domain:
        env["ROS_DOMAIN_ID"] = domain
    return subprocess.run(["bash", str(SCRIPT), str(fleet), str(keystore)], env=env,
                          capture_output=True, text=True, timeout=60)


def test_the_keystore_script_runs_sros2_and_packs_one_archive_per_enclave(tmp_path) -> None:
    import os
    import tarfile

    fleet, keystore, bin_dir = describe(tmp_path), tmp_path / "keystore", tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "ros2").write_text(FAKE_ROS2)
    (bin_dir / "ros2").chmod(0o755)
    done = run_script(fleet, keystore, f"{bin_dir}:{os.environ['PATH']}")
    assert done.returncode == 0, done.stderr
    policy = keystore / "policy.xml"
    assert sp.check_policy(policy.read_text(), FleetDescription.load(fleet)) == []
    calls = (bin_dir / "calls").read_text().splitlines()
    assert calls[-1] == f"security generate_artifacts -k {keystore} -p {policy}"
    for name in ROBOTS + ["monitor"]:
        with tarfile.open(keystore / "bundles" / f"{name}.tar.gz") as bundle:
            members = {m.name: m for m in bundle.getmembers()}
        assert set(members) == {f"enclaves/marlgpt/{name}", f"enclaves/marlgpt/{name}/key.pem",
                                f"enclaves/marlgpt/{name}/identity_ca.cert.pem"}
        assert members[f"enclaves/marlgpt/{name}/identity_ca.cert.pem"].isfile()  # no link
    # A keystore made for another domain is not reused.
    again = run_script(fleet, keystore, f"{bin_dir}:{os.environ['PATH']}", "7")
    assert again.returncode == 2 and "another ROS_DOMAIN_ID" in again.stderr


def test_the_keystore_script_without_sros2_writes_the_policy_and_says_where_to_run(
        tmp_path) -> None:
    fleet, keystore = describe(tmp_path), tmp_path / "keystore"
    done = run_script(fleet, keystore, "/usr/bin:/bin")
    assert done.returncode == 3, done.stderr
    assert "marlgpt/sim:0.1.0 scripts/fleet_keystore.sh" in done.stderr
    assert sp.parse_policy((keystore / "policy.xml").read_text())
    unset = run_script(fleet, tmp_path / "other", "/usr/bin:/bin", domain="")
    assert unset.returncode == 2 and "set ROS_DOMAIN_ID" in unset.stderr
