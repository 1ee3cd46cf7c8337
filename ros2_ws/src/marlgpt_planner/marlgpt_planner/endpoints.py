"""Every name the planner node uses on the ROS graph, from its parameters (no ROS).

The node creates its publishers, subscriptions, services and action clients under the names
these functions give (``ros/node.py``, ``ros/pose_input.py``, ``ros/goal_input.py``), and the
fleet's DDS-Security policy (:mod:`~marlgpt_planner.security_policy`) grants exactly the
endpoints :func:`planner_endpoints` lists, so the two cannot drift apart;
``tests/ros/test_security_live.py`` compares them with a running node's graph.

Names resolve as rcl resolves them: an absolute name stays, a relative one goes into the
node's namespace; a robot's own names (``robot_topic``) go into the robot's namespace.
"""
from typing import Any, Dict, List, NamedTuple, Sequence

TOPIC, SERVICE, ACTION = "topic", "service", "action"
#: The directions of each kind, as the SROS2 policy names them (its attributes).
PUBLISH, SUBSCRIBE = "publish", "subscribe"
REPLY, REQUEST = "reply", "request"
CALL, EXECUTE = "call", "execute"
DIRECTIONS = {TOPIC: (PUBLISH, SUBSCRIBE), SERVICE: (REPLY, REQUEST), ACTION: (CALL, EXECUTE)}

#: A robot's goal inputs and its goal service, in its namespace (ros/goal_input.py).
GOAL_TOPIC = "marlgpt/goal"
GOAL_POSE_TOPIC = "marlgpt/goal_pose"
SET_GOAL_SERVICE = "set_goal"
DIAGNOSTICS_TOPIC = "/diagnostics"
#: The pose topic of each topic source, when pose.topic is empty (ros/pose_input.py).
POSE_TOPICS = {"amcl": "amcl_pose", "slam": "pose", "topic": "pose"}

#: What rcl and rclpy create for every node, whatever it does: the log topic, parameter
#: events, the parameter services (``~/NAME``: in the node's own name) and, from ROS 2 Iron
#: on, the type description service (Humble has none; the policy grants it so that it also
#: fits later distributions). A node with ``use_sim_time`` subscribes ``/clock`` as well.
ROSOUT_TOPIC = "/rosout"
PARAMETER_EVENTS_TOPIC = "/parameter_events"
PARAMETER_SERVICES = ("describe_parameters", "get_parameter_types", "get_parameters",
                      "list_parameters", "set_parameters", "set_parameters_atomically")
TYPE_DESCRIPTION_SERVICE = "get_type_description"


class Endpoint(NamedTuple):
    """One endpoint: its kind (topic, service, action), direction (publish/subscribe,
    reply/request, call/execute) and fully qualified name."""

    kind: str
    direction: str
    name: str


def resolve(name: str, namespace: str = "/") -> str:
    """``name`` fully qualified: absolute as it is, relative inside ``namespace``."""
    if name.startswith("/"):
        return name
    return "/" + "/".join(part for part in (namespace.strip("/"), name) if part)


def robot_topic(robot: str, name: str) -> str:
    """``name`` in the robot's namespace, unless it is absolute."""
    return name if name.startswith("/") else f"/{robot}/{name}"


def state_topic(params: Dict[str, Any], robot: str) -> str:
    """The topic of one robot's states: ``fleet_protocol.state_topic`` (a prefix) + the id."""
    return f"{params['fleet_protocol.state_topic'].rstrip('/')}/{robot}"


def pose_topics(params: Dict[str, Any], robot: str) -> List[str]:
    """The topics one robot's pose comes from, as ``pose.source`` says: TF (``tf``,
    ``slam``), then the pose topic (every source but ``tf``)."""
    source, topics = params["pose.source"], []
    if source in ("tf", "slam"):
        topics += [robot_topic(robot, params["pose.tf_topic"]),
                   robot_topic(robot, params["pose.tf_static_topic"])]
    if source != "tf":
        topics.append(robot_topic(robot, params["pose.topic"] or POSE_TOPICS[source]))
    return topics


def planner_endpoints(params: Dict[str, Any], robots: Sequence[str], fleet: Sequence[str],
                      namespace: str = "/") -> List[Endpoint]:
    """What a planner node driving ``robots`` in ``fleet`` uses, with validated parameters
    ``params``, fully qualified (``namespace``: the node's), without the endpoints every node
    has (:func:`node_endpoints`): it publishes its robots' states, the fleet's steps, markers
    and diagnostics; subscribes every robot's states, the steps, the map (``map.source:
    topic``), its robots' poses and goal topics; serves their ``set_goal``; calls their Nav2
    ``navigate_to_pose`` (``nav.action``)."""
    p = params
    wanted = [(TOPIC, PUBLISH, state_topic(p, r)) for r in robots]
    wanted += [(TOPIC, PUBLISH, p["fleet_protocol.step_topic"]),
               (TOPIC, PUBLISH, p["markers_topic"]), (TOPIC, PUBLISH, DIAGNOSTICS_TOPIC)]
    wanted += [(TOPIC, SUBSCRIBE, state_topic(p, r)) for r in fleet]
    wanted.append((TOPIC, SUBSCRIBE, p["fleet_protocol.step_topic"]))
    if p["fleet_protocol.resolution"] == "central":
        wanted.append((TOPIC, SUBSCRIBE, p["fleet_protocol.plan_topic"]))
    if p["map.source"] == "topic":
        wanted.append((TOPIC, SUBSCRIBE, p["map.topic"]))
    for robot in robots:
        wanted += [(TOPIC, SUBSCRIBE, name) for name in pose_topics(p, robot)]
        wanted += [(TOPIC, SUBSCRIBE, robot_topic(robot, GOAL_TOPIC)),
                   (TOPIC, SUBSCRIBE, robot_topic(robot, GOAL_POSE_TOPIC)),
                   (SERVICE, REPLY, robot_topic(robot, SET_GOAL_SERVICE)),
                   (ACTION, CALL, robot_topic(robot, p["nav.action"]))]
    return _unique(Endpoint(kind, direction, resolve(name, namespace))
                   for kind, direction, name in wanted)


def coordinator_endpoints(params: Dict[str, Any], namespace: str = "/") -> List[Endpoint]:
    """What the fleet coordinator (``ros/coordinator.py``) uses, with its validated
    parameters, besides what every node has: every robot's states, the step topic and the map
    (``map.source: topic``) to read, the plans to publish."""
    p = params
    wanted = [(TOPIC, SUBSCRIBE, state_topic(p, r)) for r in p["fleet"]]
    wanted += [(TOPIC, SUBSCRIBE, p["fleet_protocol.step_topic"]),
               (TOPIC, PUBLISH, p["fleet_protocol.plan_topic"])]
    if p["map.source"] == "topic":
        wanted.append((TOPIC, SUBSCRIBE, p["map.topic"]))
    return _unique(Endpoint(kind, direction, resolve(name, namespace))
                   for kind, direction, name in wanted)


def node_endpoints(namespace: str, node: str) -> List[Endpoint]:
    """The endpoints rcl and rclpy create for every node named ``node`` in ``namespace``
    (see :data:`ROSOUT_TOPIC` and the names after it)."""
    own = resolve(node, namespace)
    return ([Endpoint(TOPIC, PUBLISH, ROSOUT_TOPIC),
             Endpoint(TOPIC, PUBLISH, PARAMETER_EVENTS_TOPIC)]
            + [Endpoint(SERVICE, REPLY, f"{own}/{name}")
               for name in PARAMETER_SERVICES + (TYPE_DESCRIPTION_SERVICE,)])


def _unique(endpoints) -> List[Endpoint]:
    seen: Dict[Endpoint, None] = {}
    for endpoint in endpoints:
        seen.setdefault(endpoint, None)
    return list(seen)
