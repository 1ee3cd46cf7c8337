"""``marlgpt info``: the versions of the stack's parts and whether each one imports."""
import argparse
import importlib
import importlib.metadata
import platform
from typing import List, Tuple

from marlgpt_training import envs

#: (import name, what it is for), in the order they are reported; the environments' packages
#: come from their registry entries.
COMPONENTS = (
    ("numpy", "arrays"),
    ("torch", "training"),
    *((env.package[0], env.package[1]) for env in envs.REGISTRY.values()),
    ("onnx", "model export"),
    ("onnxruntime", "model runtime"),
    ("rclpy", "ROS 2 client library"),
    ("marlgpt_planner", "robot runtime"),
    ("marlgpt_msgs.msg", "fleet interfaces (needs the sourced workspace)"),
)


def add_parser(sub: "argparse._SubParsersAction") -> None:
    parser = sub.add_parser(
        "info",
        help="show the versions of the stack's parts",
        description="Import each part of the stack and print its version, or why it failed to "
        "import. Exits non-zero if any part is missing.",
    )
    parser.set_defaults(run=run)


#: Import name -> distribution, for the packages whose version is their distribution's (those
#: with no ``__version__``).
DISTRIBUTIONS = {env.package[0]: env.package[2] for env in envs.REGISTRY.values()}


def _distribution_version(name: str) -> str:
    try:
        return importlib.metadata.version(DISTRIBUTIONS.get(name, name))
    except importlib.metadata.PackageNotFoundError:
        return "ok"


def probe() -> List[Tuple[str, str, str]]:
    """(name, purpose, version or 'MISSING: reason') for each component."""
    rows = []
    for name, purpose in COMPONENTS:
        try:
            module = importlib.import_module(name)
            version = str(getattr(module, "__version__", None) or _distribution_version(name))
        except Exception as exc:  # noqa: BLE001 - any import failure is reported, not raised
            version = f"MISSING: {(str(exc).splitlines() or [type(exc).__name__])[0]}"
        rows.append((name, purpose, version))
    return rows


def run(args: argparse.Namespace) -> int:
    rows = probe()
    print(f"python            {platform.python_version()}")
    for name, purpose, version in rows:
        print(f"{name:<17} {version:<12} ({purpose})")
    return 1 if any(v.startswith("MISSING") for _, _, v in rows) else 0
