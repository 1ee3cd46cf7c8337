"""Run a launch file's Python without ROS 2 launch: what would it start?

``ros2 launch`` is not among ROS 2's Python wheels, so CI cannot run the launch files. This
module stands in for the small part of the launch API they use (launch, launch_ros,
nav2_common.launch, ament_index_python, xacro), evaluates ``generate_launch_description()``
with the given arguments, runs every OpaqueFunction, follows includes of this repository's
own launch files, takes every process to exit 0 (so what an OnProcessExit handler starts is
started too), and records each node with its namespace, parameters, remappings and
arguments. Other packages' launch files (nav2_bringup, gazebo_ros) are recorded, not run.
"""
import importlib.util
import os
import sys
import types
from pathlib import Path
from typing import Any, Dict, List, NamedTuple, Optional

from tests.conftest import REPO

OWN_LAUNCH_DIRS = (REPO / "launch", REPO / "ros2_ws" / "src" / "marlgpt_planner" / "launch")


class Started(NamedTuple):
    kind: str  # "node", "process", "include" or "env" (executable: the variable's name)
    package: str  # the node's package; the included file's path
    executable: str
    name: Optional[str]
    namespace: str
    parameters: List[Any]
    remappings: List[Any]
    arguments: List[Any]


class _Entity:
    def __init__(self, *args, **kwargs) -> None:
        self.args, self.kwargs = args, kwargs


class LaunchDescription(_Entity):
    pass


class DeclareLaunchArgument(_Entity):
    pass


class OpaqueFunction(_Entity):
    pass


class IncludeLaunchDescription(_Entity):
    pass


class PythonLaunchDescriptionSource(_Entity):
    pass


class GroupAction(_Entity):
    pass


class PushRosNamespace(_Entity):
    pass


class RegisterEventHandler(_Entity):
    pass


class OnProcessExit(_Entity):
    pass


class LogInfo(_Entity):
    pass


class TimerAction(_Entity):
    pass


class SetEnvironmentVariable(_Entity):
    pass


class ExecuteProcess(_Entity):
    pass


class Node(ExecuteProcess):
    pass


class RewrittenYaml(_Entity):
    """Records its source and rewrites (``.rewrites`` folds nested ones, innermost first)."""

    @property
    def rewrites(self) -> Dict[str, Any]:
        source = self.kwargs.get("source_file")
        inner = source.rewrites if isinstance(source, RewrittenYaml) else {}
        return dict(inner, **self.kwargs.get("param_rewrites", {}))


class ReplaceString(_Entity):
    pass


class LaunchConfiguration:
    def __init__(self, name: str) -> None:
        self.name = name

    def perform(self, context) -> Any:
        return context.launch_configurations[self.name]


class _Event(NamedTuple):
    returncode: int


class _Context:
    def __init__(self, configurations: Dict[str, Any]) -> None:
        self.launch_configurations = dict(configurations)


def _fake_modules(shares: Dict[str, str]) -> Dict[str, types.ModuleType]:
    def module(name: str, **names) -> types.ModuleType:
        made = types.ModuleType(name)
        made.__dict__.update(names)
        return made

    def share(package: str) -> str:
        if package not in shares:
            raise KeyError(f"dry launch: no share directory given for {package}")
        return shares[package]

    class _Xml:
        def __init__(self, path: str) -> None:
            self.text = Path(path).read_text()

        def toxml(self) -> str:
            return self.text

    return {
        "launch": module("launch", LaunchDescription=LaunchDescription),
        "launch.actions": module(
            "launch.actions", DeclareLaunchArgument=DeclareLaunchArgument,
            ExecuteProcess=ExecuteProcess, GroupAction=GroupAction,
            IncludeLaunchDescription=IncludeLaunchDescription, LogInfo=LogInfo,
            OpaqueFunction=OpaqueFunction, RegisterEventHandler=RegisterEventHandler,
            SetEnvironmentVariable=SetEnvironmentVariable, TimerAction=TimerAction),
        "launch.event_handlers": module("launch.event_handlers", OnProcessExit=OnProcessExit),
        "launch.launch_description_sources": module(
            "launch.launch_description_sources",
            PythonLaunchDescriptionSource=PythonLaunchDescriptionSource),
        "launch.substitutions": module("launch.substitutions",
                                       LaunchConfiguration=LaunchConfiguration),
        "launch_ros": module("launch_ros"),
        "launch_ros.actions": module("launch_ros.actions", Node=Node,
                                     PushRosNamespace=PushRosNamespace),
        "nav2_common": module("nav2_common"),
        "nav2_common.launch": module("nav2_common.launch", RewrittenYaml=RewrittenYaml,
                                     ReplaceString=ReplaceString),
        "ament_index_python": module("ament_index_python"),
        "ament_index_python.packages": module("ament_index_python.packages",
                                              get_package_share_directory=share),
        "xacro": module("xacro", process_file=lambda path, mappings=None: _Xml(path)),
    }


def _load(path: Path, shares: Dict[str, str]) -> types.ModuleType:
    saved = {name: sys.modules.get(name) for name in _fake_modules(shares)}
    sys.modules.update(_fake_modules(shares))
    try:
        spec = importlib.util.spec_from_file_location(f"dry_launch_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        for name, old in saved.items():
            if old is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = old


def _namespace(outer: str, inner: Optional[str]) -> str:
    if not inner:
        return outer
    if inner.startswith("/"):
        return inner
    return (outer.rstrip("/") + "/" + inner) if outer else "/" + inner


def dry_run(path: Path, arguments: Dict[str, Any], shares: Dict[str, str]) -> List[Started]:
    """What ``ros2 launch PATH`` with ``arguments`` would start, every process exiting 0."""
    started: List[Started] = []
    module = _load(Path(path), shares)
    description = module.generate_launch_description()
    configurations: Dict[str, Any] = {}
    for entity in description.args[0]:
        if isinstance(entity, DeclareLaunchArgument):
            name = entity.args[0] if entity.args else entity.kwargs["name"]
            configurations[name] = arguments.get(name, entity.kwargs.get("default_value"))
    unknown = set(arguments) - set(configurations)
    if unknown:
        raise ValueError(f"{Path(path).name}: undeclared launch arguments {sorted(unknown)}")
    context = _Context(configurations)
    _visit(description.args[0], context, "", started, shares)
    return started


def _visit(entities, context: _Context, namespace: str, started: List[Started],
           shares: Dict[str, str]) -> None:
    for entity in entities:
        if isinstance(entity, OpaqueFunction):
            _visit(entity.kwargs["function"](context) or [], context, namespace, started, shares)
        elif isinstance(entity, GroupAction):
            inner = namespace
            for action in entity.args[0]:
                if isinstance(action, PushRosNamespace):
                    inner = _namespace(inner, action.args[0])
            _visit([a for a in entity.args[0] if not isinstance(a, PushRosNamespace)],
                   context, inner, started, shares)
        elif isinstance(entity, IncludeLaunchDescription):
            source = entity.args[0].args[0]
            included = dict(entity.kwargs.get("launch_arguments", ()))
            if any(Path(source).parent == d for d in OWN_LAUNCH_DIRS):
                for item in dry_run(Path(source), included, shares):
                    started.append(item._replace(namespace=_namespace(namespace,
                                                                      item.namespace)))
            else:
                started.append(Started("include", os.fspath(source), "", None, namespace, [],
                                       [], [included]))
        elif isinstance(entity, TimerAction):  # what it starts after its period
            _visit(entity.kwargs["actions"], context, namespace, started, shares)
        elif isinstance(entity, RegisterEventHandler):
            handler = entity.args[0]
            _visit(handler.kwargs["on_exit"](_Event(0), context) or [], context, namespace,
                   started, shares)
        elif isinstance(entity, Node):
            k = entity.kwargs
            started.append(Started("node", k["package"], k["executable"], k.get("name"),
                                   _namespace(namespace, k.get("namespace")),
                                   list(k.get("parameters", [])), list(k.get("remappings", [])),
                                   list(k.get("arguments", [])) + list(k.get("ros_arguments",
                                                                             []))))
        elif isinstance(entity, ExecuteProcess):
            cmd = entity.kwargs["cmd"]
            started.append(Started("process", "", " ".join(map(str, cmd)), None, namespace,
                                   [], [], list(cmd)))
        elif isinstance(entity, SetEnvironmentVariable):
            started.append(Started("env", "", str(entity.args[0] if entity.args else
                                                  entity.kwargs["name"]), None, namespace, [],
                                   [], [entity.args[1] if len(entity.args) > 1
                                        else entity.kwargs["value"]]))
        elif isinstance(entity, (LaunchDescription,)):
            _visit(entity.args[0], context, namespace, started, shares)
