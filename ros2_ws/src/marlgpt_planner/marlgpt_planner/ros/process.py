"""Running a node as a process: init, spin until SIGINT/SIGTERM, clean up, clear errors.

rclpy's own signal handling can interrupt a message being taken, which surfaces as an
unrelated error at shutdown; here the signals only set a flag and the spin loop ends cleanly,
so a node stopped by the fleet runner (or Ctrl-C) always gets to write its outputs. An
exception raised by a callback while spinning does not end the process: ``on_error`` hears
about it (the planner logs it and reports it on /diagnostics) and spinning goes on.
"""
import json
import signal
import sys
from pathlib import Path
from typing import Callable, Optional, Tuple, Type

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.signals import SignalHandlerOptions


def run_node(factory: Callable[[], "rclpy.node.Node"], name: str,
             errors: Tuple[Type[BaseException], ...] = (ValueError,),
             on_exit: Optional[Callable[["rclpy.node.Node"], None]] = None,
             args=None,
             on_error: Optional[Callable[["rclpy.node.Node", Exception], None]] = None
             ) -> None:
    """Create the node with ``factory`` and spin it; ``errors`` raised while creating it are
    printed as ``name: message`` with exit status 2; ``on_error(node, exc)`` hears about an
    exception in a callback (without it, the exception ends the process); ``on_exit(node)``
    runs on the way out."""
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    stop = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.append(True))
    node = None
    try:
        try:
            node = factory()
        except errors as exc:
            print(f"{name}: {exc}", file=sys.stderr, flush=True)
            raise SystemExit(2) from None
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        while not stop and rclpy.ok():
            try:
                executor.spin_once(timeout_sec=0.1)
            except Exception as exc:  # noqa: BLE001  (a callback failed: report, go on)
                if on_error is None or isinstance(exc, ExternalShutdownException):
                    raise
                on_error(node, exc)
    finally:
        if node is not None:
            if on_exit is not None:
                on_exit(node)
            node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()


def write_json(path: str, data: dict) -> None:
    """Write ``data`` as JSON to ``path`` whole: readers never see a half-written file."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    partial.write_text(json.dumps(data))
    partial.replace(target)
