"""marlgpt_msgs over real Fast DDS between two processes, on a private ROS_DOMAIN_ID."""
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Dict, Iterator, List

import pytest
import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node

from marlgpt_msgs.msg import Cell, FleetStep, RobotState
from marlgpt_msgs.srv import SetGoal
from tests.conftest import stop

PEER = Path(__file__).with_name("fleet_peer.py")
#: Each wait is for an event (a reply, the peer's service); this only bounds a failure, so it
#: is generous: a peer process that starts rclpy on a loaded machine can take many seconds.
TIMEOUT_S = 60.0


@pytest.fixture
def peer(ros_env: Dict[str, str]) -> Iterator[subprocess.Popen]:
    proc = subprocess.Popen(
        [sys.executable, str(PEER), "--lifetime", "120"], env=ros_env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        yield proc
    finally:
        stop(proc)


@pytest.fixture
def node(ros_domain_id: int) -> Iterator[Node]:
    context = Context()
    rclpy.init(context=context, domain_id=ros_domain_id)
    node = Node("fleet_interfaces_test", context=context)
    try:
        yield node
    finally:
        node.destroy_node()
        context.try_shutdown()


def spin_until(node: Node, done: Callable[[], bool], what: str,
               poll: Callable[[], None] = lambda: None) -> None:
    executor = SingleThreadedExecutor(context=node.context)
    executor.add_node(node)
    deadline = time.monotonic() + TIMEOUT_S
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {TIMEOUT_S:.0f} s waiting for {what}")
        poll()
        executor.spin_once(timeout_sec=0.05)
    executor.remove_node(node)


def call(node: Node, client, request, resend_after: float = 2.0):
    """The service's response to ``request``. A client can see the service before the service
    sees the client's reply reader (DDS discovers each side on its own), and a reply sent then
    is lost; so the request is sent again every ``resend_after`` seconds until one is answered
    (the call is idempotent)."""
    futures: list = []
    sent = [-float("inf")]

    def resend() -> None:
        if time.monotonic() - sent[0] >= resend_after:
            futures.append(client.call_async(request))
            sent[0] = time.monotonic()

    spin_until(node, lambda: any(f.done() for f in futures), "the set_goal response",
               poll=resend)
    return next(f for f in futures if f.done()).result()


def cell(row: int, col: int) -> Cell:
    return Cell(row=row, col=col)


def test_robot_state_round_trip_and_set_goal_service(peer: subprocess.Popen, node: Node) -> None:
    received: List[FleetStep] = []
    node.create_subscription(FleetStep, "fleet/step", received.append, 10)
    publisher = node.create_publisher(RobotState, "fleet/state/robot1", 10)
    client = node.create_client(SetGoal, "set_goal")

    spin_until(node, lambda: client.service_is_ready() or peer.poll() is not None,
               "the peer's set_goal service")
    assert peer.poll() is None, "peer process died:\n" + peer.stdout.read()

    # A service call each way: accepted inside the grid, refused with a reason outside it.
    for goal, accepted in ((cell(3, 4), True), (cell(-1, 4), False)):
        response = call(node, client, SetGoal.Request(robot_id="robot1", goal=goal))
        assert response.accepted is accepted
        assert ("outside" in response.message) is not accepted

    # Several steps of robot state out, resolved fleet step back.
    for step in range(1, 4):
        state = RobotState(robot_id="robot1", step=step, status=RobotState.STATUS_PROPOSING,
                           current_cell=cell(2, step), intended_cell=cell(2, step + 1),
                           goal_cell=cell(3, 4), action=RobotState.ACTION_RIGHT)
        state.header.frame_id = "map"
        state.pose.position.x = 0.3 * step + 0.15
        spin_until(node, lambda s=step: any(m.step == s for m in received),
                   f"FleetStep {step}", poll=lambda s=state: publisher.publish(s))
        reply = next(m for m in received if m.step == step)
        assert reply.header.frame_id == "map"
        assert list(reply.robot_ids) == ["robot1"]
        assert (reply.from_cells[0].row, reply.from_cells[0].col) == (2, step)
        assert (reply.to_cells[0].row, reply.to_cells[0].col) == (2, step + 1)
        assert list(reply.moved) == [True]
