"""The Nav2 client's state machine (marlgpt_planner.ros.nav_client) against a stand-in action
client: answers come whenever the test says, as they do from a busy server."""
from types import SimpleNamespace

import pytest

from marlgpt_planner.ros import nav_client
from marlgpt_planner.ros.nav_client import ACTIVE, DONE, IDLE, NavigationClient


class Future:
    def __init__(self) -> None:
        self.callbacks, self.value = [], None

    def add_done_callback(self, callback) -> None:
        self.callbacks.append(callback)

    def resolve(self, value) -> None:
        self.value = value
        for callback in self.callbacks:
            callback(self)

    def result(self):
        return self.value


class Handle:
    def __init__(self, accepted: bool = True) -> None:
        self.accepted, self.cancelled, self.result = accepted, 0, Future()

    def cancel_goal_async(self) -> Future:
        self.cancelled += 1
        return Future()

    def get_result_async(self) -> Future:
        return self.result


class ActionClient:
    def __init__(self, node, action_type, name) -> None:
        self.requests = []

    def server_is_ready(self) -> bool:
        return True

    def send_goal_async(self, goal) -> Future:
        self.requests.append(Future())
        return self.requests[-1]


@pytest.fixture
def client(monkeypatch) -> NavigationClient:
    monkeypatch.setattr(nav_client, "ActionClient", ActionClient)
    clock = SimpleNamespace(now=lambda: SimpleNamespace(to_msg=lambda: None))
    node = SimpleNamespace(get_clock=lambda: clock,
                           get_logger=lambda: SimpleNamespace(warning=lambda text: None))
    return NavigationClient(node, "robot1/navigate_to_pose")


def test_a_goal_cancelled_before_the_server_answers_is_cancelled_once_accepted(client) -> None:
    done = []
    client.go(1.0, 2.0, 0.0, 0.0, lambda ok, why: done.append(ok))
    (request,) = client.client.requests
    client.cancel()  # the request is still on its way: nothing to cancel yet, and no error
    assert client.state == IDLE
    handle = Handle()
    request.resolve(handle)
    assert handle.cancelled == 1 and client.state == IDLE and done == []


def test_a_replaced_goal_is_left_to_nav2s_preemption_and_its_result_ignored(client) -> None:
    done = []
    client.go(1.0, 2.0, 0.0, 0.0, lambda ok, why: done.append(("first", ok)))
    client.go(3.0, 2.0, 0.0, 0.1, lambda ok, why: done.append(("second", ok)))
    first, second = client.client.requests
    old, new = Handle(), Handle()
    first.resolve(old)
    second.resolve(new)
    assert old.cancelled == 0 and client.state == ACTIVE
    old.result.resolve(SimpleNamespace(status=6))  # aborted by the preemption: not ours
    assert done == [] and client.state == ACTIVE
    new.result.resolve(SimpleNamespace(status=4))  # succeeded
    assert done == [("second", True)] and client.state == DONE


def test_cancelling_an_accepted_goal_cancels_it_on_the_server(client) -> None:
    client.go(1.0, 2.0, 0.0, 0.0, lambda ok, why: None)
    handle = Handle()
    client.client.requests[0].resolve(handle)
    client.cancel()
    assert handle.cancelled == 1 and client.state == IDLE
