"""The fleet's SROS2 policy against running planners: a 2-robot loopback fleet over real
rclpy + Fast DDS (its own ROS_DOMAIN_ID); each planner's publishers, subscriptions, services,
service clients and action clients, read from the ROS graph, must be granted by its robot's
enclave, and the planner's grants must be what it uses, no more.

(CI's Fast DDS has no DDS-Security plugins, so the policy is not enforced here: this checks
that the policy fits the node. docs/security.md.)"""
import time
from pathlib import Path
from typing import Set

import rclpy.action
import yaml

from marlgpt_msgs.msg import RobotState
from marlgpt_planner import security_policy as sp
from marlgpt_planner.endpoints import (
    ACTION,
    CALL,
    PARAMETER_EVENTS_TOPIC,
    PARAMETER_SERVICES,
    PUBLISH,
    REPLY,
    REQUEST,
    ROSOUT_TOPIC,
    SERVICE,
    SUBSCRIBE,
    TOPIC,
    TYPE_DESCRIPTION_SERVICE,
    Endpoint,
    node_endpoints,
)
from marlgpt_planner.fleet_config import FleetDescription
from marlgpt_planner.ros.qos import FLEET_QOS
from marlgpt_sim.fleet_runner import FleetRun, StepWatcher
from tests.conftest import REPO

PACKAGE = REPO / "ros2_ws" / "src" / "marlgpt_planner"
ROBOTS = ("robot1", "robot2")
NODE = "marlgpt_planner"


def implicit(robot: str) -> Set[Endpoint]:
    """What every rclpy node creates, named: the planner's policy grants these beside what
    the planner itself uses (the type description service exists from Iron on: Kilted
    here; Humble's rclpy has the rest)."""
    return ({Endpoint(TOPIC, PUBLISH, ROSOUT_TOPIC),
             Endpoint(TOPIC, PUBLISH, PARAMETER_EVENTS_TOPIC)}
            | {Endpoint(SERVICE, REPLY, f"/{robot}/{NODE}/{name}")
               for name in PARAMETER_SERVICES + (TYPE_DESCRIPTION_SERVICE,)})

TIMEOUT_S = 60.0  # bounds a failure; the test waits for events (about 10 s here)


def graph_endpoints(node, robot: str) -> Set[Endpoint]:
    """The planner of ``robot`` as the ROS graph shows it; an action client's hidden services
    and topics (``NAME/_action/...``) folded into one ``call`` of the action."""
    ns = "/" + robot
    found = {Endpoint(TOPIC, PUBLISH, n) for n, _ in
             node.get_publisher_names_and_types_by_node(NODE, ns)}
    found |= {Endpoint(TOPIC, SUBSCRIBE, n) for n, _ in
              node.get_subscriber_names_and_types_by_node(NODE, ns)}
    found |= {Endpoint(SERVICE, REPLY, n) for n, _ in
              node.get_service_names_and_types_by_node(NODE, ns)}
    found |= {Endpoint(SERVICE, REQUEST, n) for n, _ in
              node.get_client_names_and_types_by_node(NODE, ns)}
    actions = [n for n, _ in rclpy.action.get_action_client_names_and_types_by_node(
        node, NODE, ns)]
    assert not rclpy.action.get_action_server_names_and_types_by_node(node, NODE, ns)
    for action in actions:
        parts = set()
        for dds_direction, dds in sp.dds_topics(Endpoint(ACTION, CALL, action)):
            if dds.startswith("rt"):
                parts.add(Endpoint(TOPIC, SUBSCRIBE, dds[2:]))
            elif dds_direction == PUBLISH:  # the request side of a service client
                parts.add(Endpoint(SERVICE, REQUEST, dds[2:-len("Request")]))
        assert parts <= found, f"{action}: the graph lacks {parts - found}"
        found = (found - parts) | {Endpoint(ACTION, CALL, action)}
    return found


def settled_graphs(watcher, node, robots) -> dict:
    """Each planner's endpoints once the ROS graph shows them all: the node's entry can lag
    its topics in discovery (introspection then fails, or shows part of it) on a loaded
    machine, so read until two reads half a second apart agree."""
    deadline = time.monotonic() + TIMEOUT_S
    last = None
    while True:
        try:
            graphs = {robot: graph_endpoints(node, robot) for robot in robots}
        except Exception as exc:  # noqa: BLE001  (rclpy's NodeNameNonExistentError)
            if type(exc).__name__ != "NodeNameNonExistentError":
                raise
            graphs = None
        if graphs is not None and graphs == last:
            return graphs
        assert time.monotonic() < deadline, "the planners' endpoints never settled in the graph"
        last = graphs
        watcher.spin(0.5)


def test_every_endpoint_of_a_running_planner_is_granted_and_nothing_more(
        tmp_path: Path, ros_env, monkeypatch) -> None:
    monkeypatch.setenv("ROS_DOMAIN_ID", ros_env["ROS_DOMAIN_ID"])
    monkeypatch.setenv("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    description = tmp_path / "fleet.yaml"
    description.write_text(yaml.safe_dump({
        "map": str(PACKAGE / "config" / "maps" / "maze_17x17.txt"),
        "model": str(PACKAGE / "models" / "marlgpt.onnx"), "origin": [0.0, 5.1],
        "robots": len(ROBOTS), "goals": "generator",
        "planner": {"nav.step_timeout": 10.0, "tick_rate": 20.0}}))
    fleet = FleetDescription.load(description)
    assert tuple(fleet.ids) == ROBOTS
    policy = sp.fleet_policy(fleet, sim="loopback")
    assert sp.check_policy(policy, fleet, sim="loopback") == []
    enclaves = {e.path: e for e in sp.parse_policy(policy)}

    run = FleetRun(fleet, tmp_path / "run", sim="loopback",
                   sim_params={"motion.time": 0.05, "motion.jitter": 0.3}, env=ros_env)
    watcher = StepWatcher()
    node = watcher.node
    spoof = node.create_publisher(RobotState, "/fleet/state/robot1", FLEET_QOS)
    started = time.monotonic()
    run.start()
    try:
        # The fleet takes steps over the per-robot state topics; a state of robot2 sent on
        # robot1's topic is no real robot's: both planners drop it and say so.
        line = "ignored a state of 'robot2' on /fleet/state/robot1"
        while watcher.last < 2 or not all(line in run.log(r) for r in ROBOTS):
            if watcher.last >= 1:
                spoof.publish(RobotState(robot_id="robot2", step=watcher.last))
            watcher.spin(0.1)
            assert all(run.alive().values()) and time.monotonic() - started < TIMEOUT_S, (
                f"at step {watcher.last} after {time.monotonic() - started:.0f} s:\n"
                + "\n".join(f"== {k}\n{run.log(k)[-1500:]}" for k in run.processes))
        graphs = settled_graphs(watcher, node, ROBOTS)
    finally:
        run.stop()
        watcher.close()
    assert watcher.last >= 2

    for robot in ROBOTS:
        found = graphs[robot]
        enclave = enclaves[f"/marlgpt/{robot}"]
        permissions = sp.Permissions(enclave)
        denied = sorted(e for e in found if not permissions.allows(e))
        assert denied == [], f"{robot}: the policy denies what the planner uses: {denied}"
        every_node = implicit(robot)
        assert every_node == set(node_endpoints("/" + robot, NODE))
        assert every_node <= found, every_node - found  # each one named above really exists
        (planner,) = [p for p in enclave.profiles if p.node == NODE]
        unused = sorted(set(planner.grants) - found)
        assert unused == [], f"{robot}: the planner's profile grants what it does not use"
        assert set(planner.grants) - every_node == found - every_node
        # Its own state to publish, every robot's to read, its own Nav2 to call.
        assert Endpoint(TOPIC, PUBLISH, f"/fleet/state/{robot}") in found
        assert {e.name for e in found if e.kind == TOPIC and e.direction == PUBLISH
                and e.name.startswith("/fleet/state/")} == {f"/fleet/state/{robot}"}
        assert {Endpoint(TOPIC, SUBSCRIBE, f"/fleet/state/{r}") for r in ROBOTS} <= found
        assert [e for e in found if e.kind == ACTION] == [
            Endpoint(ACTION, CALL, f"/{robot}/navigate_to_pose")]
