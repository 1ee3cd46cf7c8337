"""The fleet's SROS2 (DDS-Security) policy, made from its fleet description (docs/security.md).

    python3 -m marlgpt_planner.security_policy --fleet FLEET.yaml --out policy.xml
    python3 -m marlgpt_planner.security_policy --fleet FLEET.yaml --check policy.xml

The policy is SROS2's XML (``<policy version="0.2.0">``, sros2's ``policy.xsd``) with one
enclave per robot (``/marlgpt/ROBOT``), a read-only one for a laptop (``/marlgpt/monitor``)
and, for a fleet under the central resolution, one for the fleet computer's coordinator
(``/marlgpt/coordinator``: the endpoints of
:func:`~marlgpt_planner.endpoints.coordinator_endpoints`, exactly). In a robot's enclave:

- the planner's profile grants exactly what the planner node uses: the endpoints of
  :func:`~marlgpt_planner.endpoints.planner_endpoints`, from the same parameters the node is
  started with (the fleet description's node specification), and those every rclpy node has
  (:func:`~marlgpt_planner.endpoints.node_endpoints`): its own state topic and the step topic
  to publish, every robot's state topic to read, its own ``navigate_to_pose`` to call;
- the profile of the robot's other nodes (Nav2, AMCL, drivers, robot_state_publisher) grants
  everything inside the robot's namespace (``/ROBOT/*``) and what every node needs outside
  it (``/rosout``, ``/parameter_events``, ``/clock``), and ``/diagnostics`` to publish.

``ros2 security generate_artifacts -k KEYSTORE -p policy.xml`` (scripts/fleet_keystore.sh)
turns it into each enclave's signed permissions. :func:`check_policy` reads a policy as
Fast DDS will enforce it (names expanded as sros2's ``permissions.xsl`` expands them, ROS
names mapped to DDS topics, ``fnmatch`` patterns, deny before allow) and lists every way it
departs from the fleet's: a missing grant, a grant beyond the planner's endpoints, anything
that reaches into another robot's namespace or publishes another robot's state, a monitor
that could write. Standard library only (the fleet description is loaded by the caller).
"""
import argparse
import fnmatch
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Dict, Iterable, List, NamedTuple, Optional, Sequence, Set, Tuple
from xml.sax.saxutils import escape, quoteattr

from marlgpt_planner.endpoints import (
    ACTION,
    CALL,
    DIAGNOSTICS_TOPIC,
    DIRECTIONS,
    PARAMETER_EVENTS_TOPIC,
    PUBLISH,
    REPLY,
    REQUEST,
    ROSOUT_TOPIC,
    SERVICE,
    SUBSCRIBE,
    TOPIC,
    Endpoint,
    coordinator_endpoints,
    node_endpoints,
    planner_endpoints,
    resolve,
    state_topic,
)
from marlgpt_planner.parameters import COORDINATOR_PARAMETERS, robots_and_fleet, validate

POLICY_VERSION = "0.2.0"
ENCLAVE_ROOT = "/marlgpt"
MONITOR = "monitor"
MONITOR_ENCLAVE = f"{ENCLAVE_ROOT}/{MONITOR}"
COORDINATOR = "coordinator"
COORDINATOR_ENCLAVE = f"{ENCLAVE_ROOT}/{COORDINATOR}"
COORDINATOR_MODULE = "marlgpt_planner.ros.coordinator"
#: The profile ``node`` of every node but the planner: only ``~`` names read it, and these
#: profiles have none.
ANY_NODE = "*"
CLOCK_TOPIC = "/clock"
PLANNER_MODULE = "marlgpt_planner.ros.node"
#: The element of each kind in a profile, and of its names.
ELEMENTS = {TOPIC: ("topics", "topic"), SERVICE: ("services", "service"),
            ACTION: ("actions", "action")}
ALLOW, DENY = "ALLOW", "DENY"
_ROBOT_ID = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


class PolicyError(ValueError):
    """A policy that cannot be read, or a fleet that cannot have one."""


class Profile(NamedTuple):
    """A profile of an enclave: the namespace and node its relative and ``~`` names are in,
    and its grants (names as the policy writes them)."""

    ns: str
    node: str
    grants: Tuple[Endpoint, ...]


class Enclave(NamedTuple):
    path: str
    profiles: Tuple[Profile, ...]
    #: (qualifier, kind, direction, name) of every grant, including DENY ones
    rules: Tuple[Tuple[str, str, str, str], ...] = ()


def robot_enclave(robot: str) -> str:
    return f"{ENCLAVE_ROOT}/{robot}"


# --- the fleet's policy -------------------------------------------------------------------------
def planner_specs(fleet, sim: str = "none") -> Dict[str, object]:
    """Each robot's planner node specification (``fleet.nodes(sim)``: what the launch files
    and the fleet runner start; ``none``, real robots, by default), by robot."""
    specs = {spec.namespace: spec for spec in fleet.nodes(sim) if spec.module == PLANNER_MODULE}
    for robot in fleet.ids:
        if not _ROBOT_ID.fullmatch(robot) or robot in (MONITOR, COORDINATOR):
            raise PolicyError(f"robot id {robot!r} cannot name an enclave: it must be a letter "
                              f"then letters, digits or _, and not {MONITOR!r} or "
                              f"{COORDINATOR!r}")
        if robot not in specs:
            raise PolicyError(f"no planner for {robot} in the fleet's nodes")
    return specs


def planner_profile(spec) -> Profile:
    """The planner's grants: what it uses, from the parameters it is started with."""
    params = validate(dict(spec.parameters))
    namespace = "/" + spec.namespace.strip("/")
    robots, fleet = robots_and_fleet(params, namespace)
    grants = planner_endpoints(params, robots, fleet, namespace) + node_endpoints(namespace,
                                                                                  spec.name)
    return Profile(namespace, spec.name, tuple(grants))


def coordinator_profile(fleet, sim: str = "none") -> Optional[Profile]:
    """The fleet coordinator's grants (None: the fleet has none), from the parameters it is
    started with."""
    specs = [spec for spec in fleet.nodes(sim) if spec.module == COORDINATOR_MODULE]
    if not specs:
        return None
    spec = specs[0]
    params = validate(dict(spec.parameters), COORDINATOR_PARAMETERS)
    namespace = "/" + spec.namespace.strip("/")
    return Profile(namespace, spec.name, tuple(coordinator_endpoints(params, namespace)
                                               + node_endpoints(namespace, spec.name)))


def stack_profile(robot: str) -> Profile:
    """The robot's other nodes: everything in its namespace, what every node needs, and
    ``/diagnostics`` (drivers report there, as jetbot_base does)."""
    own = f"/{robot}/*"
    grants = [Endpoint(kind, direction, own) for kind in (TOPIC, SERVICE, ACTION)
              for direction in DIRECTIONS[kind]]
    grants += [Endpoint(TOPIC, PUBLISH, ROSOUT_TOPIC),
               Endpoint(TOPIC, PUBLISH, PARAMETER_EVENTS_TOPIC),
               Endpoint(TOPIC, SUBSCRIBE, PARAMETER_EVENTS_TOPIC),
               Endpoint(TOPIC, SUBSCRIBE, CLOCK_TOPIC),
               Endpoint(TOPIC, PUBLISH, DIAGNOSTICS_TOPIC)]
    return Profile(f"/{robot}", ANY_NODE, tuple(grants))


def monitor_profile(planners: Iterable[Profile]) -> Profile:
    """A laptop's tools (``ros2 topic echo``, ``ros2 service call``): read every topic the
    planners publish, call the services they serve (``set_goal``); nothing else but the log
    and parameter events every node writes."""
    grants = [Endpoint(TOPIC, PUBLISH, ROSOUT_TOPIC),
              Endpoint(TOPIC, PUBLISH, PARAMETER_EVENTS_TOPIC)]
    for profile in planners:
        implicit = set(node_endpoints(profile.ns, profile.node))
        for grant in profile.grants:
            if grant in implicit:
                continue
            if grant.kind == TOPIC and grant.direction == PUBLISH:
                grants.append(Endpoint(TOPIC, SUBSCRIBE, grant.name))
            elif grant.kind == SERVICE and grant.direction == REPLY:
                grants.append(Endpoint(SERVICE, REQUEST, grant.name))
    return Profile("/", ANY_NODE, tuple(dict.fromkeys(grants)))


def fleet_enclaves(fleet, sim: str = "none") -> List[Enclave]:
    """The fleet's enclaves: one per robot (its planner and its other nodes), the monitor."""
    specs = planner_specs(fleet, sim)
    planners = {robot: planner_profile(specs[robot]) for robot in fleet.ids}
    enclaves = [Enclave(robot_enclave(robot), (planners[robot], stack_profile(robot)))
                for robot in fleet.ids]
    coordinator = coordinator_profile(fleet, sim)
    publishers = list(planners.values())
    if coordinator is not None:
        enclaves.append(Enclave(COORDINATOR_ENCLAVE, (coordinator,)))
        publishers.append(coordinator)
    enclaves.append(Enclave(MONITOR_ENCLAVE, (monitor_profile(publishers),)))
    return enclaves


def render(enclaves: Sequence[Enclave], source: str = "") -> str:
    """The policy XML of ``enclaves`` (grants of one name and kind merged into one element)."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>']
    if source:
        lines.append(f"<!-- The marlgpt fleet's SROS2 policy, made from {escape(source)} by "
                     "python3 -m marlgpt_planner.security_policy; make it again, do not edit "
                     "(docs/security.md). -->")
    lines += [f'<policy version="{POLICY_VERSION}">', "  <enclaves>"]
    for enclave in enclaves:
        lines += [f"    <enclave path={quoteattr(enclave.path)}>", "      <profiles>"]
        for profile in enclave.profiles:
            lines.append(f"        <profile ns={quoteattr(profile.ns)} "
                         f"node={quoteattr(profile.node)}>")
            for kind, directions, names in _groups(profile.grants):
                element, item = ELEMENTS[kind]
                qualifiers = " ".join(f'{d}="{ALLOW}"' for d in directions)
                lines.append(f"          <{element} {qualifiers}>")
                lines += [f"            <{item}>{escape(name)}</{item}>" for name in names]
                lines.append(f"          </{element}>")
            lines.append("        </profile>")
        lines += ["      </profiles>", "    </enclave>"]
    lines += ["  </enclaves>", "</policy>", ""]
    return "\n".join(lines)


def _groups(grants: Sequence[Endpoint]) -> List[Tuple[str, Tuple[str, ...], List[str]]]:
    """(kind, directions, names): names granted the same directions, in first-seen order."""
    directions: Dict[Tuple[str, str], List[str]] = {}
    for grant in grants:
        seen = directions.setdefault((grant.kind, grant.name), [])
        if grant.direction not in seen:
            seen.append(grant.direction)
    groups: Dict[Tuple[str, Tuple[str, ...]], List[str]] = {}
    for (kind, name), granted in directions.items():
        order = tuple(d for d in DIRECTIONS[kind] if d in granted)
        groups.setdefault((kind, order), []).append(name)
    return [(kind, order, names) for (kind, order), names in groups.items()]


def fleet_policy(fleet, sim: str = "none", source: str = "") -> str:
    """The fleet's policy XML (see the module doc)."""
    return render(fleet_enclaves(fleet, sim), source)


# --- reading a policy as Fast DDS enforces it ---------------------------------------------------
def parse_policy(text: str) -> List[Enclave]:
    """A policy's enclaves with their profiles and rules, names expanded as sros2's
    permissions.xsl expands them; raises :class:`PolicyError` naming what is malformed."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise PolicyError(f"not well-formed XML: {exc}") from None
    if root.tag != "policy" or root.get("version") != POLICY_VERSION:
        raise PolicyError(f'the root must be <policy version="{POLICY_VERSION}">')
    if [child.tag for child in root] != ["enclaves"]:
        raise PolicyError("<policy> must hold exactly one <enclaves>")
    enclaves = []
    for element in root[0]:
        if element.tag != "enclave" or not element.get("path", "").startswith("/"):
            raise PolicyError("<enclaves> may hold only <enclave path=\"/...\">")
        profiles, rules = [], []
        for group in element:
            if group.tag != "profiles":
                raise PolicyError(f"{element.get('path')}: <{group.tag}> is no <profiles>")
            for item in group:
                if item.tag == "metadata":
                    continue
                profile, profile_rules = _parse_profile(element.get("path"), item)
                profiles.append(profile)
                rules += profile_rules
        if not profiles:
            raise PolicyError(f"{element.get('path')}: no profile")
        enclaves.append(Enclave(element.get("path"), tuple(profiles), tuple(rules)))
    return enclaves


def _parse_profile(path: str, item) -> Tuple[Profile, List[Tuple[str, str, str, str]]]:
    if item.tag != "profile" or item.get("ns") is None or item.get("node") is None:
        raise PolicyError(f"{path}: <{item.tag}> is no <profile ns=... node=...>")
    ns, node = item.get("ns"), item.get("node")
    kinds = {element: (kind, name) for kind, (element, name) in ELEMENTS.items()}
    grants, rules = [], []
    for block in item:
        if block.tag not in kinds:
            raise PolicyError(f"{path}: <{block.tag}> in a profile")
        kind, name_tag = kinds[block.tag]
        unknown = set(block.attrib) - set(DIRECTIONS[kind])
        bad = [q for q in block.attrib.values() if q not in (ALLOW, DENY)]
        if unknown or bad or not block.attrib:
            raise PolicyError(f"{path}: <{block.tag}> takes {' and/or '.join(DIRECTIONS[kind])}"
                              f" set to {ALLOW} or {DENY}, got {dict(block.attrib)}")
        for entry in block:
            if entry.tag != name_tag or not (entry.text or "").strip():
                raise PolicyError(f"{path}: <{block.tag}> holds <{entry.tag}>, not a "
                                  f"<{name_tag}> name")
            name = expand(entry.text.strip(), ns, node)
            for direction, qualifier in block.attrib.items():
                rules.append((qualifier, kind, direction, name))
                if qualifier == ALLOW:
                    grants.append(Endpoint(kind, direction, name))
    return Profile(ns, node, tuple(grants)), rules


def expand(name: str, ns: str, node: str) -> str:
    """A policy name fully qualified as sros2 does it: absolute as it is, ``~NAME`` after the
    profile's namespace and node, anything else after its namespace."""
    prefix = ns if ns.endswith("/") else ns + "/"
    if name.startswith("/"):
        return name
    if name.startswith("~"):
        return prefix + node + name[1:]
    return prefix + name


#: The DDS topics of an action, after its name (ROS 2's mapping, as sros2 writes them).
_ACTION_SERVICES = ("cancel_goal", "get_result", "send_goal")
_ACTION_TOPICS = ("feedback", "status")


def dds_topics(endpoint: Endpoint) -> List[Tuple[str, str]]:
    """(publish or subscribe, DDS topic) of everything a ROS endpoint needs: ``rt`` + a
    topic, ``rq``/``rr`` + a service + ``Request``/``Reply``, an action's three services and
    two topics."""
    name = endpoint.name
    if endpoint.kind == TOPIC:
        return [(endpoint.direction, "rt" + name)]
    if endpoint.kind == SERVICE:
        request, reply = f"rq{name}Request", f"rr{name}Reply"
        if endpoint.direction == REPLY:
            return [(PUBLISH, reply), (SUBSCRIBE, request)]
        return [(PUBLISH, request), (SUBSCRIBE, reply)]
    requests = [f"rq{name}/_action/{s}Request" for s in _ACTION_SERVICES]
    replies = [f"rr{name}/_action/{s}Reply" for s in _ACTION_SERVICES]
    topics = [f"rt{name}/_action/{t}" for t in _ACTION_TOPICS]
    if endpoint.direction == CALL:
        return [(PUBLISH, t) for t in requests] + [(SUBSCRIBE, t) for t in replies + topics]
    return [(PUBLISH, t) for t in replies + topics] + [(SUBSCRIBE, t) for t in requests]


class Permissions:
    """An enclave's DDS rules: deny rules first (sros2 writes them first), then allow rules,
    the first that matches a topic decides, nothing matches: denied; topic patterns match as
    Fast DDS matches them (``fnmatch``, ``*`` across ``/``)."""

    def __init__(self, enclave: Enclave) -> None:
        self.rules: Dict[str, List[Tuple[str, str]]] = {PUBLISH: [], SUBSCRIBE: []}
        for qualifier in (DENY, ALLOW):
            for rule_qualifier, kind, direction, name in enclave.rules:
                if rule_qualifier == qualifier:
                    for dds_direction, pattern in dds_topics(Endpoint(kind, direction, name)):
                        self.rules[dds_direction].append((qualifier, pattern))

    def allows_topic(self, direction: str, topic: str) -> bool:
        for qualifier, pattern in self.rules[direction]:
            if fnmatch.fnmatchcase(topic, pattern):
                return qualifier == ALLOW
        return False

    def allows(self, endpoint: Endpoint) -> bool:
        return all(self.allows_topic(d, t) for d, t in dds_topics(endpoint))

    def allowed_patterns(self, direction: str) -> List[str]:
        return [pattern for qualifier, pattern in self.rules[direction] if qualifier == ALLOW]


def reaches(pattern: str, prefix: str) -> bool:
    """Whether the ``fnmatch`` pattern matches some name that starts with ``prefix`` (run
    as a glob automaton over ``prefix``: any state left alive can be completed)."""
    tokens, i = [], 0
    while i < len(pattern):
        end = -1
        if pattern[i] == "[":  # a set, as fnmatch reads it: [!...], a leading ] is a member
            start = i + 1 + (pattern[i + 1:i + 2] == "!")
            end = pattern.find("]", start + (pattern[start:start + 1] == "]"))
        tokens.append(pattern[i:end + 1] if end > 0 else pattern[i])
        i = end + 1 if end > 0 else i + 1

    def closure(states: Set[int]) -> Set[int]:
        out, todo = set(states), list(states)
        while todo:
            state = todo.pop()
            if state < len(tokens) and tokens[state] == "*" and state + 1 not in out:
                out.add(state + 1)
                todo.append(state + 1)
        return out

    states = closure({0})
    for char in prefix:
        moved = set()
        for state in states:
            if state == len(tokens):
                continue
            token = tokens[state]
            if token == "*":
                moved.add(state)
            elif token == "?" or (len(token) > 1 and fnmatch.fnmatchcase(char, token)) \
                    or token == char:
                moved.add(state + 1)
        states = closure(moved)
        if not states:
            return False
    return True


# --- the check ----------------------------------------------------------------------------------
def check_policy(text: str, fleet, sim: str = "none") -> List[str]:
    """Every way the policy ``text`` departs from the fleet's (an empty list: none): see the
    module doc."""
    try:
        found = {enclave.path: enclave for enclave in parse_policy(text)}
    except PolicyError as exc:
        return [str(exc)]
    wanted = {enclave.path: enclave for enclave in fleet_enclaves(fleet, sim)}
    problems = [f"enclave {path} is missing" for path in wanted if path not in found]
    problems += [f"enclave {path} is not one of the fleet's" for path in found
                 if path not in wanted]
    for robot, spec in planner_specs(fleet, sim).items():
        path = robot_enclave(robot)
        if path in found:
            params = validate(dict(spec.parameters))
            own_state = resolve(state_topic(params, robot), "/" + spec.namespace)
            problems += _check_robot(found[path], wanted[path], robot, fleet.ids, own_state)
    if MONITOR_ENCLAVE in found:
        problems += _check_monitor(found[MONITOR_ENCLAVE], wanted[MONITOR_ENCLAVE])
    if COORDINATOR_ENCLAVE in found and COORDINATOR_ENCLAVE in wanted:
        (profile,) = wanted[COORDINATOR_ENCLAVE].profiles
        problems += _exact(found[COORDINATOR_ENCLAVE], profile, "the coordinator's profile",
                           "which the coordinator does not use")
    return problems


def _check_robot(enclave: Enclave, wanted: Enclave, robot: str, ids: Sequence[str],
                 own_state: str) -> List[str]:
    """The planner's endpoints and the other nodes' namespace granted, the profiles exactly
    the fleet's, nothing in another robot's namespace, no state topic but the robot's own to
    publish (``own_state``: its name)."""
    planner, stack = wanted.profiles
    permissions = Permissions(enclave)
    problems = [f"{enclave.path}: denies {grant.kind} {grant.direction} {grant.name}, which "
                "the planner uses" for grant in planner.grants if not permissions.allows(grant)]
    # The robot's other nodes, anywhere in its namespace.
    problems += [f"{enclave.path}: denies {grant.kind} {grant.direction} {grant.name} to the "
                 "robot's other nodes" for grant in stack.grants
                 if not permissions.allows(grant._replace(name=grant.name.replace("*", "x/y")))]
    problems += _exact(enclave, planner, "the planner's profile", "which the planner does not use")
    problems += _exact(enclave, stack, "the profile of the robot's other nodes",
                       "beyond its namespace and what every node needs")
    for direction in (PUBLISH, SUBSCRIBE):
        for pattern in permissions.allowed_patterns(direction):
            for other in ids:
                if other != robot and any(reaches(pattern, f"{kind}/{other}/")
                                          for kind in ("rt", "rq", "rr")):
                    problems.append(f"{enclave.path}: grants {direction} {pattern}, in "
                                    f"{other}'s namespace")
    states = "rt" + own_state[:-len(robot)]  # every robot's state topic starts so
    problems += [f"{enclave.path}: grants publish {pattern}: states of robots other than "
                 f"{robot}" for pattern in permissions.allowed_patterns(PUBLISH)
                 if pattern != "rt" + own_state and reaches(pattern, states)]
    return problems


def _check_monitor(enclave: Enclave, wanted: Enclave) -> List[str]:
    """The monitor's grants allowed, and no other DDS topic to publish or read."""
    permissions = Permissions(enclave)
    (profile,) = wanted.profiles
    problems = [f"{enclave.path}: denies {g.kind} {g.direction} {g.name}"
                for g in profile.grants if not permissions.allows(g)]
    expected = Permissions(Enclave(wanted.path, wanted.profiles,
                                   tuple((ALLOW,) + tuple(g) for g in profile.grants)))
    for direction in (PUBLISH, SUBSCRIBE):
        extra = set(permissions.allowed_patterns(direction)) - set(
            expected.allowed_patterns(direction))
        problems += [f"{enclave.path}: grants {direction} {pattern}; the monitor only reads the "
                     "planners' topics and calls their services" for pattern in sorted(extra)]
    return problems


def _exact(enclave: Enclave, wanted: Profile, what: str, beyond: str) -> List[str]:
    found = [p for p in enclave.profiles if (p.ns, p.node) == (wanted.ns, wanted.node)]
    if not found:
        return [f"{enclave.path}: {what} (ns {wanted.ns}, node {wanted.node}) is missing"]
    granted = set(g for p in found for g in p.grants)
    expected = set(wanted.grants)
    return ([f"{enclave.path}: {what} lacks {g.kind} {g.direction} {g.name}"
             for g in wanted.grants if g not in granted]
            + [f"{enclave.path}: {what} grants {g.kind} {g.direction} {g.name}, {beyond}"
               for g in sorted(granted - expected)])


# --- command line -------------------------------------------------------------------------------
def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m marlgpt_planner.security_policy",
        description="Write (or check) the SROS2 policy of a fleet description: an enclave per "
                    f"robot ({ENCLAVE_ROOT}/ROBOT) and {MONITOR_ENCLAVE} (docs/security.md).")
    parser.add_argument("--fleet", required=True, help="the fleet description (YAML)")
    parser.add_argument("--out", help="write the policy here (default: standard output)")
    parser.add_argument("--check", metavar="POLICY", help="check this policy file instead")
    parser.add_argument("--sim", default="none", choices=("none", "gazebo", "loopback"),
                        help="whose planners: real robots and Gazebo (none, gazebo: their "
                             "planners read the maze as a static map) or the loopback "
                             "simulator's (the map from /map)")
    args = parser.parse_args(argv)
    from marlgpt_planner.fleet_config import FleetDescription, FleetError

    try:  # as robot_bringup.launch.py loads it (each planner draws its own goals)
        fleet = FleetDescription.load(args.fleet, goals=None if args.sim == "loopback"
                                      else "generator")
        if args.check:
            problems = check_policy(Path(args.check).read_text(), fleet, args.sim)
            for problem in problems:
                print(problem, file=sys.stderr)
            print(f"{args.check}: {'OK' if not problems else f'{len(problems)} problems'}",
                  file=sys.stderr)
            return 1 if problems else 0
        text = fleet_policy(fleet, args.sim, source=Path(args.fleet).name)
    except (FleetError, PolicyError, OSError, ValueError) as exc:
        print(f"security_policy: {exc}", file=sys.stderr)
        return 2
    if args.out:
        Path(args.out).write_text(text)
        print(f"wrote {args.out}: enclaves "
              + ", ".join(robot_enclave(r) for r in fleet.ids) + f", {MONITOR_ENCLAVE}"
              + (f", {COORDINATOR_ENCLAVE}" if fleet.central else ""), file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
